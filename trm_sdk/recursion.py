"""The inference recursion: supervision steps with per-puzzle halting and early exit, for any backend."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backends.base import Backend


@dataclass
class RecursionResult:
    logits: np.ndarray  # (B, S, V) at each puzzle's halting step
    q_halt: np.ndarray  # (B,) halting logit at that step
    steps: np.ndarray  # (B,) step at which each puzzle halted, 1..max_steps


def _sigmoid(q: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * q.astype(np.float64)))  # overflow-free logistic


def run(backend: Backend, tokens: np.ndarray, max_steps: int, threshold: float) -> RecursionResult:
    """Each puzzle stops at the first step where sigmoid(q_halt) > threshold, or at max_steps.

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
        halt = (_sigmoid(q) > threshold) | (k == max_steps)
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
    return _sigmoid(q_halt)


def trace(backend: Backend, tokens: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Every step for every puzzle, no halting: (halting probabilities (B, steps), logits (steps, B, S, V)).

    What calibrating a halting threshold needs: where each puzzle would stop under any threshold, and
    whether its answer there is right.
    """
    probs, logits = [], []
    state = backend.start(tokens)
    rows = np.arange(len(tokens))
    for _ in range(steps):
        state, q = backend.step(state)
        probs.append(_sigmoid(q))
        logits.append(backend.logits(state, rows))
    return np.stack(probs, axis=1), np.stack(logits)
