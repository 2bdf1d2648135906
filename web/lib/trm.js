// trm.js: the trm-sdk runtime contract in the browser, on onnxruntime-web.
//
// The same contract trm_sdk/manifest.py describes and trm_sdk/recursion.py, halting.py and views.py
// drive in Python: one supervision step graph (tokens, y, z, first) -> (y_out, z_out, logits, q_halt),
// called once per step, each puzzle halting at the first step where sigmoid(q_halt) exceeds the
// manifest's threshold, or whose answer verifies where the manifest says halting.stop_on_verified, or at
// max_steps; views in waves of 1, 3, 12, 48 until one answer verifies.
// Every shape comes from the manifest, so another exported model runs here unchanged. This module
// knows no task: a task module (sudoku.js) supplies encoding, verification and its symmetry group.
// It imports nothing but views.js; the caller passes onnxruntime-web in, so node can test the pure parts.

import { MAX_VIEWS, applyView, undoLogits, waves } from './views.js';

export { MAX_VIEWS, applyView, undoLogits, waves };
export const FORMAT_VERSION = 1; // trm_sdk.manifest.FORMAT_VERSION: the manifest format read here
// The step graph runs on at most this many rows at once, as the CPU backend's CHUNK_ROWS: the last wave
// of 1,024 views holds 768 rows, whose intermediate tensors at once would crowd wasm's 4 GiB.
export const CHUNK_ROWS = 64;
export const STEP_INPUTS = ['tokens', 'y', 'z', 'first'];
export const STEP_OUTPUTS = ['y_out', 'z_out', 'logits', 'q_halt'];

/** A call cancelled through its AbortSignal (the name DOMException gives it in browsers). */
export class AbortError extends Error {
  constructor(message = 'the solve was cancelled') {
    super(message);
    this.name = 'AbortError';
  }
}

/** A model folder that does not keep the contract: the message says what and where. */
export class ModelError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ModelError';
  }
}

// -- halting (trm_sdk/halting.py) ------------------------------------------------------------------

/** sigmoid(q), written with tanh as Python's halting.probability, so large logits cannot overflow. */
export function probability(q) {
  return 0.5 * (1 + Math.tanh(0.5 * q));
}

/** Whether a puzzle stops after 1-based `step`: Python's halting.halts for one row. */
export function halts(q, threshold, step, maxSteps) {
  return probability(q) > threshold || step >= maxSteps;
}

// -- decoding ---------------------------------------------------------------------------------------

/**
 * (S, V) logits -> per cell the likeliest answer token (as an index into `answer`, a {first, count}
 * range of the vocabulary) and the softmax over those tokens only: a model can never answer pad or
 * blank, as in Python's task decoders.
 */
export function decode(logits, S, V, answer) {
  const index = new Int32Array(S);
  const probs = new Float32Array(S * answer.count);
  for (let i = 0; i < S; i++) {
    const base = i * V + answer.first;
    let best = 0;
    let max = -Infinity;
    for (let k = 0; k < answer.count; k++) {
      if (logits[base + k] > max) {
        max = logits[base + k];
        best = k;
      }
    }
    let sum = 0;
    for (let k = 0; k < answer.count; k++) sum += Math.exp(logits[base + k] - max);
    for (let k = 0; k < answer.count; k++)
      probs[i * answer.count + k] = Math.exp(logits[base + k] - max) / sum;
    index[i] = best;
  }
  return { index, probs };
}

// -- the model ------------------------------------------------------------------------------------------

function shapeOf(manifest, kind, name) {
  const list = manifest.io?.step?.[kind] ?? [];
  const arg = list.find((a) => a.name === name);
  if (!arg) throw new ModelError(`manifest.json: io.step.${kind} has no ${name}`);
  return arg.shape;
}

function dims(manifest) {
  const io = manifest.io?.step;
  if (!io) throw new ModelError('manifest.json has no io.step: re-export the model with this trm-sdk');
  for (const [kind, expected] of /** @type {[string, string[]][]} */ ([
    ['inputs', STEP_INPUTS],
    ['outputs', STEP_OUTPUTS],
  ])) {
    const names = (io[kind] ?? []).map((a) => a.name);
    if (names.join(',') !== expected.join(',')) {
      throw new ModelError(
        `manifest.json: the step graph has ${kind} ${names.join(', ')}; this page needs ${expected.join(', ')}`,
      );
    }
  }
  const [, S] = shapeOf(manifest, 'inputs', 'tokens');
  const [, L, D] = shapeOf(manifest, 'inputs', 'y');
  const [, , V] = shapeOf(manifest, 'outputs', 'logits');
  for (const [what, value] of [
    ['seq_len', S],
    ['positions', L],
    ['hidden', D],
    ['vocab_size', V],
  ]) {
    if (!Number.isInteger(value) || value < 1) {
      throw new ModelError(`manifest.json: the step graph's ${what} is ${value}, not a positive integer`);
    }
  }
  if (manifest.encoding?.seq_len !== S || manifest.encoding?.vocab_size !== V) {
    throw new ModelError(
      `manifest.json: encoding (seq_len ${manifest.encoding?.seq_len}, vocab ${manifest.encoding?.vocab_size}) ` +
        `does not match the step graph (${S}, ${V})`,
    );
  }
  return { S, L, D, V };
}

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new ModelError(`cannot fetch ${url}: HTTP ${response.status}`);
  return response;
}

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
}

// -- SHA-256 (FIPS 180-4), for pages outside a secure context ---------------------------------------------
// Browsers offer crypto.subtle only on https and localhost. Elsewhere the check must not switch itself
// off (a tampered graph would then run and report verified answers), so the page hashes on its own.
// The constants are derived here as the standard defines them (the first 32 bits of the fractional
// parts of the square and cube roots of the first primes), exactly, with integer roots.

function integerRoot(n, k) {
  // floor(n ** (1 / k)) for a BigInt n: Newton's method from above, then an exact correction.
  const K = BigInt(k);
  let x = BigInt(Math.ceil(Number(n) ** (1 / k))) + 2n;
  for (;;) {
    const next = ((K - 1n) * x + n / x ** (K - 1n)) / K;
    if (next >= x) break;
    x = next;
  }
  while (x ** K > n) x -= 1n;
  while ((x + 1n) ** K <= n) x += 1n;
  return x;
}

function firstPrimes(count) {
  const primes = [];
  for (let n = 2; primes.length < count; n++) if (primes.every((p) => n % p)) primes.push(n);
  return primes;
}

const PRIMES = firstPrimes(64);
const MASK32 = (1n << 32n) - 1n;
const SHA256_K = Uint32Array.from(PRIMES, (p) => Number(integerRoot(BigInt(p) << 96n, 3) & MASK32));
const SHA256_H = Uint32Array.from(PRIMES.slice(0, 8), (p) => Number(integerRoot(BigInt(p) << 64n, 2) & MASK32));

const rotr = (x, n) => (x >>> n) | (x << (32 - n));

/** The SHA-256 of `bytes` (a Uint8Array) as 64 lowercase hex digits. */
export function sha256(bytes) {
  const n = bytes.length;
  const padded = new Uint8Array((((n + 8) >> 6) + 1) << 6); // the message, 0x80, zeros, 64-bit length
  padded.set(bytes);
  padded[n] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(n / 0x20000000)); // the length in bits, high word
  view.setUint32(padded.length - 4, (n * 8) >>> 0);
  const H = Uint32Array.from(SHA256_H);
  const W = new Uint32Array(64);
  for (let block = 0; block < padded.length; block += 64) {
    for (let t = 0; t < 16; t++) W[t] = view.getUint32(block + 4 * t);
    for (let t = 16; t < 64; t++) {
      const s0 = rotr(W[t - 15], 7) ^ rotr(W[t - 15], 18) ^ (W[t - 15] >>> 3);
      const s1 = rotr(W[t - 2], 17) ^ rotr(W[t - 2], 19) ^ (W[t - 2] >>> 10);
      W[t] = W[t - 16] + s0 + W[t - 7] + s1;
    }
    let [a, b, c, d, e, f, g, h] = H;
    for (let t = 0; t < 64; t++) {
      const sigma1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      const t1 = (h + sigma1 + ((e & f) ^ (~e & g)) + SHA256_K[t] + W[t]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    H[0] += a;
    H[1] += b;
    H[2] += c;
    H[3] += d;
    H[4] += e;
    H[5] += f;
    H[6] += g;
    H[7] += h;
  }
  const out = new DataView(new ArrayBuffer(32));
  H.forEach((word, i) => out.setUint32(4 * i, word));
  return hex(out.buffer);
}

/** The sha256 of `bytes` and how it was computed: WebCrypto where offered, else the function above. */
export async function digest(bytes) {
  if (globalThis.crypto?.subtle) {
    return { sha256: hex(await crypto.subtle.digest('SHA-256', bytes)), by: 'WebCrypto' };
  }
  return { sha256: sha256(bytes), by: 'the page' };
}

/**
 * Load a model folder (its manifest.json and step graph) into an onnxruntime-web session.
 * The step graph's sha256 is always checked against the manifest, as the Python runtime does: with
 * WebCrypto in secure contexts (https, localhost), with this module's own SHA-256 elsewhere;
 * `model.info.hashedBy` says which.
 */
export async function loadModel(ort, baseUrl, { threads = 1 } = {}) {
  const base = new URL(baseUrl, globalThis.location?.href);
  const manifest = await (await fetchOk(new URL('manifest.json', base))).json();
  if (manifest.format !== FORMAT_VERSION) {
    throw new ModelError(
      `manifest.json has format ${manifest.format}; this page reads format ${FORMAT_VERSION}`,
    );
  }
  const shape = dims(manifest);
  const entry = manifest.files?.step;
  if (!entry) throw new ModelError('manifest.json lists no step graph');
  const bytes = new Uint8Array(await (await fetchOk(new URL(entry.path, base))).arrayBuffer());
  const { sha256: actual, by: hashedBy } = await digest(bytes);
  if (actual !== entry.sha256) {
    throw new ModelError(
      `${entry.path} has sha256 ${actual.slice(0, 12)}…, the manifest expects ${String(entry.sha256).slice(0, 12)}…`,
    );
  }
  ort.env.wasm.numThreads = threads;
  const started = performance.now();
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const sessionMs = performance.now() - started;
  for (const [kind, got, expected] of [
    ['inputs', session.inputNames, STEP_INPUTS],
    ['outputs', session.outputNames, STEP_OUTPUTS],
  ]) {
    if (got.join(',') !== expected.join(',')) {
      throw new ModelError(
        `${entry.path} has ${kind} ${got.join(', ')}; the contract is ${expected.join(', ')}`,
      );
    }
  }
  const model = new Model(ort, session, manifest, shape, { checked: true, hashedBy, sessionMs, threads });
  // The first run of a session is several times slower than the rest (the wasm kernels warm up): one
  // step on a blank puzzle here, while the player looks at the board, keeps it out of the first answer.
  const blank = new Int32Array(shape.S).fill(manifest.encoding.blank ?? 0);
  const warming = performance.now();
  await model.recurse(blank, 1, { maxSteps: 1, threshold: 1 });
  model.info.warmupMs = performance.now() - warming;
  model.timing = { steps: 0, rows: 0, ms: 0 };
  return model;
}

/** One loaded step graph and the defaults its manifest records. */
export class Model {
  constructor(ort, session, manifest, shape, info = {}) {
    this.ort = ort;
    this.session = session;
    this.manifest = manifest;
    this.S = shape.S; // tokens per puzzle
    this.L = shape.L; // state positions
    this.D = shape.D; // hidden size
    this.V = shape.V; // vocabulary
    this.info = info;
    this.threshold = manifest.halting?.threshold ?? 0.5;
    this.maxSteps = manifest.halting?.max_steps ?? manifest.model?.N_sup;
    this.stopOnVerified = manifest.halting?.stop_on_verified ?? false;
    this.views = manifest.inference?.views ?? 1;
    this.timing = { steps: 0, rows: 0, ms: 0 }; // every step run so far: calls, rows, time in run()
  }

  /**
   * Supervision steps for n puzzles ((n * S) tokens) with per-puzzle halting and early exit, as
   * Python's recursion.run: halted rows leave the batch, and `stop(rows, logits)` may end rows for
   * reasons of its own (a verified sibling view); an ended row keeps what it had when it ended.
   * Returns per row its logits (n * S * V), halting logit and halting step.
   */
  async recurse(tokens, n, { maxSteps, threshold, stop = null, onStep = null, cancelled = null, deadline = null }) {
    const { S, L, D, V } = this;
    const { Tensor } = this.ort;
    const LD = L * D;
    const out = { logits: new Float32Array(n * S * V), qHalt: new Float32Array(n), steps: new Int32Array(n) };
    let active = Array.from({ length: n }, (_, i) => i);
    let tok = BigInt64Array.from(tokens, (t) => BigInt(t));
    let y = new Float32Array(n * LD); // ignored where first is true: the graph starts from its own state
    let z = new Float32Array(n * LD);
    let first = new Uint8Array(n).fill(1);
    for (let k = 1; k <= maxSteps; k++) {
      if (cancelled?.()) throw new AbortError();
      const m = active.length;
      const started = performance.now();
      const result = await this.step(Tensor, { tok, y, z, first }, m);
      const ms = performance.now() - started;
      this.timing.steps += 1;
      this.timing.rows += m;
      this.timing.ms += ms;
      const q = result.q_halt.data;
      const logits = result.logits.data;
      // Past the deadline every row ends with what it has, as views._until in Python.
      const late = deadline !== null && performance.now() >= deadline;
      let halt = Array.from(q, (v) => late || halts(v, threshold, k, maxSteps));
      if (stop && !halt.every(Boolean)) {
        const ended = stop(active, logits);
        halt = halt.map((h, i) => h || ended[i]);
      }
      const remaining = [];
      for (let i = 0; i < m; i++) {
        if (halt[i]) {
          const row = active[i];
          out.logits.set(logits.subarray(i * S * V, (i + 1) * S * V), row * S * V);
          out.qHalt[row] = q[i];
          out.steps[row] = k;
        } else {
          remaining.push(i);
        }
      }
      if (onStep) onStep({ step: k, rows: m, halted: m - remaining.length, ms });
      if (!remaining.length) break;
      const shrink = remaining.length < m;
      y = shrink ? gather(result.y_out.data, remaining, LD) : result.y_out.data;
      z = shrink ? gather(result.z_out.data, remaining, LD) : result.z_out.data;
      tok = shrink ? gather(tok, remaining, S) : tok;
      active = remaining.map((i) => active[i]);
      first = new Uint8Array(remaining.length);
    }
    return out;
  }

  /**
   * One supervision step for m rows, run on at most CHUNK_ROWS rows at a time so a wave's working
   * memory stays bounded; the outputs are joined back into m rows, as if run at once.
   */
  async step(Tensor, { tok, y, z, first }, m) {
    const { S, L, D } = this;
    const LD = L * D;
    const run = (lo, hi) =>
      this.session.run({
        tokens: new Tensor('int64', tok.subarray(lo * S, hi * S), [hi - lo, S]),
        y: new Tensor('float32', y.subarray(lo * LD, hi * LD), [hi - lo, L, D]),
        z: new Tensor('float32', z.subarray(lo * LD, hi * LD), [hi - lo, L, D]),
        first: new Tensor('bool', first.subarray(lo, hi), [hi - lo]),
      });
    if (m <= CHUNK_ROWS) return run(0, m);
    const parts = [];
    for (let lo = 0; lo < m; lo += CHUNK_ROWS) parts.push(await run(lo, Math.min(m, lo + CHUNK_ROWS)));
    const joined = {};
    for (const name of STEP_OUTPUTS) {
      const pieces = parts.map((p) => p[name].data);
      const data = new pieces[0].constructor(pieces.reduce((total, piece) => total + piece.length, 0));
      let at = 0;
      for (const piece of pieces) {
        data.set(piece, at);
        at += piece.length;
      }
      joined[name] = { data };
    }
    return joined;
  }

  /**
   * Solve one puzzle ((S) tokens) with verified views, as Python's views.run_views: the puzzle as
   * given, then waves of views drawn by `draw(n)` until one answer verifies; every view of a wave ends
   * at the first step where one of them verifies. With none verified, the view whose halting head was
   * surest is kept. `verify(logits)` judges logits about the puzzle as given. With `stopOnVerified`
   * (default: the manifest's halting.stop_on_verified) the puzzle as given also ends at its first
   * verified step, whatever the halting head says.
   *
   * `timeBudget` (ms, or null) bounds the run as Python's time_budget: every row ends at the first step
   * that finishes past it, and a wave starts only if its first step (one step of the last wave, scaled
   * by rows) is expected to end within it; the first step always runs. `cancelled()` is asked before
   * every step: true throws an AbortError.
   */
  async solve(
    tokens,
    { views, maxSteps, threshold, stopOnVerified, verify, draw, timeBudget = null, cancelled = null, onWave = null, onStep = null },
  ) {
    const { S, V } = this;
    const started = performance.now();
    const deadline = timeBudget === null || timeBudget === undefined ? null : started + timeBudget;
    const options = {
      maxSteps: maxSteps ?? this.maxSteps,
      threshold: threshold ?? this.threshold,
      onStep,
      cancelled,
      deadline,
    };
    const sizes = waves(views ?? this.views);
    const rowLogits = (logits, i) => logits.subarray(i * S * V, (i + 1) * S * V);
    const firstStop = (stopOnVerified ?? this.stopOnVerified)
      ? (rows, logits) => rows.map((r, i) => verify(rowLogits(logits, i)))
      : null;
    const firstRun = await this.recurse(tokens, 1, { ...options, stop: firstStop });
    let stepMs = (performance.now() - started) / Math.max(1, firstRun.steps[0]);
    let stepRows = 1;
    const kept = {
      logits: firstRun.logits,
      qHalt: firstRun.qHalt[0],
      steps: firstRun.steps[0],
      verified: verify(firstRun.logits),
      view: 0,
      viewsRun: 1,
    };
    if (onWave) onWave({ wave: 1, size: 1, viewsRun: 1, verified: kept.verified });
    if (kept.verified || sizes.length === 1) return kept;
    const drawn = draw(sizes.reduce((a, b) => a + b, 0) - 1);
    let done = 1;
    for (const [w, size] of sizes.slice(1).entries()) {
      if (deadline !== null && performance.now() + (stepMs * size) / stepRows > deadline) break;
      const batch = drawn.slice(done - 1, done - 1 + size);
      const viewed = new Int32Array(size * S);
      batch.forEach((view, i) => viewed.set(applyView(tokens, view), i * S));
      const stop = (rows, logits) => {
        const any = rows.some((r, i) => verify(undoLogits(rowLogits(logits, i), batch[r])));
        return rows.map(() => any);
      };
      const waveStarted = performance.now();
      const run = await this.recurse(viewed, size, { ...options, stop });
      stepMs = (performance.now() - waveStarted) / Math.max(1, ...run.steps);
      stepRows = size;
      let pick = -1;
      let hit = false;
      const undone = [];
      for (let i = 0; i < size; i++) {
        undone.push(undoLogits(rowLogits(run.logits, i), batch[i]));
        if (verify(undone[i])) {
          pick = i;
          hit = true;
          break;
        }
      }
      if (!hit) pick = run.qHalt.indexOf(Math.max(...run.qHalt));
      if (hit || run.qHalt[pick] > kept.qHalt) {
        Object.assign(kept, {
          logits: undone[pick],
          qHalt: run.qHalt[pick],
          steps: run.steps[pick],
          verified: hit,
          view: done + pick,
        });
      }
      done += size;
      kept.viewsRun = done;
      if (onWave) onWave({ wave: w + 2, size, viewsRun: done, verified: kept.verified });
      if (kept.verified) break;
    }
    return kept;
  }
}

function gather(data, rows, width) {
  const out = new data.constructor(rows.length * width);
  rows.forEach((r, i) => out.set(data.subarray(r * width, (r + 1) * width), i * width));
  return out;
}
