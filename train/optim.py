"""The optimizer a run trains with: AdamW, or Muon on the blocks' matrices with AdamW for the rest.

Muon orthogonalises each matrix's momentum (Newton-Schulz), which is reported to train small transformers
in fewer steps than AdamW. It is defined for hidden matrices only: the embeddings, the heads and every
vector stay with AdamW, as its authors use it. With ``adjust_lr_fn="match_rms_adamw"`` Muon's update has
AdamW's size, so one ``lr`` and one warm-up drive both.
"""

from __future__ import annotations

from typing import Any

import torch

OPTIMIZERS = ("adamw", "muon")


def make_optimizer(
    model: torch.nn.Module,
    name: str,
    *,
    lr: float,
    betas: tuple[float, float],
    weight_decay: float,
    fused: bool,
) -> torch.optim.Optimizer | ChainedOptimizer:
    """``name``: "adamw" or "muon". Vectors and the halting head are never decayed."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {name!r}")
    matrices: list[torch.nn.Parameter] = []
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for pname, p in model.named_parameters():
        if p.dim() < 2 or pname.startswith("q_head"):
            no_decay.append(p)
        elif name == "muon" and pname.startswith("blocks.") and p.dim() == 2:
            matrices.append(p)
        else:
            decay.append(p)
    adamw = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr,
        betas=betas,
        # One kernel for all parameters on a GPU; the moments' layout (and so resuming) is the same.
        **({"fused": True} if fused else {}),
    )
    if name == "adamw":
        return adamw
    muon = torch.optim.Muon(matrices, lr=lr, weight_decay=weight_decay, adjust_lr_fn="match_rms_adamw")
    return ChainedOptimizer([muon, adamw])


class ChainedOptimizer:
    """Several optimizers over disjoint parameters, stepped together, saved as one.

    Its ``state_dict`` has the layout of a single torch optimizer's (parameter indices numbered on across
    the optimizers, groups concatenated), so checkpoints compact, split and load it like any other.
    """

    def __init__(self, optimizers: list[torch.optim.Optimizer]) -> None:
        self.optimizers = optimizers

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [g for opt in self.optimizers for g in opt.param_groups]

    @property
    def state(self) -> dict[Any, Any]:
        return {p: s for opt in self.optimizers for p, s in opt.state.items()}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for opt in self.optimizers:
            opt.step()

    def state_dict(self) -> dict[str, Any]:
        state: dict[int, Any] = {}
        groups: list[dict[str, Any]] = []
        offset = 0
        for opt in self.optimizers:
            sd = opt.state_dict()
            state.update({offset + int(i): s for i, s in sd["state"].items()})
            groups += [{**g, "params": [offset + i for i in g["params"]]} for g in sd["param_groups"]]
            offset += sum(len(g["params"]) for g in sd["param_groups"])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        groups = saved["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"the saved optimizer has {len(groups)} parameter groups, this one {len(self.param_groups)}: "
                "it was saved by another optimizer"
            )
        offset = 0
        for opt in self.optimizers:
            mine, groups = groups[: len(opt.param_groups)], groups[len(opt.param_groups) :]
            count = sum(len(g["params"]) for g in mine)
            state = {
                int(i) - offset: s for i, s in saved["state"].items() if offset <= int(i) < offset + count
            }
            opt.load_state_dict(
                {
                    "state": state,
                    "param_groups": [{**g, "params": [i - offset for i in g["params"]]} for g in mine],
                }
            )
            offset += count
