"""Exact-accuracy evaluation of a PyTorch TRM during training: all N_sup steps and with halting, in one pass.

The shipped figures are measured again on the exported graphs by ``trm eval`` (the CPU backend); this
module is the cheap in-training view of the same quantities.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trm_sdk import halting
from trm_sdk.network import TRM
from trm_sdk.tasks import Task

Exact = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (predicted, questions, answers) -> (N,)


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
    exact: Exact | None = None,
) -> EvalResult:
    """questions/answers: (N, S) token arrays. Only cells whose answer token is a real label are scored.

    ``exact`` is the task's judge of a whole answer (``Task.exact_tokens``): a maze accepts any shortest
    path, not only the file's. Without it an answer must match ``answers`` token for token; cell accuracy
    always compares with ``answers``. Halting is :func:`trm_sdk.halting.halts`, the rule every runtime uses.
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
            stop = halting.halts(q_halt.float().cpu().numpy(), threshold, k, n_sup)
            newly = ~halted & torch.from_numpy(stop).to(halted.device)
            halt_pred[newly] = pred[newly]
            steps[newly] = k
            halted |= newly
        if exact is None:
            exact_all += int((pred == a).all(-1).sum())
            exact_halt += int((halt_pred == a).all(-1).sum())
        else:
            q_np, a_np = q.cpu().numpy(), a.cpu().numpy()
            exact_all += int(np.sum(exact(pred.cpu().numpy(), q_np, a_np)))
            exact_halt += int(np.sum(exact(halt_pred.cpu().numpy(), q_np, a_np)))
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


def score_file(
    model: TRM,
    task: Task,
    path: str | Path,
    *,
    limit: int | None = None,
    device: torch.device | str = "cpu",
    autocast: bool = False,
) -> dict[str, Any]:
    """:func:`evaluate` on a puzzle file with answers, as a run's summary records it (rounded, with the
    seconds it took): one home for the trainer's end-of-run sets and the study's later rescoring."""
    data = task.load(str(path), limit=limit)
    if data.solutions is None:
        raise ValueError(f"{path} has no answers to score against")
    t0 = time.monotonic()
    result = evaluate(
        model,
        task.encode(data.puzzles),
        task.encode(data.solutions),
        device=device,
        autocast=autocast,
        exact=task.exact_tokens,  # a maze accepts any shortest path
    ).to_dict()
    return {k: round(v, 4) for k, v in result.items()} | {"seconds": round(time.monotonic() - t0, 1)}
