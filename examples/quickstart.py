"""Solve one Sudoku with the shipped model, print it, and check the answer independently of the SDK."""

from pathlib import Path

from trm_sdk import Solver

text = (Path(__file__).parent / "puzzle.txt").read_text()

solver = Solver("sudoku")  # backend="auto": TensorRT, else CUDA, else the CPU
result = solver.solve(text)
print(result)

# Our own check: every row, column and box holds 1..9, and every given is kept.
g = result.grid
units = [*g, *g.T, *(g[r : r + 3, c : c + 3].ravel() for r in (0, 3, 6) for c in (0, 3, 6))]
givens = [
    (i // 9, i % 9, int(ch)) for i, ch in enumerate(c for c in text if not c.isspace()) if ch in "123456789"
]
ok = all(sorted(u) == list(range(1, 10)) for u in units) and all(g[r, c] == d for r, c, d in givens)
print(f"independent check: {ok}; SDK says solved: {result.solved}")
assert ok == result.solved
