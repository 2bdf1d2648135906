"""Speed of the real training step (trainer, data stream, EMA and all) by precision and compilation.

    python tools/train_speed.py [--task sudoku] [--steps 75] [--warmup 25] [--set hidden=96 ...]
        [--precision fp32,bf16] [--compile both|on|off] [--json OUT]

Why a script: whether bf16 and torch.compile pay depends on the CPU (bf16 is native only with AMX or
AVX512-BF16; elsewhere it is emulated), so the trainer's ``precision="auto"`` is a guess that this
measures. Each row is a fresh Trainer at the same settings and seed: ``--warmup`` steps (compilation,
the data pools' first fill) are left out of the timing, then ``--steps`` are timed between the
trainer's own progress reports (every 25 steps), so data, refill, EMA and optimizer are all inside.
GFLOP/s counts the matrix products of one forward and backward (``torch.utils.flop_counter``) per
optimizer step over that whole step time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from trm_sdk.network import TRMConfig
from trm_sdk.tasks import get_task
from trm_sdk.train.cli import _parse_overrides  # the --set parser trm-train uses
from trm_sdk.train.config import TrainConfig
from trm_sdk.train.hardware import cpu_has_bf16_units
from trm_sdk.train.trainer import Trainer

# The shipped models' training settings, the default to time (a task not listed: its defaults).
SHIPPED = {"sudoku": ["hidden=96", "T=1", "n=2", "n_prefix=4", "multiple_of=32", "batch_size=64"]}


def step_flops(trainer: Trainer) -> float:
    """FLOPs of one supervision step's forward and backward at the trainer's batch."""
    carry = trainer._new_carry(trainer._frame_cells())
    trainer._refill(carry, np.ones(trainer.cfg.batch_size, dtype=bool))
    with FlopCounterMode(display=False) as counter:
        trainer._supervision_step(trainer.model, carry)
    trainer.optimizer.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def measure(model_cfg: TRMConfig, values: dict[str, Any], steps: int, warmup: int) -> dict[str, Any]:
    """Steps/s between the trainer's progress reports after ``warmup`` steps (it reports every 25)."""
    marks: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig.from_dict(
            {**values, "max_steps": warmup + steps, "eval_every": 0, "save_every_s": 1e9}
        )
        trainer = Trainer(model_cfg, cfg, Path(out))
        flops = step_flops(trainer)
        trainer.train(progress=lambda step, stats: marks.append((step, time.monotonic())))
    timed = [(step, t) for step, t in marks if step >= warmup]
    if len(timed) < 2:
        raise SystemExit("too few progress reports after the warm-up: make --steps at least 50")
    rate = (timed[-1][0] - timed[0][0]) / (timed[-1][1] - timed[0][1])
    return {
        "precision": trainer.precision,
        "compile": cfg.compile,
        "steps_per_s": round(rate, 3),
        "gflops_per_s": round(flops * rate / 1e9, 1),
        "gflop_per_step": float(f"{flops / 1e9:.4g}"),
        "compile_error": trainer.compile_error,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="sudoku")
    parser.add_argument("--steps", type=int, default=75)
    parser.add_argument("--warmup", type=int, default=25)
    parser.add_argument("--set", dest="overrides", action="append", default=None, metavar="KEY=VALUE")
    parser.add_argument("--precision", default="fp32,bf16")
    parser.add_argument("--compile", default="both", choices=["both", "on", "off"])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    task = get_task(args.task)
    overrides = args.overrides if args.overrides is not None else SHIPPED.get(args.task, [])
    model_over, train_over = _parse_overrides(
        tuple(overrides), set(TRMConfig.__dataclass_fields__), set(TrainConfig.__dataclass_fields__)
    )
    model_cfg = TRMConfig.from_dict({**task.model_defaults, **model_over})
    compiles = {"both": [False, True], "on": [True], "off": [False]}[args.compile]
    print(
        f"{args.task}, {' '.join(overrides) or 'task defaults'}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, CPU bf16 units: {cpu_has_bf16_units()}",
        flush=True,
    )
    rows = []
    for precision in args.precision.split(","):
        for compile_ in compiles:
            values = {
                "device": "cpu",
                **train_over,
                "task": args.task,
                "precision": precision,
                "compile": compile_,
            }
            row = measure(model_cfg, values, args.steps, args.warmup)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
