"""The inference recursion: supervision steps with per-puzzle halting and early exit, for any backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import halting
from .backends.base import Backend


@dataclass
class RecursionResult:
    logits: np.ndarray  # (B, S, V) at each puzzle's halting step
    q_halt: np.ndarray  # (B,) halting logit at that step
    steps: np.ndarray  # (B,) step at which each puzzle halted, 1..max_steps


# (rows of the batch still running, their answer logits this step) -> which of them end now.
Stop = Callable[[np.ndarray, np.ndarray], np.ndarray]


def run(
    backend: Backend, tokens: np.ndarray, max_steps: int, threshold: float, stop: Stop | None = None
) -> RecursionResult:
    """Each puzzle runs until :func:`trm_sdk.halting.halts` says it stops, or ``stop`` ends it.

    Halted puzzles are dropped from the batch, so the batch costs what its slowest puzzles need and
    stops as soon as every puzzle has halted. ``stop`` lets the caller end rows for reasons of its own
    (views end every copy of a puzzle once one copy's answer verifies); an ended row keeps the answer,
    halting logit and step it had when it ended, like a halted one.
    """
    B = len(tokens)
    out_logits: np.ndarray | None = None
    out_q = np.zeros(B, np.float32)
    out_steps = np.zeros(B, np.int64)
    active = np.arange(B)
    state = backend.start(tokens)
    for k in range(1, max_steps + 1):
        state, q = backend.step(state)
        halt = halting.halts(q, threshold, k, max_steps)
        if stop is not None and not halt.all():
            every = backend.logits(state, np.arange(len(active)))
            halt = halt | np.asarray(stop(active, every), bool)
        rows = np.flatnonzero(halt)
        if len(rows):
            logits = backend.logits(state, rows)
            if out_logits is None:
                out_logits = np.empty((B, *logits.shape[1:]), np.float32)
            out_logits[active[rows]] = logits
            out_q[active[rows]] = q[rows]
            out_steps[active[rows]] = k
        remaining = np.flatnonzero(~halt)
        if not len(remaining):
            break
        if len(remaining) < len(active):
            state = backend.keep(state, remaining)
            active = active[remaining]
    assert out_logits is not None
    return RecursionResult(out_logits, out_q, out_steps)


def confidence(q_halt: np.ndarray) -> np.ndarray:
    return halting.probability(q_halt)


def trace(backend: Backend, tokens: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Every step for every puzzle, no halting: (halting logits (B, steps), answer logits (steps, B, S, V)).

    What calibrating a halting threshold needs: where each puzzle would stop under any threshold
    (:func:`trm_sdk.halting.halting_steps`), and whether its answer there is right.
    """
    q_halt, logits = [], []
    state = backend.start(tokens)
    rows = np.arange(len(tokens))
    for _ in range(steps):
        state, q = backend.step(state)
        q_halt.append(np.asarray(q, np.float32))
        logits.append(backend.logits(state, rows))
    return np.stack(q_halt, axis=1), np.stack(logits)
