// @ts-check
// worker.js: the recursion in a Web Worker, so a page stays responsive while a puzzle solves. index.js
// starts it and speaks this protocol (every message carries the call's id):
//   in:  {type: 'load', modelUrl, ortUrl, threads} | {type: 'solve', puzzle, options} |
//        {type: 'hint', puzzle, board, options} | {type: 'cancel'}
//   out: {type: 'loaded', info} | {type: 'progress', ...} | {type: 'result', result} |
//        {type: 'error', name, message}
// Cancelling marks the call; the recursion asks before every step and stops with an AbortError.

import { loadModel, probability } from './trm.js';
import { ViewStream } from './views.js';

const TASKS = { sudoku: () => import('./sudoku.js'), maze: () => import('./maze.js') };
/** @type {{model: any, task: any, codec: any, cancelled: Set<number>, last: any}} */
const state = { model: null, task: null, codec: null, cancelled: new Set(), last: null };

async function load({ modelUrl, ortUrl, threads }) {
  const ort = await import(ortUrl);
  ort.env.wasm.wasmPaths = new URL('./', ortUrl).href;
  state.model = await loadModel(ort, modelUrl, { threads });
  const name = state.model.manifest.task;
  if (!(name in TASKS)) throw new Error(`the web runtime has no task module for ${name} models`);
  state.task = await TASKS[/** @type {'sudoku' | 'maze'} */ (name)]();
  state.codec = new state.task.Codec(state.model.manifest.encoding);
  const { manifest, maxSteps, views, threshold, stopOnVerified, info } = state.model;
  return { task: name, maxSteps, views, threshold, stopOnVerified, info, model: manifest.model ?? {} };
}

/** Solve `puzzle` (text) with the model; the last run is kept, so a hint after a solve costs nothing. */
async function solve(id, puzzle, options) {
  const { model, codec } = state;
  const { views, seed = 0, maxSteps, timeBudget = null } = options ?? {};
  const grid = codec.parse(puzzle);
  const tokens = codec.encode(grid);
  const key = JSON.stringify([puzzle, views, seed, maxSteps, timeBudget]);
  if (state.last?.key === key) return state.last;
  const stream = new ViewStream(seed, tokens);
  const started = performance.now();
  const before = { ...model.timing };
  const post = (/** @type {object} */ event) => postMessage({ type: 'progress', id, ...event });
  const run = await model.solve(tokens, {
    views,
    maxSteps,
    timeBudget,
    verify: (/** @type {Float32Array} */ logits) => codec.verify(logits, grid),
    draw: (/** @type {number} */ n) => codec.drawViews(stream, n),
    cancelled: () => state.cancelled.has(id),
    onWave: (/** @type {object} */ event) => post({ kind: 'wave', ...event }),
    onStep: (/** @type {object} */ event) => post({ kind: 'step', ...event }),
  });
  const { digits, probs } = codec.decode(run.logits);
  const stepCount = model.timing.steps - before.steps;
  state.last = {
    key,
    grid,
    probs,
    result: {
      answer: codec.format(digits),
      verified: run.verified,
      steps: run.steps,
      viewsRun: run.viewsRun,
      view: run.view,
      confidence: probability(run.qHalt),
      ms: performance.now() - started,
      stepMs: (model.timing.ms - before.ms) / Math.max(1, stepCount),
    },
  };
  return state.last;
}

const handlers = {
  load: (/** @type {any} */ m) => load(m),
  solve: async (/** @type {any} */ m) => (await solve(m.id, m.puzzle, m.options)).result,
  hint: async (/** @type {any} */ m) => {
    if (!state.task.hint) throw new Error(`${state.model.manifest.task} models give no hints here`);
    const run = await solve(m.id, m.puzzle, m.options);
    const board = m.board ? Int8Array.from(m.board) : run.grid;
    const answer = run.result.verified ? state.codec.parse(run.result.answer) : null;
    return state.task.hint(board, run.probs, answer);
  },
};

onmessage = async (event) => {
  const message = event.data;
  if (message.type === 'cancel') {
    state.cancelled.add(message.id);
    return;
  }
  try {
    const handler = handlers[/** @type {'load' | 'solve' | 'hint'} */ (message.type)];
    if (!handler) throw new Error(`unknown message type ${message.type}`);
    const result = await handler(message);
    postMessage({ type: message.type === 'load' ? 'loaded' : 'result', id: message.id, result });
  } catch (error) {
    const e = /** @type {Error} */ (error);
    postMessage({ type: 'error', id: message.id, name: e.name, message: e.message });
  } finally {
    state.cancelled.delete(message.id);
  }
};
