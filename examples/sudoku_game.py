"""A playable terminal Sudoku: the SDK makes the puzzle, gives hints, checks your entries and rates it.

    python examples/sudoku_game.py                 # a fresh easy puzzle
    python examples/sudoku_game.py --level hard --seed 7
    printf 'hint\\ncheck\\nquit\\n' | python examples/sudoku_game.py    # scripted, as the tests do

Commands: ``R C D`` puts digit D in row R, column C (1-based; D = 0 clears), ``hint``, ``check``,
``rate``, ``solve``, ``new [level]``, ``help``, ``quit``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from trm_sdk import InvalidPuzzleError, Solver
from trm_sdk.tasks.sudoku import codec, generate

HELP = """commands:
  R C D        put digit D at row R, column C (all 1-9; D = 0 clears your entry), e.g. 3 5 7
  hint         reveal the cell the solver is surest of
  check        list the cells you filled that are wrong
  rate         how hard the solver finds this puzzle
  solve        give up and show the solution
  new [LEVEL]  a fresh puzzle (easy, medium, hard, minimal)
  help, quit"""


class Game:
    def __init__(self, solver: Solver, level: str, rng: np.random.Generator) -> None:
        self.solver, self.rng = solver, rng
        self.new(level)

    def new(self, level: str) -> None:
        self.givens, _ = generate.make_level(self.rng, level)
        self.board = self.givens.copy()
        # fallback="search" makes this answer exact, so checks and hints are never wrong
        self.solution = self.solver.solve(self.givens).grid
        self.level = level
        print(f"new {level} puzzle, {int((self.givens == 0).sum())} cells to fill")
        self.show()

    def show(self) -> None:
        print(codec.format_grid(self.board).replace("0", "."))

    def wrong_cells(self) -> list[tuple[int, int]]:
        mine = (self.givens == 0) & (self.board != 0)
        return [(int(r), int(c)) for r, c in np.argwhere(mine & (self.board != self.solution))]

    def place(self, r: int, c: int, d: int) -> None:
        if not (1 <= r <= 9 and 1 <= c <= 9 and 0 <= d <= 9):
            print("rows and columns are 1-9, digits 0-9 (0 clears)")
            return
        if self.givens[r - 1, c - 1]:
            print(f"row {r}, column {c} is a given; it cannot change")
            return
        self.board[r - 1, c - 1] = d
        clash = codec.conflicts(self.board)
        if clash:
            print("that breaks a rule: " + "; ".join(clash[:2]))
        self.show()
        self.maybe_done()

    def hint(self) -> None:
        wrong = self.wrong_cells()
        if wrong:
            r, c = wrong[0]
            print(f"first fix row {r + 1}, column {c + 1}: it is not right")
            return
        try:
            h = self.solver.hint(self.board)
        except InvalidPuzzleError as exc:
            print(exc)
            return
        self.board[h.row, h.col] = h.digit
        print(f"hint: row {h.row + 1}, column {h.col + 1} is {h.digit} (confidence {h.confidence:.2f})")
        self.show()
        self.maybe_done()

    def check(self) -> None:
        wrong = self.wrong_cells()
        if not wrong:
            left = int((self.board == 0).sum())
            print(f"all your entries are right; {left} cell(s) to go")
        else:
            print("wrong: " + ", ".join(f"row {r + 1} column {c + 1}" for r, c in wrong))

    def rate(self) -> None:
        print(self.solver.rate(self.givens))

    def maybe_done(self) -> None:
        if codec.is_solution(self.board, self.givens):
            print("Solved! Well played. Type 'new' for another puzzle or 'quit'.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--level", default="easy", choices=list(generate.LEVELS))
    parser.add_argument("--seed", type=int, default=None, help="same seed, same puzzles")
    args = parser.parse_args(argv)
    solver = Solver("sudoku", fallback="search")
    game = Game(solver, args.level, np.random.default_rng(args.seed))
    print("type 'help' for commands")
    for line in sys.stdin if not sys.stdin.isatty() else iter(lambda: input("> "), None):
        words = line.split()
        if not words:
            continue
        cmd = words[0].lower()
        if cmd in ("quit", "exit", "q"):
            break
        elif cmd == "help":
            print(HELP)
        elif cmd == "hint":
            game.hint()
        elif cmd == "check":
            game.check()
        elif cmd == "rate":
            game.rate()
        elif cmd == "solve":
            game.board = game.solution.copy()
            game.show()
        elif cmd == "new":
            level = words[1] if len(words) > 1 else game.level
            if level not in generate.LEVELS:
                print(f"levels: {', '.join(generate.LEVELS)}")
            else:
                game.new(level)
        elif len(words) == 3 and all(w.isdigit() for w in words):
            game.place(*(int(w) for w in words))
        else:
            print(f"unknown command {line.strip()!r}; type 'help'")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (EOFError, KeyboardInterrupt):
        print()
