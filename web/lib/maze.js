// @ts-check
// maze.js: the Maze task in the browser, as trm_sdk/tasks/maze/ is in Python: a 30x30 maze of '#', ' ',
// one 'S' and one 'G' in, the same grid with a shortest route marked 'o' out; the strict verifier (the
// route keeps every wall, S and G, marks only open cells, and is one chain as short as breadth-first
// search says); and the eight symmetries of the square that views draw from.

import { decode } from './trm.js';

export const SIZE = 30;
export const CELLS = SIZE * SIZE;
export const PAD = 0;
export const WALL = 1;
export const OPEN = 2;
export const START = 3;
export const GOAL = 4;
export const PATH = 5;
export const CHARSET = '# SGo'; // code k is CHARSET[k - 1], Maze-Hard's order
const HOW = "use '#' for walls, spaces for open cells, one 'S' (start) and one 'G' (goal)";

/** Input that is not a maze: the message names the cell. */
export class PuzzleError extends Error {
  constructor(/** @type {string} */ message) {
    super(message);
    this.name = 'PuzzleError';
  }
}

const where = (/** @type {number} */ i, width = SIZE) =>
  `row ${Math.floor(i / width) + 1}, column ${(i % width) + 1}`;

/**
 * A maze as text -> 900 cell codes: one line of 900 characters, or lines of equal width up to 30 (a
 * smaller maze sits in the top-left corner, the rest padding). Exactly one S and one G.
 * @param {string} text
 */
export function parse(text) {
  let lines = text.replace(/\r\n?/g, '\n').split('\n');
  while (lines.length && !lines[lines.length - 1]) lines.pop();
  while (lines.length && !lines[0]) lines.shift();
  if (lines.length === 1 && lines[0].length === CELLS) {
    lines = Array.from({ length: SIZE }, (_, r) => lines[0].slice(r * SIZE, (r + 1) * SIZE));
  }
  if (!lines.length) throw new PuzzleError(`an empty maze; ${HOW}`);
  if (lines.length > SIZE) throw new PuzzleError(`a maze has at most ${SIZE} rows, got ${lines.length}`);
  const width = lines[0].length;
  if (width < 1 || width > SIZE) throw new PuzzleError(`a maze has 1 to ${SIZE} columns, got ${width}`);
  const grid = new Int8Array(CELLS); // pad outside the maze
  lines.forEach((line, r) => {
    if (line.length !== width) {
      throw new PuzzleError(`maze row ${r + 1} has ${line.length} characters but row 1 has ${width}`);
    }
    [...line].forEach((ch, c) => {
      const code = CHARSET.indexOf(ch) + 1;
      if (code < WALL || code === PATH) {
        const why = ch === 'o' ? "'o' marks the path in an answer, a maze to solve has none" : `unknown character '${ch}'`;
        throw new PuzzleError(`${why} at ${where(r * width + c, width)}; ${HOW}`);
      }
      grid[r * SIZE + c] = code;
    });
  });
  for (const [code, name] of [
    [START, 'S'],
    [GOAL, 'G'],
  ]) {
    const n = grid.filter((g) => g === code).length;
    if (n !== 1) throw new PuzzleError(`a maze needs exactly one '${name}', found ${n}; ${HOW}`);
  }
  return grid;
}

/** The 900-character one-line form (pad shown as wall). */
export function toString(/** @type {ArrayLike<number>} */ grid) {
  return Array.from(grid, (g) => CHARSET[Math.max(g, WALL) - 1]).join('');
}

const NEIGHBOURS = Array.from({ length: CELLS }, (_, i) => {
  const r = Math.floor(i / SIZE);
  const c = i % SIZE;
  const out = [];
  if (r > 0) out.push(i - SIZE);
  if (r < SIZE - 1) out.push(i + SIZE);
  if (c > 0) out.push(i - 1);
  if (c < SIZE - 1) out.push(i + 1);
  return out;
});

/** Moves from S to G through passable cells by breadth-first search; -1 if G is unreachable. */
export function shortestLength(/** @type {ArrayLike<number>} */ puzzle) {
  const passable = (/** @type {number} */ i) => puzzle[i] >= OPEN;
  const s = Array.prototype.indexOf.call(puzzle, START);
  const dist = new Int32Array(CELLS).fill(-1);
  dist[s] = 0;
  const queue = [s];
  for (let k = 0; k < queue.length; k++) {
    const u = queue[k];
    for (const v of NEIGHBOURS[u]) {
      if (passable(v) && dist[v] < 0) {
        dist[v] = dist[u] + 1;
        queue.push(v);
      }
    }
  }
  return dist[Array.prototype.indexOf.call(puzzle, GOAL)];
}

/**
 * The route an answer marks (cell indices from S to G) if it is a shortest S-to-G path and the answer
 * changes nothing else, else null: Python's codec.solved_path.
 * @param {ArrayLike<number>} answer @param {ArrayLike<number>} puzzle
 */
export function solvedPath(answer, puzzle) {
  const wall = (/** @type {number} */ g) => (g === PAD ? WALL : g);
  let marked = 0;
  for (let i = 0; i < CELLS; i++) {
    const a = wall(answer[i]);
    const p = wall(puzzle[i]);
    if (!(a === p || (p === OPEN && a === PATH))) return null;
    if (a === PATH) marked++;
  }
  const s = Array.prototype.indexOf.call(puzzle, START);
  const g = Array.prototype.indexOf.call(puzzle, GOAL);
  const walk = [s];
  const seen = new Set(walk);
  for (;;) {
    const here = walk[walk.length - 1];
    if (NEIGHBOURS[here].includes(g) && walk.length - 1 === marked) {
      walk.push(g);
      return shortestLength(puzzle) === walk.length - 1 ? walk : null;
    }
    const next = NEIGHBOURS[here].filter((v) => answer[v] === PATH && !seen.has(v));
    if (next.length !== 1) return null;
    walk.push(next[0]);
    seen.add(next[0]);
  }
}

/** numpy's rot90 (k quarter turns counter-clockwise), then a transpose if k >= 4: augment.dihedral. */
export function dihedral(/** @type {ArrayLike<number>} */ grid, /** @type {number} */ k, n = SIZE) {
  let g = Array.from(grid);
  for (let t = 0; t < k % 4; t++) {
    const turned = new Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) turned[i * n + j] = g[j * n + (n - 1 - i)];
    g = turned;
  }
  if (k >= 4) {
    const flipped = new Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) flipped[i * n + j] = g[j * n + i];
    g = flipped;
  }
  return Int32Array.from(g);
}

/** The manifest's token layout for mazes (tokens are the cell codes; pad is read as wall). */
export class Codec {
  constructor(/** @type {any} */ encoding) {
    const { seq_len: S, vocab_size: V, charset } = encoding ?? {};
    if (S !== CELLS || V !== CHARSET.length + 1 || charset !== CHARSET) {
      throw new PuzzleError(`this model's encoding (seq_len ${S}, charset ${charset}) is not a 30x30 maze's`);
    }
    this.S = S;
    this.V = V;
    this.answer = { first: WALL, count: CHARSET.length }; // the five characters compete, never pad
  }

  parse(/** @type {string} */ text) {
    return parse(text);
  }

  encode(/** @type {ArrayLike<number>} */ grid) {
    return Int32Array.from(grid, (g) => (g === PAD ? WALL : g));
  }

  /** (S, V) logits -> 900 codes 1..5 and per cell the probabilities of the five characters. */
  decode(/** @type {Float32Array} */ logits) {
    const { index, probs } = decode(logits, this.S, this.V, this.answer);
    return { digits: Int8Array.from(index, (k) => k + WALL), probs };
  }

  verify(/** @type {Float32Array} */ logits, /** @type {ArrayLike<number>} */ puzzle) {
    return solvedPath(this.decode(logits).digits, puzzle) !== null;
  }

  /**
   * `n` (at most 7) of the eight symmetries of the square other than the identity, in the order
   * 1 + a permutation of 0..6 drawn from the ViewStream: Python's maze augment.random_views.
   * @param {import('./views.js').ViewStream} stream @param {number} n
   */
  drawViews(stream, n) {
    if (!(n >= 0 && n < 8)) throw new RangeError(`a maze has 7 views besides itself, not ${n}`);
    const index = Array.from({ length: CELLS }, (_, i) => i);
    const tokens = Int32Array.from({ length: this.V }, (_, t) => t);
    return stream
      .permutation(7)
      .slice(0, n)
      .map((k) => ({ cells: dihedral(index, k + 1), tokens }));
  }

  format(/** @type {ArrayLike<number>} */ codes) {
    return toString(codes);
  }
}
