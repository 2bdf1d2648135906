"""Exact-accuracy evaluation of a PyTorch TRM during training: all N_sup steps and with halting, in one pass.

The shipped figures are measured again on the exported graphs by ``trm eval`` (the CPU backend); this
module is the cheap in-training view of the same quantities.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .model import TRM


@dataclass
class EvalResult:
    puzzles: int
    exact_all_steps: float  # whole-grid accuracy after all N_sup steps
    exact_halting: float  # whole-grid accuracy at each puzzle's halting step
    mean_steps: float  # mean halting step
    cell_accuracy: float  # per-cell accuracy after all N_sup steps

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@torch.no_grad()
def evaluate(
    model: TRM,
    questions: np.ndarray,
    answers: np.ndarray,
    *,
    batch_size: int = 512,
    threshold: float = 0.5,
    device: torch.device | str = "cpu",
    autocast: bool = False,
    accept: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> EvalResult:
    """questions/answers: (N, S) token arrays. Only cells whose answer token is a real label are scored.

    ``accept(predicted, questions) -> (N,) bool`` replaces exact token match where a puzzle has several
    right answers (a maze's shortest paths); cell accuracy still compares with ``answers``.
    """
    model.eval()
    n_sup = model.cfg.N_sup
    exact_all = exact_halt = cells_right = cells = 0
    steps_total = 0
    for start in range(0, len(questions), batch_size):
        q = torch.as_tensor(questions[start : start + batch_size], device=device)
        a = torch.as_tensor(answers[start : start + batch_size], device=device)
        y, z = model.initial_state(len(q))
        halted = torch.zeros(len(q), dtype=torch.bool, device=device)
        steps = torch.full((len(q),), n_sup, device=device)
        halt_pred = torch.zeros_like(a)
        for k in range(1, n_sup + 1):
            with torch.autocast(
                device_type=torch.device(device).type, dtype=torch.bfloat16, enabled=autocast
            ):
                y, z, logits, q_halt = model(q, y, z)
            pred = logits.argmax(-1)
            newly = ~halted & ((torch.sigmoid(q_halt.float()) > threshold) | (k == n_sup))
            halt_pred[newly] = pred[newly]
            steps[newly] = k
            halted |= newly
        if accept is None:
            exact_all += int((pred == a).all(-1).sum())
            exact_halt += int((halt_pred == a).all(-1).sum())
        else:
            q_np = q.cpu().numpy()
            exact_all += int(np.sum(accept(pred.cpu().numpy(), q_np)))
            exact_halt += int(np.sum(accept(halt_pred.cpu().numpy(), q_np)))
        cells_right += int((pred == a).sum())
        cells += a.numel()
        steps_total += int(steps.sum())
    n = len(questions)
    return EvalResult(
        puzzles=n,
        exact_all_steps=exact_all / max(n, 1),
        exact_halting=exact_halt / max(n, 1),
        mean_steps=steps_total / max(n, 1),
        cell_accuracy=cells_right / max(cells, 1),
    )
