// app.js (web/sudoku-app.js): the playable Sudoku page, on the trm-web library (lib/). The network runs
// in the library's worker only when asked (Check, Hint, Solve) and once per puzzle: its verified
// answer, or its surest guess, serves every later question about that puzzle. A clock ticks on the
// page while it thinks (the page stays responsive; a test reads data-ticks).
//
// URL parameters: puzzle=<81 characters> plays that puzzle; autosolve=1 solves it on load; views=N
// caps the views (default: the model's, from its manifest; at most 1,024, as in Python); seed=S picks
// which views; budget=MS is a time budget per solve.

import { TRM } from './lib/index.js';
import { MAX_VIEWS } from './lib/views.js';
import * as sudoku from './lib/sudoku.js';

const $ = (id) => /** @type {any} */ (document.getElementById(id));
const params = new URLSearchParams(location.search);
const game = {
  solver: null,
  budget: null,
  puzzle: null, // Int8Array(81), the givens
  board: null, // Int8Array(81), givens and the player's entries
  marks: new Array(sudoku.CELLS).fill(''), // per cell: '', 'solved', 'hinted', 'right' or 'wrong'
  result: null, // the network's run on this puzzle, kept until another puzzle is loaded
  views: null,
  seed: 0,
  abort: null, // the AbortController of the solve under way
};
const inputs = [];

function setState(state, message) {
  document.body.dataset.state = state;
  if (message !== undefined) $('status').textContent = message;
  const busy = state === 'loading' || state === 'working' || state === 'error';
  for (const id of ['check', 'hint', 'solve', 'clear']) $(id).disabled = busy || !game.puzzle;
  $('cancel').disabled = state !== 'working';
}

function integerParam(name, fallback, min, max = Number.MAX_SAFE_INTEGER) {
  const raw = params.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new sudoku.PuzzleError(`${name}=${raw}: expected an integer ${range}`);
  }
  return value;
}

function buildBoard() {
  for (let i = 0; i < sudoku.CELLS; i++) {
    const cell = document.createElement('input');
    const row = Math.floor(i / sudoku.SIZE);
    const col = i % sudoku.SIZE;
    cell.inputMode = 'numeric';
    cell.autocomplete = 'off';
    cell.maxLength = 2;
    cell.setAttribute('aria-label', sudoku.cellName(i));
    cell.dataset.cell = String(i);
    if (col % 3 === 2) cell.classList.add('box-right');
    if (row % 3 === 2) cell.classList.add('box-bottom');
    cell.addEventListener('input', () => {
      const digit = cell.value.replace(/[^1-9]/g, '').slice(-1);
      game.board[i] = digit ? Number(digit) : 0;
      game.marks[i] = '';
      render();
    });
    cell.addEventListener('keydown', (event) => moveFocus(event, i));
    inputs.push(cell);
    $('board').append(cell);
  }
}

function moveFocus(event, i) {
  const step = { ArrowUp: -9, ArrowDown: 9, ArrowLeft: -1, ArrowRight: 1 }[event.key];
  if (step === undefined) return;
  const next = i + step;
  if (next >= 0 && next < sudoku.CELLS) inputs[next].focus();
  event.preventDefault();
}

function render() {
  inputs.forEach((cell, i) => {
    const given = game.puzzle[i] !== 0;
    cell.value = game.board[i] ? String(game.board[i]) : '';
    cell.readOnly = given;
    cell.className = [
      given ? 'given' : game.marks[i],
      (i % sudoku.SIZE) % 3 === 2 ? 'box-right' : '',
      Math.floor(i / sudoku.SIZE) % 3 === 2 ? 'box-bottom' : '',
    ]
      .filter(Boolean)
      .join(' ');
  });
}

/** How the model stops, in words: its halting head's threshold, its verifier, or both. */
function haltingRule({ threshold, stopOnVerified }) {
  const head = threshold < 1 ? `halts above ${threshold}` : '';
  const verified = stopOnVerified ? 'stops when its answer verifies' : '';
  return [head, verified].filter(Boolean).join(' or ') || 'runs every step';
}

function showStats(result) {
  const stats = {
    steps: [String(result.steps), `of ${game.solver.info.maxSteps} at most`],
    confidence: [result.confidence.toFixed(3), haltingRule(game.solver.info)],
    views: [String(result.viewsRun), `of ${game.views} at most`],
    time: [`${(result.ms / 1000).toFixed(2)} s`, `${result.stepMs.toFixed(1)} ms per step`],
  };
  for (const [id, [value, detail]] of Object.entries(stats)) {
    const small = document.createElement('small');
    small.textContent = detail;
    $(id).replaceChildren(value, small);
  }
  Object.assign(document.body.dataset, {
    steps: String(result.steps),
    views: String(result.viewsRun),
    confidence: String(result.confidence),
    stepMs: result.stepMs.toFixed(3),
  });
}

function loadPuzzle(text) {
  game.puzzle = sudoku.parse(text);
  game.board = Int8Array.from(game.puzzle);
  game.marks.fill('');
  game.result = null;
  $('answer').textContent = '';
  for (const id of ['steps', 'confidence', 'views', 'time']) $(id).textContent = '–';
  for (const key of ['steps', 'views', 'confidence', 'stepMs', 'hint']) delete document.body.dataset[key];
  render();
  const blanks = game.puzzle.filter((d) => d === 0).length;
  setState(
    'ready',
    `${blanks} cells to fill. Type digits, then check them, ask for a hint, or let the network solve it.`,
  );
}

function options(extra = {}) {
  const abort = new AbortController();
  game.abort = abort;
  return { views: game.views, seed: game.seed, timeBudget: game.budget, signal: abort.signal, ...extra };
}

/** The network's answer for the current puzzle: run once in the worker, with views, then kept. */
async function network() {
  if (game.result) return game.result;
  setState('working', 'The network is thinking…');
  const run = await game.solver.solve(sudoku.toString(game.puzzle), options());
  game.result = { ...run, digits: Int8Array.from(run.answer, Number) };
  showStats(game.result);
  return game.result;
}

async function solve() {
  const result = await network();
  for (let i = 0; i < sudoku.CELLS; i++) {
    if (game.puzzle[i]) continue;
    const mine = game.board[i]; // the player's entry, replaced by the answer and marked if it differs
    game.board[i] = result.digits[i];
    game.marks[i] = !mine || !result.verified ? 'solved' : mine === result.digits[i] ? 'right' : 'wrong';
  }
  render();
  $('answer').textContent = Array.from(result.digits).join('');
  const how = `${result.steps} step(s), confidence ${result.confidence.toFixed(3)}, ${result.viewsRun} view(s)`;
  if (result.verified) {
    setState('solved', `Solved and verified by the rules in ${how}.`);
  } else {
    setState(
      'unsolved',
      `The network's answer breaks a rule (${how}): this puzzle is beyond it. Its best guess is shown.`,
    );
  }
}

async function hint() {
  const result = await network();
  const h = await game.solver.hint(sudoku.toString(game.puzzle), game.board, options());
  game.board[h.cell] = h.digit;
  game.marks[h.cell] = 'hinted';
  render();
  document.body.dataset.hint = `${h.cell}:${h.digit}:${h.confidence}`;
  const sure = `${(100 * h.confidence).toFixed(1)}% sure`;
  const from = result.verified
    ? 'from its verified answer'
    : 'its answer did not verify, so this is a guess that breaks no rule';
  setState('ready', `Hint: ${sudoku.cellName(h.cell)} is ${h.digit} (the network is ${sure}; ${from}).`);
}

async function check() {
  const result = await network();
  const entered = [];
  for (let i = 0; i < sudoku.CELLS; i++) if (!game.puzzle[i] && game.board[i]) entered.push(i);
  if (!entered.length) {
    setState('ready', 'Nothing to check yet: type some digits first.');
    return;
  }
  if (result.verified) {
    let wrong = 0;
    for (const i of entered) {
      const ok = game.board[i] === result.digits[i];
      game.marks[i] = ok ? 'right' : 'wrong';
      wrong += ok ? 0 : 1;
    }
    render();
    setState(
      'ready',
      wrong
        ? `${wrong} of ${entered.length} entries are wrong (red).`
        : `All ${entered.length} entries are right.`,
    );
    return;
  }
  const clashes = sudoku.conflicts(game.board);
  setState(
    'ready',
    clashes.length
      ? `The network found no verified answer, so only the rules were checked: ${clashes[0]}.`
      : 'The network found no verified answer; your entries break no rule so far.',
  );
}

function guarded(action) {
  // A puzzle problem (say, a hint with no empty cell left) is news for the player, not a page error.
  const told = (error) =>
    ['PuzzleError', 'AbortError'].includes(error.name) ? setState('ready', error.message) : fail(error);
  return () => action().catch(told);
}

function fail(error) {
  console.error(error);
  setState('error', `${error.name === 'PuzzleError' ? '' : 'Error: '}${error.message}`);
}

async function main() {
  buildBoard();
  game.seed = integerParam('seed', 0, 0);
  const listed = await (await fetch('puzzles.json')).json();
  const select = $('puzzles');
  const fromLink = params.get('puzzle');
  const entries = [...(fromLink ? [{ name: 'from the link', puzzle: fromLink }] : []), ...listed.puzzles];
  for (const entry of entries) select.append(new Option(entry.name, entry.puzzle));
  select.addEventListener('change', () => {
    try {
      loadPuzzle(select.value);
    } catch (error) {
      fail(error);
    }
  });
  $('load').addEventListener('click', () => {
    try {
      loadPuzzle($('paste').value);
      select.append(new Option(`pasted ${select.length + 1}`, sudoku.toString(game.puzzle)));
      select.selectedIndex = select.length - 1;
    } catch (error) {
      if (error.name !== 'PuzzleError') throw error;
      $('status').textContent = error.message; // a typo is not an error of the page: play goes on
    }
  });
  $('solve').addEventListener('click', guarded(solve));
  $('cancel').addEventListener('click', () => game.abort?.abort());
  $('hint').addEventListener('click', guarded(hint));
  $('check').addEventListener('click', guarded(check));
  $('clear').addEventListener('click', () => {
    game.board = Int8Array.from(game.puzzle);
    game.marks.fill('');
    render();
    setState('ready', 'Cleared your entries.');
  });

  game.budget = params.get('budget') === null ? null : integerParam('budget', 0, 1);
  game.solver = await TRM.load(new URL('model/', location.href));
  game.solver.addEventListener('progress', (event) => {
    const { kind, step, rows, viewsRun } = /** @type {CustomEvent} */ (event).detail;
    if (kind === 'wave') document.body.dataset.wave = String(viewsRun);
    else $('status').textContent = `The network is thinking: step ${step} (${rows} view(s) running)…`;
  });
  game.views = integerParam('views', Math.min(game.solver.info.views, MAX_VIEWS), 1, MAX_VIEWS);
  const { info, model, maxSteps } = game.solver.info;
  $('about').textContent = [
    `sudoku model: hidden ${model.hidden}, up to ${maxSteps} steps; it ${haltingRule(game.solver.info)};`,
    `up to ${game.views} views, in a Web Worker. onnxruntime-web (wasm, ${info.threads} thread): session`,
    `created in ${info.sessionMs.toFixed(0)} ms, warmed up in ${info.warmupMs.toFixed(0)} ms; the step`,
    `graph's sha256 checked by ${info.hashedBy}.`,
  ].join(' ');
  startClock();
  loadPuzzle(select.value);
  if (params.get('autosolve') === '1') await guarded(solve)();
}

/** A clock on the page, ticking every 50 ms: it keeps ticking while the worker thinks. */
function startClock() {
  let ticks = 0;
  document.body.dataset.ticks = '0'; // readable at once: a solve may start before the first tick
  setInterval(() => {
    ticks += 1;
    document.body.dataset.ticks = String(ticks);
  }, 50);
}

window.addEventListener('unhandledrejection', (event) => fail(event.reason));
main().catch(fail);
