"""The Maze task as the runtime sees it: a thin adapter over the codec.

Answers are handed to ``Solution.grid`` as strings, one per row (Maze-Hard's answer form, ``o`` on the
path; 30 of 30 characters for a full-size maze, the user's own size for a smaller one), and the route
itself as ``Solution.path``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..base import SearchOutcome, Task
from . import codec


class MazeTask(Task):
    name = "maze"
    seq_len = codec.CELLS
    vocab_size = codec.VOCAB_SIZE

    def parse(self, puzzle: Any) -> np.ndarray:
        return codec.parse(puzzle)

    def encode(self, parsed: np.ndarray) -> np.ndarray:
        return codec.encode(parsed)

    def decode(self, logits: np.ndarray) -> np.ndarray:
        return codec.to_rows(codec.decode(logits))  # (B, 30) strings

    def verify(self, answers: np.ndarray, parsed: np.ndarray) -> np.ndarray:
        cells = np.stack([codec.to_cells(list(a)) for a in answers]) if len(answers) else answers
        return codec.are_solutions(cells, parsed)

    def format(self, grid: np.ndarray) -> str:
        g = np.asarray(grid)
        if g.dtype.kind == "U":  # answer rows, already cropped to the maze's own size
            return "\n".join(str(row) for row in g.reshape(-1))
        return codec.format_grid(grid)

    def details(self, answer: np.ndarray, parsed: np.ndarray) -> dict[str, Any]:
        # Only a route that verifies is reported: a wrong or unreachable answer has no path to give.
        # A maze smaller than 30x30 was padded with walls on the way in; the pad is cut off on the way out.
        h, w = codec.maze_size(parsed)
        return {
            "path": codec.solved_path(codec.to_cells(list(answer)), parsed),
            "grid": np.array([row[:w] for row in list(answer)[:h]]),
        }

    def search(self, parsed: np.ndarray, logits: np.ndarray, time_limit: float) -> SearchOutcome:
        # Breadth-first search is exact and takes well under a millisecond on 30x30, so it needs neither
        # the network's guidance nor the time limit. Every shortest path counts as the answer, so a maze
        # with several is simply solved. BFS never branches: search_nodes is 0.
        path = codec.shortest_path(parsed)
        if path is None:
            return SearchOutcome(None, "no_solution", 0)
        return SearchOutcome(codec.to_rows(codec.mark_path(parsed, path)), "solved", 0)

    def encoding(self) -> dict[str, Any]:
        return {
            "seq_len": codec.CELLS,
            "vocab_size": codec.VOCAB_SIZE,
            "pad": codec.PAD,
            "charset": codec.CHARSET,
            "char_offset": codec.WALL,  # token of CHARSET[k] is k + char_offset; padding is fed as wall
        }
