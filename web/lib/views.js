// @ts-check
// views.js: verified views, as trm_sdk/views.py: the waves, applying a view and undoing it, and the one
// random stream both runtimes draw views from, so a puzzle gets the same views in Python and here.

export const GENERATOR = 'trm-views-1'; // trm_sdk.views.GENERATOR: the specification below
export const MAX_VIEWS = 1024; // trm_sdk.limits.MAX_VIEWS: each view is a whole recursion

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const GOLDEN = 0x9e3779b9;
const TWO32 = 4294967296;

/** lowbias32 (Wellons): a bijection on 32-bit words; views.py's _mix32. */
export function mix32(x) {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * The random stream a puzzle's views are drawn from (trm-views-1, trm_sdk.views.ViewStream):
 * key = word-wise FNV-1a over (seed mod 2^32, floor(seed / 2^32) mod 2^32, ...tokens); draw k (from 1)
 * is mix32(key + k * 0x9e3779b9 mod 2^32). below(n) = (word * n) >> 32, coin = word >> 31, and a
 * permutation is Fisher-Yates from the identity, i from n-1 down to 1 swapping i with below(i + 1).
 */
export class ViewStream {
  /**
   * @param {number} seed a non-negative safe integer
   * @param {ArrayLike<number>} [tokens] the puzzle as given, as tokens
   */
  constructor(seed, tokens = []) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
    }
    let key = FNV_OFFSET;
    const absorb = (/** @type {number} */ word) => {
      key = Math.imul((key ^ word) >>> 0, FNV_PRIME) >>> 0;
    };
    absorb(seed % TWO32);
    absorb(Math.floor(seed / TWO32) % TWO32);
    for (let i = 0; i < tokens.length; i++) absorb(tokens[i] >>> 0);
    this.key = key;
    this.count = 0;
  }

  /** The next 32-bit word. */
  word() {
    this.count += 1;
    return mix32((this.key + Math.imul(this.count, GOLDEN)) >>> 0);
  }

  /** @param {number} n @returns {number} an integer in 0..n-1 */
  below(n) {
    return Math.floor((this.word() * n) / TWO32); // exact: word * n < 2^53
  }

  coin() {
    return this.word() >>> 31 === 1;
  }

  /** @param {number} n @returns {number[]} 0..n-1 shuffled */
  permutation(n) {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.below(i + 1);
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  }
}

/** @typedef {{cells: Int32Array, tokens: Int32Array}} View view cell i shows original cell cells[i] */

/** How many views each wave runs: 1, then 3, 12, 48, ... (3 times the views so far), capped. */
export function waves(/** @type {number} */ views) {
  if (!Number.isInteger(views) || views < 1 || views > MAX_VIEWS) {
    throw new RangeError(`views must be an integer from 1 to ${MAX_VIEWS}, got ${views}`);
  }
  const sizes = [];
  let done = 0;
  while (done < views) {
    const size = Math.min(Math.max(1, 3 * done), views - done);
    sizes.push(size);
    done += size;
  }
  return sizes;
}

/**
 * The tokens a view shows: view cell i shows original cell cells[i], token t shown as tokens[t].
 * @param {ArrayLike<number>} tokens @param {View} view
 */
export function applyView(tokens, view) {
  const out = new Int32Array(view.cells.length);
  for (let i = 0; i < out.length; i++) out[i] = view.tokens[tokens[view.cells[i]]];
  return out;
}

/**
 * A viewed puzzle's (S, V) logits -> the same beliefs about the puzzle as given.
 * @param {Float32Array} logits @param {View} view
 */
export function undoLogits(logits, view) {
  const S = view.cells.length;
  const V = view.tokens.length;
  const out = new Float32Array(S * V);
  for (let i = 0; i < S; i++) {
    const src = i * V;
    const dst = view.cells[i] * V;
    for (let t = 0; t < V; t++) out[dst + t] = logits[src + view.tokens[t]];
  }
  return out;
}
