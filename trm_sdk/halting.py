"""The halting rule, written once: when a puzzle stops taking supervision steps.

A puzzle stops at the first step ``k`` where the halting head's probability sigmoid(q_halt) exceeds the
threshold, or at ``max_steps``. Inference (:mod:`trm_sdk.recursion`), evaluation during training,
threshold calibration and the export's parity check all ask this module, so they cannot drift apart.
The unrolled ONNX graph spells the same rule in graph nodes; its tests compare it with this one.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NEVER", "halting_steps", "halts", "probability"]

NEVER = 2.0  # a threshold no probability exceeds: every puzzle runs max_steps steps


def probability(q_halt: np.ndarray) -> np.ndarray:
    """sigmoid(q_halt) in float64, written with tanh so that large logits cannot overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(q_halt, dtype=np.float64)))


def halts(q_halt: np.ndarray, threshold: float, step: int, max_steps: int) -> np.ndarray:
    """(B,) bool: which puzzles stop after 1-based ``step``, given that step's halting logits."""
    return (probability(q_halt) > threshold) | (step >= max_steps)


def halting_steps(q_halt: np.ndarray, threshold: float, max_steps: int) -> np.ndarray:
    """(N, K) halting logits of steps 1..K -> (N,) the 1-based step each puzzle halts at.

    A puzzle that would run past K (max_steps > K) reports K, the last step there is an answer for.
    """
    q_halt = np.asarray(q_halt)
    K = q_halt.shape[1]
    stop = np.stack([halts(q_halt[:, k - 1], threshold, k, max_steps) for k in range(1, K + 1)], axis=1)
    return np.where(stop.any(axis=1), stop.argmax(axis=1) + 1, K).astype(np.int64)
