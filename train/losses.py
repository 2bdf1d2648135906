"""Losses of one supervision step: the answer's cross-entropy and the halting head's BCE."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _stablemax_log_probs(logits: torch.Tensor) -> torch.Tensor:
    # s(x) = x + 1 for x >= 0 and 1 / (1 - x) below: grows linearly instead of exponentially, which the
    # reference found steadier than softmax on Sudoku's very confident late-step logits.
    logits = logits.double()
    # The unused branch is clamped finite: where() still backpropagates 0 x its gradient, and 1 / (1 - x)
    # at x = 1 gives 0 x inf = NaN. bf16 logits land on exactly 1.0 often (found by the trainer's guard).
    s = torch.where(logits >= 0, logits + 1, 1 / (1 - logits.clamp(max=0)))
    return torch.log(s / s.sum(-1, keepdim=True))


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, kind: str = "stablemax") -> torch.Tensor:
    """Per-sample mean cross-entropy over cells: (B, S, V), (B, S) -> (B,)."""
    if kind == "stablemax":
        logp = _stablemax_log_probs(logits)
        nll = -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        return nll.mean(-1).float()
    if kind == "softmax":
        nll = F.cross_entropy(logits.float().transpose(1, 2), labels, reduction="none")
        return nll.mean(-1)
    raise ValueError(f"loss must be 'stablemax' or 'softmax', not {kind!r}")


def halting_loss(q_halt: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """Per-sample BCE teaching q_halt to predict whether the current answer is entirely right."""
    return F.binary_cross_entropy_with_logits(q_halt.float(), exact.float(), reduction="none")
