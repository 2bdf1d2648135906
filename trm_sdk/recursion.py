"""The inference recursion: supervision steps with per-puzzle halting and early exit, for any backend."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import halting
from .backends.base import Backend


@dataclass
class RecursionResult:
    logits: np.ndarray  # (B, S, V) at each puzzle's halting step
    q_halt: np.ndarray  # (B,) halting logit at that step
    steps: np.ndarray  # (B,) step at which each puzzle halted, 1..max_steps


def run(backend: Backend, tokens: np.ndarray, max_steps: int, threshold: float) -> RecursionResult:
    """Each puzzle runs until :func:`trm_sdk.halting.halts` says it stops.

    Halted puzzles are dropped from the batch, so the batch costs what its slowest puzzles need and
    stops as soon as every puzzle has halted.
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
