"""The halting loop, driven by a scripted backend so every halting decision is known in advance."""

from __future__ import annotations

import numpy as np
import pytest

from trm_sdk import halting, recursion
from trm_sdk.backends.base import Backend


class ScriptedBackend(Backend):
    """Puzzle i reports q_halt = +10 from step halt_at[i] on (-10 before); logits encode (puzzle, step)."""

    name = "scripted"
    extra = ""

    def __init__(self, halt_at: list[int]) -> None:
        self.halt_at = np.array(halt_at)
        self.batch_sizes: list[int] = []

    @classmethod
    def availability(cls) -> str | None:
        return None

    def start(self, tokens: np.ndarray) -> dict:
        return {"ids": tokens[:, 0].copy(), "step": 0}

    def step(self, state: dict) -> tuple[dict, np.ndarray]:
        self.batch_sizes.append(len(state["ids"]))
        state = {"ids": state["ids"], "step": state["step"] + 1}
        q = np.where(state["step"] >= self.halt_at[state["ids"]], 10.0, -10.0).astype(np.float32)
        return state, q

    def logits(self, state: dict, rows: np.ndarray) -> np.ndarray:
        out = np.zeros((len(rows), 2, 3), np.float32)
        out[:, 0, 0] = state["ids"][rows]
        out[:, 0, 1] = state["step"]
        return out

    def keep(self, state: dict, rows: np.ndarray) -> dict:
        return {"ids": state["ids"][rows], "step": state["step"]}


def _tokens(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64)[:, None].repeat(2, axis=1)


def test_each_puzzle_halts_at_its_first_confident_step() -> None:
    backend = ScriptedBackend([3, 1, 5, 2])
    result = recursion.run(backend, _tokens(4), max_steps=16, threshold=0.5)
    assert result.steps.tolist() == [3, 1, 5, 2]
    # The logits returned for each puzzle are its own, from its own halting step.
    assert result.logits[:, 0, 0].tolist() == [0, 1, 2, 3]
    assert result.logits[:, 0, 1].tolist() == [3, 1, 5, 2]
    assert (result.q_halt == 10.0).all()


def test_halted_puzzles_leave_the_batch_and_the_loop_exits_early() -> None:
    backend = ScriptedBackend([3, 1, 5, 2])
    recursion.run(backend, _tokens(4), max_steps=16, threshold=0.5)
    assert backend.batch_sizes == [4, 3, 2, 1, 1]  # stops after step 5, not 16


def test_max_steps_caps_every_puzzle() -> None:
    backend = ScriptedBackend([3, 9, 12])
    result = recursion.run(backend, _tokens(3), max_steps=4, threshold=0.5)
    assert result.steps.tolist() == [3, 4, 4]
    assert result.q_halt.tolist() == [10.0, -10.0, -10.0]
    assert len(backend.batch_sizes) == 4


def test_threshold_one_runs_all_steps() -> None:
    backend = ScriptedBackend([1, 1])
    result = recursion.run(backend, _tokens(2), max_steps=16, threshold=1.0)
    assert result.steps.tolist() == [16, 16]
    assert backend.batch_sizes == [2] * 16


@pytest.mark.parametrize("q,expected", [(0.0, 0.5), (50.0, 1.0), (-50.0, 0.0), (-1000.0, 0.0)])
def test_confidence_is_a_stable_sigmoid(q: float, expected: float) -> None:
    value = recursion.confidence(np.array([q], np.float32))[0]
    assert value == pytest.approx(expected, abs=1e-12)
    assert 0.0 <= value <= 1.0


def test_trace_runs_every_step_for_every_puzzle() -> None:
    backend = ScriptedBackend([1, 3, 5])
    q_halt, logits = recursion.trace(backend, _tokens(3), steps=4)
    probs = halting.probability(q_halt)
    assert probs.shape == (3, 4) and logits.shape == (4, 3, 2, 3)
    assert backend.batch_sizes == [3, 3, 3, 3]  # no puzzle leaves the batch
    assert (probs > 0.5).tolist() == [[True] * 4, [False, False, True, True], [False] * 4]
    assert logits[:, :, 0, 1].tolist() == [[1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4]]  # step stamps
