// sudoku.js: the Sudoku task in the browser, as trm_sdk/tasks/sudoku/ is in Python: what a player may
// paste, tokens in and digits out (from the manifest's encoding), the rules an answer must keep, the
// hint, and the symmetry group that views draw from.

import { decode } from './trm.js';

export const SIZE = 9;
export const CELLS = 81;

/** Input a player typed or pasted that is not a Sudoku: the message names the cell. */
export class PuzzleError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PuzzleError';
  }
}

/** 1-based rRcC, the way every message of the SDK names a cell. */
export function cellName(i) {
  return `r${Math.floor(i / SIZE) + 1}c${(i % SIZE) + 1}`;
}

function units() {
  /** @type {[string, number[]][]} */
  const out = [];
  for (let k = 0; k < SIZE; k++) {
    out.push([`row ${k + 1}`, Array.from({ length: SIZE }, (_, c) => k * SIZE + c)]);
  }
  for (let k = 0; k < SIZE; k++) {
    out.push([`column ${k + 1}`, Array.from({ length: SIZE }, (_, r) => r * SIZE + k)]);
  }
  for (let k = 0; k < SIZE; k++) {
    const r0 = 3 * Math.floor(k / 3);
    const c0 = 3 * (k % 3);
    out.push([
      `box ${k + 1}`,
      Array.from({ length: SIZE }, (_, i) => (r0 + Math.floor(i / 3)) * SIZE + c0 + (i % 3)),
    ]);
  }
  return out;
}

export const UNITS = units(); // [name, 9 cell indices] for the 27 rows, columns and boxes

/** Every digit that appears twice in a unit, one readable line each (Python's codec.conflicts). */
export function conflicts(grid) {
  const found = [];
  for (const [name, cells] of UNITS) {
    const seen = new Map();
    for (const i of cells) {
      if (grid[i]) seen.set(grid[i], [...(seen.get(grid[i]) ?? []), i]);
    }
    for (const [digit, where] of [...seen].sort((a, b) => a[0] - b[0])) {
      if (where.length < 2) continue;
      const times = where.length === 2 ? 'twice' : `${where.length} times`;
      const names = where.map(cellName);
      found.push(
        `digit ${digit} appears ${times} in ${name}: ${names.slice(0, -1).join(', ')} and ${names.at(-1)}`,
      );
    }
  }
  return found;
}

/**
 * A puzzle string -> 81 digits, 0 for blanks: 1-9 for givens, '.' or '0' for blanks, whitespace
 * ignored, and in a pasted grid of several lines the box rules | + - too; givens that clash are refused.
 */
export function parse(text) {
  const multiline = /[\r\n]/.test(text);
  const cleaned = [...text].filter((ch) => !/\s/.test(ch) && !(multiline && '|+-'.includes(ch)));
  if (cleaned.length !== CELLS) {
    throw new PuzzleError(
      `a Sudoku needs ${CELLS} cells, found ${cleaned.length} characters; use 1-9 for givens and . or 0 for blanks`,
    );
  }
  const grid = new Int8Array(CELLS);
  cleaned.forEach((ch, i) => {
    if (ch === '.') return;
    if (!/^[0-9]$/.test(ch))
      throw new PuzzleError(
        `bad character '${ch}' at position ${i + 1} (${cellName(i)}); use 1-9 for givens and . or 0 for blanks`,
      );
    grid[i] = Number(ch);
  });
  const found = conflicts(grid);
  if (found.length)
    throw new PuzzleError(`the givens contradict each other: ${found.slice(0, 3).join('; ')}`);
  return grid;
}

/** The 81-character form, '.' for blanks. */
export function toString(grid) {
  return Array.from(grid, (d) => (d ? String(d) : '.')).join('');
}

/** A complete grid that keeps every rule and every given of `puzzle`. */
export function isSolution(grid, puzzle) {
  for (let i = 0; i < CELLS; i++) {
    if (!(grid[i] >= 1 && grid[i] <= SIZE) || (puzzle[i] && puzzle[i] !== grid[i])) return false;
  }
  return UNITS.every(([, cells]) => new Set(cells.map((i) => grid[i])).size === SIZE);
}

/** allowed[i * 9 + d - 1]: digit d clashes with nothing in the row, column or box of empty cell i. */
export function candidates(board) {
  const allowed = new Uint8Array(CELLS * SIZE);
  for (let i = 0; i < CELLS; i++) {
    if (board[i]) continue;
    const taken = new Set();
    for (const [, cells] of UNITS) if (cells.includes(i)) for (const j of cells) taken.add(board[j]);
    for (let d = 1; d <= SIZE; d++) allowed[i * SIZE + d - 1] = taken.has(d) ? 0 : 1;
  }
  return allowed;
}

/**
 * The next cell to reveal on `board`: the empty cell the network is surest of. With a verified answer
 * the digit is that answer's (verified: true); without one, the network's likeliest digit among those
 * that clash with nothing on the board. Python's assist.hint, less its uniqueness proof.
 */
export function hint(board, probs, answer) {
  let best = null;
  for (let i = 0; i < CELLS; i++) {
    if (board[i]) continue;
    if (answer) {
      const p = probs[i * SIZE + answer[i] - 1];
      if (!best || p > best.confidence) best = { cell: i, digit: answer[i], confidence: p, verified: true };
    }
  }
  if (answer) {
    if (!best) throw new PuzzleError('the puzzle has no empty cell left to hint');
    return best;
  }
  const allowed = candidates(board);
  for (let k = 0; k < CELLS * SIZE; k++) {
    if (allowed[k] && (!best || probs[k] > best.confidence)) {
      best = { cell: Math.floor(k / SIZE), digit: (k % SIZE) + 1, confidence: probs[k], verified: false };
    }
  }
  if (!best) throw new PuzzleError('no digit fits any empty cell: the board has no solution');
  return best;
}

/** A line order that keeps Sudoku valid: the band order, then the rows inside each band (augment.py). */
function streamLines(stream) {
  return stream.permutation(3).flatMap((band) => stream.permutation(3).map((i) => 3 * band + i));
}

/** The manifest's token layout for Sudoku, with the operations that depend on it. */
export class Codec {
  constructor(encoding) {
    const { seq_len: S, vocab_size: V, pad, blank, digit_offset: offset } = encoding ?? {};
    if (S !== CELLS)
      throw new PuzzleError(`this model's encoding has seq_len ${S}; a Sudoku has ${CELLS} cells`);
    if (!(V >= offset + SIZE + 1) || [pad, blank].some((t) => t > offset)) {
      throw new PuzzleError(
        `this model's encoding (vocab ${V}, digit offset ${offset}) cannot hold digits 1-9`,
      );
    }
    this.S = S;
    this.V = V;
    this.pad = pad;
    this.blank = blank;
    this.offset = offset;
    this.answer = { first: 1 + offset, count: SIZE }; // the tokens of digits 1..9
  }

  parse(text) {
    return parse(text);
  }

  encode(grid) {
    return Int32Array.from(grid, (d) => (d ? d + this.offset : this.blank));
  }

  /** (S, V) logits -> digits 1..9 and per cell the probabilities of the nine digits. */
  decode(logits) {
    const { index, probs } = decode(logits, this.S, this.V, this.answer);
    return { digits: Int8Array.from(index, (k) => k + 1), probs };
  }

  verify(logits, puzzle) {
    return isSolution(this.decode(logits).digits, puzzle);
  }

  /**
   * `n` distinct random symmetries, none the identity, drawn from a ViewStream exactly as Python's
   * augment.random_views draws them: the row order, the column order, a transposition coin, then a
   * permutation of the nine digits; as a cell permutation and a token relabelling that keeps pad and blank.
   */
  drawViews(stream, n) {
    const identity = (k) => Array.from({ length: k }, (_, i) => i);
    const seen = new Set([`${identity(CELLS)}|${identity(this.V)}`]);
    const views = [];
    while (views.length < n) {
      const rows = streamLines(stream);
      const cols = streamLines(stream);
      const flip = stream.coin();
      const cells = new Int32Array(CELLS);
      for (let i = 0; i < SIZE; i++) {
        for (let j = 0; j < SIZE; j++)
          cells[i * SIZE + j] = flip ? rows[j] * SIZE + cols[i] : rows[i] * SIZE + cols[j];
      }
      const tokens = Int32Array.from(identity(this.V));
      stream.permutation(SIZE).forEach((d, k) => {
        tokens[this.answer.first + k] = this.answer.first + d;
      });
      const key = `${cells}|${tokens}`;
      if (!seen.has(key)) {
        seen.add(key);
        views.push({ cells, tokens });
      }
    }
    return views;
  }

  /** The answer as the 81-character text the Python SDK prints. */
  format(digits) {
    return Array.from(digits).join('');
  }
}
