// app.js (web/maze-app.js): the Maze page, on the trm-web library (lib/). It draws the maze and, once
// the network has answered in the library's worker, the route it found.
//
// URL parameters: maze=<900 characters> (rows of 30: '#' wall, ' ' open, one 'S' and one 'G'; spaces as
// %20 or +) shows that maze; autosolve=1 solves it on load; views=N and seed=S as on the Sudoku page.

import { TRM } from './lib/index.js';
import * as maze from './lib/maze.js';

const $ = (id) => /** @type {any} */ (document.getElementById(id));
const params = new URLSearchParams(location.search);
const COLOURS = { [maze.WALL]: '#333', [maze.OPEN]: '#fff', [maze.START]: '#2a7', [maze.GOAL]: '#c33', [maze.PATH]: '#f90' };
const page = { solver: null, grid: null, text: '', abort: null, views: undefined, seed: 0 };

function setState(state, message) {
  document.body.dataset.state = state;
  if (message !== undefined) $('status').textContent = message;
  $('solve').disabled = state === 'loading' || state === 'working' || !page.grid;
  $('cancel').disabled = state !== 'working';
}

function draw(cells) {
  const canvas = $('maze');
  const ctx = canvas.getContext('2d');
  const side = canvas.width / maze.SIZE;
  for (let i = 0; i < maze.CELLS; i++) {
    ctx.fillStyle = COLOURS[Math.max(cells[i], maze.WALL)];
    ctx.fillRect((i % maze.SIZE) * side, Math.floor(i / maze.SIZE) * side, side, side);
  }
}

function show(text) {
  page.grid = maze.parse(text);
  page.text = maze.toString(page.grid);
  $('answer').textContent = '';
  for (const key of ['steps', 'views']) delete document.body.dataset[key];
  draw(page.grid);
  setState('ready', `A maze of ${page.grid.filter((g) => g === maze.OPEN).length} open cells.`);
}

async function solve() {
  page.abort = new AbortController();
  setState('working', 'The network is looking for the route…');
  const result = await page.solver.solve(page.text, { views: page.views, seed: page.seed, signal: page.abort.signal });
  draw(Array.from(result.answer, (ch) => maze.CHARSET.indexOf(ch) + 1));
  $('answer').textContent = result.answer;
  $('steps').textContent = String(result.steps);
  $('views').textContent = String(result.viewsRun);
  $('time').textContent = `${(result.ms / 1000).toFixed(2)} s`;
  Object.assign(document.body.dataset, { steps: String(result.steps), views: String(result.viewsRun) });
  const how = `${result.steps} step(s), ${result.viewsRun} view(s)`;
  setState(
    result.verified ? 'solved' : 'unsolved',
    result.verified ? `A shortest route, verified, in ${how}.` : `No verified route (${how}): the best guess is shown.`,
  );
}

function fail(error) {
  if (['PuzzleError', 'AbortError'].includes(error.name)) return setState('ready', error.message);
  console.error(error);
  return setState('error', `Error: ${error.message}`);
}

async function main() {
  const listed = await (await fetch('puzzles.json')).json();
  const fromLink = params.get('maze');
  const entries = [...(fromLink ? [{ name: 'from the link', puzzle: fromLink }] : []), ...listed.puzzles];
  for (const entry of entries) $('puzzles').append(new Option(entry.name, entry.puzzle));
  $('puzzles').addEventListener('change', () => {
    try {
      show($('puzzles').value);
    } catch (error) {
      fail(error);
    }
  });
  $('solve').addEventListener('click', () => solve().catch(fail));
  $('cancel').addEventListener('click', () => page.abort?.abort());
  if (params.get('views') !== null) page.views = Number(params.get('views'));
  if (params.get('seed') !== null) page.seed = Number(params.get('seed'));
  page.solver = await TRM.load(new URL('model/', location.href));
  const { maxSteps, views } = page.solver.info;
  $('about').textContent = `maze model: up to ${maxSteps} steps and ${page.views ?? views} views, in a Web Worker.`;
  let ticks = 0;
  document.body.dataset.ticks = '0'; // readable at once: a solve may start before the first tick
  setInterval(() => (document.body.dataset.ticks = String(++ticks)), 50);
  show($('puzzles').value);
  if (params.get('autosolve') === '1') await solve();
}

window.addEventListener('unhandledrejection', (event) => fail(event.reason));
main().catch(fail);
