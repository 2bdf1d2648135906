// @ts-check
// index.js: the trm-web library. A game loads a model once and asks it for answers and hints; the
// recursion runs in a Web Worker (worker.js), so the game's frame loop never waits on the network.
//
//   const solver = await TRM.load('model/');
//   const result = await solver.solve(puzzle, { views, seed, maxSteps, timeBudget, signal });
//   solver.addEventListener('progress', (e) => console.log(e.detail)); // per wave and per step
//
// Answers, steps and views counts are those trm_sdk's Solver gives for the same puzzle, seed and views:
// both runtimes draw views from the same specified generator (views.js, trm-views-1).

export { GENERATOR, ViewStream } from './views.js';

/**
 * @typedef {object} SolveOptions
 * @property {number} [views] most views (default: the model's, from its manifest; at most 1,024)
 * @property {number} [seed] which views a puzzle gets (default 0, as in Python)
 * @property {number} [maxSteps] most supervision steps per view (default: the manifest's)
 * @property {number | null} [timeBudget] milliseconds: waves stop starting when they would overrun it
 * @property {AbortSignal} [signal] aborting it rejects the call with an AbortError and stops the worker
 */

/**
 * @typedef {object} Result
 * @property {string} answer the answer as the Python SDK prints it (81 digits; a maze's 900 characters)
 * @property {boolean} verified the answer keeps every rule (a right answer, never a guess)
 * @property {number} steps supervision steps the kept view ran
 * @property {number} viewsRun views run
 * @property {number} view 0-based index of the kept view (0: the puzzle as given)
 * @property {number} confidence sigmoid of the kept view's halting logit
 * @property {number} ms wall time in the worker
 * @property {number} stepMs mean time per step graph call
 */

/** @typedef {{resolve: (value: any) => void, reject: (error: Error) => void, onProgress?: Function}} Call */

/** A model loaded in its own worker. Build it with {@link TRM.load}. */
export class Solver extends EventTarget {
  /** @param {Worker} worker @param {any} info */
  constructor(worker, info) {
    super();
    this.worker = worker;
    /** What the model's manifest says: task, maxSteps, views, threshold, stopOnVerified, model, info. */
    this.info = info;
    this.task = info.task;
    /** @type {Map<number, Call>} */
    this.calls = new Map();
    this.nextId = 1;
    worker.onmessage = (event) => this.receive(event.data);
  }

  /** @param {any} message */
  receive(message) {
    const call = this.calls.get(message.id);
    if (!call) return; // a cancelled call's late news
    if (message.type === 'progress') {
      this.dispatchEvent(new CustomEvent('progress', { detail: message }));
      return;
    }
    this.calls.delete(message.id);
    if (message.type === 'error') {
      const error = new Error(message.message);
      error.name = message.name;
      call.reject(error);
    } else {
      call.resolve(message.result);
    }
  }

  /** @param {object} message @param {AbortSignal} [signal] */
  call(message, signal) {
    if (signal?.aborted) return Promise.reject(abortError());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      signal?.addEventListener(
        'abort',
        () => {
          if (!this.calls.delete(id)) return;
          this.worker.postMessage({ type: 'cancel', id });
          reject(abortError());
        },
        { once: true },
      );
      this.worker.postMessage({ ...message, id });
    });
  }

  /**
   * Solve a puzzle given as text (Sudoku: 81 characters, '.' or 0 for blanks; a maze: 900 characters).
   * @param {string} puzzle @param {SolveOptions} [options] @returns {Promise<Result>}
   */
  solve(puzzle, options = {}) {
    const { signal, ...rest } = options;
    return this.call({ type: 'solve', puzzle, options: checked(rest) }, signal);
  }

  /**
   * The next cell to reveal on `board` (the puzzle with the player's entries, one code per cell, 0 for
   * blank; default: the puzzle): {cell, digit, confidence, verified}. Sudoku only. Runs the puzzle once;
   * a hint after a solve with the same options reuses its run.
   * @param {string} puzzle @param {ArrayLike<number> | null} [board] @param {SolveOptions} [options]
   */
  hint(puzzle, board = null, options = {}) {
    const { signal, ...rest } = options;
    return this.call({ type: 'hint', puzzle, board: board && Array.from(board), options: checked(rest) }, signal);
  }

  /** Stop the worker; every pending call is rejected. */
  terminate() {
    this.worker.terminate();
    for (const call of this.calls.values()) call.reject(new Error('the solver was terminated'));
    this.calls.clear();
  }
}

function abortError() {
  const error = new Error('the solve was cancelled');
  error.name = 'AbortError';
  return error;
}

/** @param {Omit<SolveOptions, 'signal'>} options */
function checked(options) {
  for (const [name, min] of /** @type {[keyof SolveOptions, number][]} */ ([
    ['views', 1],
    ['seed', 0],
    ['maxSteps', 1],
    ['timeBudget', 0],
  ])) {
    const value = options[name];
    if (value === undefined || (name === 'timeBudget' && value === null)) continue;
    const ok = name === 'timeBudget' ? typeof value === 'number' && value >= min : Number.isSafeInteger(value) && Number(value) >= min;
    if (!ok) throw new RangeError(`${name} must be ${name === 'timeBudget' ? 'a number of ms' : 'an integer'} of at least ${min}, got ${value}`);
  }
  return options;
}

export const TRM = {
  /**
   * Load a model folder (manifest.json and its step graph, as trm-export --format web writes it)
   * into a new worker. `ort` is where onnxruntime-web's ort.wasm.min.mjs is served (default: ort/ beside
   * this library's folder, as the web build lays it out).
   * @param {string | URL} modelUrl
   * @param {{ort?: string | URL, threads?: number}} [options]
   * @returns {Promise<Solver>}
   */
  async load(modelUrl, { ort = new URL('../ort/ort.wasm.min.mjs', import.meta.url), threads = 1 } = {}) {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    const base = globalThis.location?.href;
    const message = {
      type: 'load',
      id: 0,
      modelUrl: new URL(modelUrl, base).href,
      ortUrl: new URL(ort, base).href,
      threads,
    };
    const info = await new Promise((resolve, reject) => {
      worker.onmessage = (event) => {
        if (event.data.type === 'loaded') resolve(event.data.result);
        else if (event.data.type === 'error') {
          const error = new Error(event.data.message);
          error.name = event.data.name;
          reject(error);
        }
      };
      worker.onerror = (event) => reject(new Error(`the TRM worker failed to start: ${event.message}`));
      worker.postMessage(message);
    }).catch((error) => {
      worker.terminate();
      throw error;
    });
    return new Solver(worker, info);
  },
};
