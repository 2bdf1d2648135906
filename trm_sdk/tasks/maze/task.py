"""The Maze task as the runtime sees it: a thin adapter over the codec.

Answers are handed to ``Solution.grid`` as strings, one per row (Maze-Hard's answer form, ``o`` on the
path; 30 of 30 characters for a full-size maze, the user's own size for a smaller one), and the route
itself as ``Solution.path``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ...solution import Solution
from ...views import Views, ViewStream
from ..base import Pair, SearchOutcome
from ..builtin import BuiltinTask
from . import augment, codec, datasets, generate, training


class MazeTask(BuiltinTask):
    name = "maze"
    model_resource = ("trm_sdk.models", "maze")
    seq_len = codec.CELLS
    vocab_size = codec.VOCAB_SIZE
    datasets = datasets
    levels = tuple(generate.LEVELS)
    bench_levels = ("easy", "hard")
    export_levels = ("easy", "medium", "hard")
    routes = True
    max_views = augment.N_MAPS  # the eight symmetries of the square

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

    def draw_views(self, stream: ViewStream, n: int) -> Views:
        cells = augment.random_views(stream, n, codec.SIZE)
        return Views(cells, np.tile(np.arange(codec.VOCAB_SIZE), (n, 1)))

    @property
    def answer_tokens(self) -> slice:
        return slice(codec.WALL, codec.VOCAB_SIZE)  # every character; pad never answers

    def reference_encoding(self) -> dict[str, Any]:
        # the sapientinc/HRM dataset builders', which the reference TRM code trains on
        return {"seq_len": 900, "vocab_size": 6, "pad": 0, "charset": "# SGo", "char_offset": 1}

    def encoding(self) -> dict[str, Any]:
        return {
            "seq_len": codec.CELLS,
            "vocab_size": codec.VOCAB_SIZE,
            "pad": codec.PAD,
            "charset": codec.CHARSET,
            "char_offset": codec.WALL,  # token of CHARSET[k] is k + char_offset; padding is fed as wall
        }

    def is_exact(self, solution: Solution, expected: np.ndarray) -> bool:
        # A maze has many shortest paths and any one is right: the verifier's word is the exact score.
        return bool(solution.solved)

    def exact_answers(self, answers: np.ndarray, parsed: np.ndarray, expected: np.ndarray) -> np.ndarray:
        return np.asarray(self.verify(answers, parsed))

    def exact_tokens(self, predicted: np.ndarray, questions: np.ndarray, answers: np.ndarray) -> np.ndarray:
        size = (-1, codec.SIZE, codec.SIZE)
        return codec.are_solutions(predicted.reshape(size), questions.reshape(size))

    def split_text(self, text: str) -> list[str]:
        return codec.split_text(text)

    def to_string(self, grid: Any) -> str:
        # Answer rows cropped to a small maze's own size are padded back to 30x30, the Maze-Hard file form.
        g = np.asarray(grid)
        return codec.to_string(codec.to_cells(list(g)) if g.dtype.kind == "U" else g)

    def file_rows(self, path: str | os.PathLike[str]) -> list[tuple[str, int]]:
        return datasets.question_rows(path)

    def generate(self, rng: np.random.Generator, level: str | None = None, **options: Any) -> Pair:
        if options or level is None:
            raise ValueError("mazes are generated by level only: easy, medium or hard")
        if level not in generate.LEVELS:
            raise ValueError(f"unknown maze level {level!r}; choose from {', '.join(generate.LEVELS)}")
        return generate.make_level(rng, level)

    def to_csv(self, puzzles: np.ndarray, answers: np.ndarray) -> str:
        return datasets.to_csv(puzzles, answers)

    def random_tokens(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(1, self.vocab_size, (n, self.seq_len), dtype=np.int64)  # no pad inside a maze

    # -- training data ---------------------------------------------------------------------------------------

    training = training
    augmentation = augment

    def augment(self, puzzles: np.ndarray, answers: np.ndarray, rng: np.random.Generator) -> Pair:
        # The trained path's tie-break is oriented (up, down, left, right first), so a turned maze gets its
        # own answer instead of the turned one: every label follows the one rule the network learns.
        turned, _ = augment.random_augment(puzzles, answers, rng)
        return turned, training.answers(turned)

    def frame(self, stage: dict[str, float]) -> int | None:
        return training.frame(stage)

    # A maze's answer is a deterministic function of the maze (its shortest path), so a pool saves the
    # mazes only: half the size, and a 30x30 pool is still 3.7 MB per source.
    def pool_state(self, puzzles: np.ndarray, answers: np.ndarray) -> Any:
        return puzzles.copy()

    def pool_from_state(self, state: Any) -> Pair:
        puzzles = np.asarray(state)
        return puzzles, training.answers(puzzles)
