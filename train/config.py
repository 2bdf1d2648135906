"""What a training run is asked to do: ``TrainConfig``, every setting of the loop with its default.

The model's own settings are ``trm_sdk.network.TRMConfig``; ``trm-train --set KEY=VALUE`` reaches both,
and a key neither knows is an error (``checked_fields``), never silently ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from trm_sdk.network import checked_fields

__all__ = ["LR_SCHEDULES", "TrainConfig", "checked_schedule", "lr_factor"]


@dataclass
class TrainConfig:
    """The settings of one training run, the model's aside.

    A checkpoint stores it as a dict and a resumed run rebuilds it with :meth:`from_dict`, so a value
    read back from JSON (a list for a tuple) is made the field's type there, and an unknown key is refused.
    """

    task: str = "sudoku"
    batch_size: int = 768  # the global batch: split over the processes of a torchrun job
    lr: float = 1e-4  # for the global batch, whatever the number of processes
    warmup_steps: int = 2000
    # After warm-up the rate is constant, or decays ("cosine", "linear") from lr at step lr_decay_start to
    # lr * lr_floor at lr_decay_start + lr_decay_steps, and stays there: a resumed run decays from where
    # it resumes by setting lr_decay_start to its step.
    lr_schedule: str = "constant"
    lr_decay_start: int = 0
    lr_decay_steps: int = 0
    lr_floor: float = 0.1
    weight_decay: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.95
    ema_decay: float = 0.999
    loss: str = "stablemax"  # or "softmax"
    halt_loss_weight: float = 0.5
    halt_explore: float = 0.1  # chance that a fresh sample gets a random minimum of 2..N_sup steps
    grad_clip: float = 0.0  # largest global gradient norm (0: no clipping)
    max_bad_steps: int = 20  # consecutive non-finite losses after which the run stops, saving nothing
    max_steps: int = 0  # optimizer steps in total (0 = until the time budget runs out)
    budget_s: float = 0.0  # wall-clock seconds for this run (0 = no limit); saving happens before it ends
    save_every_s: float = 300.0
    eval_every: int = 500  # optimizer steps between evaluations on a held-out generated set
    eval_size: int = 256
    seed: int = 0
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    # The forward's matrix products: "bf16" (autocast; norms, loss and the optimizer stay fp32), "fp32",
    # or "auto": bf16 on a GPU and on a CPU with bf16 matrix units (AMX, AVX512-BF16), fp32 elsewhere,
    # since a CPU without them emulates bf16 more slowly than it runs fp32.
    precision: str = "auto"
    compile: bool = False
    compile_mode: str = "default"  # torch.compile mode: "default", "max-autotune-no-cudagraphs", ...
    compile_scope: str = "net"  # "net": the 2-block network applied T*(n+1) times; "step": the whole step
    speed_probe: int = 0  # with compile: time this many eager steps, then as many compiled ones (same run)
    data_workers: int = -1  # processes generating puzzles (-1: all but two cores on a GPU, none on a CPU)
    optimizer: str = "adamw"  # or "muon": Muon on the blocks' matrices, AdamW for the rest (train/optim.py)
    # Shallow-to-deep: [[step, T, n], ...], the recursion from each optimizer step on (the model config's
    # T and n before the first entry). Cheap shallow steps early, the full depth later.
    depth_schedule: tuple[tuple[int, int, int], ...] = ()
    curriculum: str = "easy-to-hard"
    advance_at: float = 0.9  # exact accuracy on recent training puzzles that ends a curriculum stage
    stage_puzzles: int = 0  # or this many finished puzzles in a stage (0: accuracy alone decides)
    files: tuple[str, ...] = ()  # training-allowed puzzle files
    eval_files: tuple[str, ...] = ()  # held-out sets scored at the end of the run (evaluation-only is fine)
    eval_limit: int = 1000  # puzzles per eval file
    dist_timeout_s: float = 600.0  # torchrun: a process waiting this long for the others fails the job
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        values = checked_fields(cls, values, "train")
        for key in ("files", "eval_files"):
            if key in values:
                values[key] = tuple(values[key])
        if "depth_schedule" in values:
            values["depth_schedule"] = checked_schedule(values["depth_schedule"])
        if values.get("lr_schedule", "constant") not in LR_SCHEDULES:
            raise ValueError(
                f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, not {values['lr_schedule']!r}"
            )
        if values.get("lr_schedule", "constant") != "constant" and int(values.get("lr_decay_steps", 0)) < 1:
            raise ValueError("a decaying lr_schedule needs lr_decay_steps >= 1")
        return cls(**values)


LR_SCHEDULES = ("constant", "cosine", "linear")


def lr_factor(cfg: TrainConfig, step: int) -> float:
    """The learning rate at ``step`` as a fraction of ``cfg.lr``: the warm-up ramp times the decay."""
    warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps > 0 else 1.0
    if cfg.lr_schedule == "constant" or step <= cfg.lr_decay_start:
        return warm
    done = min(1.0, (step - cfg.lr_decay_start) / max(1, cfg.lr_decay_steps))
    shape = 0.5 * (1.0 + math.cos(math.pi * done)) if cfg.lr_schedule == "cosine" else 1.0 - done
    return warm * (cfg.lr_floor + (1.0 - cfg.lr_floor) * shape)


def checked_schedule(entries: Any) -> tuple[tuple[int, int, int], ...]:
    """A depth schedule as given on the command line (JSON lists), checked: [[step, T, n], ...] with
    steps increasing and T, n at least 1."""
    try:
        out = tuple((int(a), int(b), int(c)) for a, b, c in entries)
        valid = all(isinstance(v, int) and not isinstance(v, bool) for e in entries for v in e)
    except (TypeError, ValueError):
        out, valid = (), False
    steps = [e[0] for e in out]
    if not valid or any(e[0] < 0 or e[1] < 1 or e[2] < 1 for e in out) or steps != sorted(set(steps)):
        raise ValueError(
            f"depth_schedule must be [[step, T, n], ...] with increasing steps and T, n >= 1, not {entries!r}"
        )
    return out
