"""Which Sudoku recipe learns most per CPU-minute: each candidate trains from scratch for the same wall-clock
budget on the machine it runs on, then one view of its EMA network is scored on fixed held-out sets.

    python experiments/sudoku_study.py [--minutes 15] [--only base,width128]
        [--results train/study/sudoku.json] [--data DIR]

Why a script and a committed results file: a candidate costs 15 minutes of every core (2 cores in the
recorded run), so the study is run in parts. A candidate already in ``--results`` at the same budget and
settings is not run again, and the next run continues with the rest. Nothing else may run beside it: the
budget is wall-clock.

The held-out sets are never trained on and are not evaluation-only sets (those never pick a model):
200 generated minimal puzzles, 200 with 55-58 blanks and 200 with 40-48 (seeds the training stream never
uses), and the last 500 puzzles of the training-allowed ``puzzles5``, which the candidates' training file
leaves out. Each set is scored after all N_sup steps and with the halting head, exact and per cell (givens
included). In a quarter of an hour on 2 cores every candidate is still in the first curriculum stages:
whole-grid accuracy on the hard sets is near zero, and the 40-48 set and cell accuracy are what tell the
candidates apart. ``--rescore`` scores the candidates already run on a set added after them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from trm_sdk.network import TRMConfig
from trm_sdk.tasks import get_task
from trm_sdk.tasks.sudoku import datasets, generate
from trm_sdk.train import checkpoint
from trm_sdk.train.cli import _parse_overrides  # the --set parser trm-train uses
from trm_sdk.train.config import TrainConfig
from trm_sdk.train.evaluate import score_file
from trm_sdk.train.trainer import Trainer

# The shipped model's recipe (its first run's settings, see models/sudoku/manifest.json), which every
# candidate starts from and changes in one respect.
BASE = [
    "hidden=96",
    "T=1",
    "n=2",
    "n_prefix=4",
    "multiple_of=32",
    "batch_size=64",
    "lr=0.002",
    "warmup_steps=50",
    "weight_decay=0.1",
    "ema_decay=0.99",
    "loss=softmax",
    "eval_every=0",
    "save_every_s=1000000",
    "device=cpu",
]
CANDIDATES: dict[str, list[str]] = {
    "base": [],
    "width128": ["hidden=128"],
    "width160": ["hidden=160"],
    "T2n2": ["T=2"],
    "T1n4": ["n=4"],
    "shallow-to-deep": ["n=4", "depth_schedule=[[0, 1, 1], [400, 1, 2], [800, 1, 4]]"],
    "muon": ["optimizer=muon"],
    "digit-equivariant": ["digits=equivariant"],
}
PUZZLES5 = "sudoku/tdoku/puzzles5_forum_hardest_1905_11+.csv"
PUZZLES2 = "sudoku/tdoku/puzzles2_17_clue.csv"


def held_out_sets(
    data: Path, work: Path, held_out: int = 500, size: int = 200
) -> tuple[list[str], list[str]]:
    """(training files, held-out files), written under ``work``: deterministic, so every candidate and
    every working period sees the same ones."""
    task = get_task("sudoku")
    work.mkdir(parents=True, exist_ok=True)
    lines = (data / PUZZLES5).read_text().splitlines()
    header, rows = lines[0], lines[1:]
    train5, held5 = work / "puzzles5_train.csv", work / "puzzles5_held_out.csv"
    train5.write_text("\n".join([header, *rows[:-held_out]]) + "\n")
    held5.write_text("\n".join([header, *rows[-held_out:]]) + "\n")
    generated = []
    sets = (
        ("minimal", 91_000_001, None),
        ("blanks55", 91_000_002, (55, 58)),
        ("blanks40", 91_000_003, (40, 48)),
    )
    for name, seed, blanks in sets:
        path = work / f"generated_{name}_{size}.csv"
        if not path.exists():
            rng = np.random.default_rng(seed)
            pairs = [
                generate.make_puzzle(rng, minimal=True)
                if blanks is None
                else generate.make_puzzle(rng, blanks=int(rng.integers(blanks[0], blanks[1] + 1)))
                for _ in range(size)
            ]
            path.write_text(task.to_csv(np.stack([p for p, _ in pairs]), np.stack([s for _, s in pairs])))
        generated.append(str(path))
    return [str(train5), str(data / PUZZLES2)], [*generated, str(held5)]


def run_candidate(
    name: str, minutes: float, files: list[str], eval_files: list[str], out: Path
) -> dict[str, Any]:
    settings = BASE + CANDIDATES[name]
    model_over, train_over = _parse_overrides(
        tuple(settings), set(TRMConfig.__dataclass_fields__), set(TrainConfig.__dataclass_fields__)
    )
    model_cfg = TRMConfig.from_dict({**get_task("sudoku").model_defaults, **model_over})
    cfg = TrainConfig.from_dict(
        {
            **train_over,
            "task": "sudoku",
            "budget_s": minutes * 60.0,
            "files": tuple(files),
            "eval_files": tuple(eval_files),
        }
    )
    trainer = Trainer(model_cfg, cfg, out / name)
    t0 = time.monotonic()
    summary = trainer.train(
        progress=lambda step, stats: print(f"  {name} {stats}", flush=True) if step % 500 == 0 else None
    )
    return {
        "candidate": name,
        "settings": CANDIDATES[name],
        "minutes": minutes,
        "wall_minutes": round((time.monotonic() - t0) / 60, 1),
        "parameters": trainer.model.num_params(),
        "steps": summary["steps"],
        "steps_per_s": summary["steps_per_s"],
        "stage": trainer.data.describe(),
        "train_exact_recent": summary["train_exact_recent"],
        "eval": {Path(k).name: v for k, v in summary["eval_files"].items()},
    }


def rescore(rows: list[dict[str, Any]], eval_files: list[str], work: Path) -> None:
    """Score each candidate's saved EMA network on the held-out sets its row lacks (a set added to the
    study after it ran), from ``work/NAME/latest.pt``."""
    task = get_task("sudoku")
    for row in rows:
        missing = [f for f in eval_files if Path(f).stem not in row["eval"]]
        saved = work / row["candidate"] / "latest.pt"
        if not missing or not saved.is_file():
            continue
        model, _ = checkpoint.load_model(saved)
        for path in missing:
            row["eval"][Path(path).stem] = score_file(model, task, path)
            print(f"{row['candidate']}: rescored on {Path(path).stem}", flush=True)


def table(rows: list[dict[str, Any]]) -> str:
    """The study as a Markdown table: exact after all steps (cell accuracy) per held-out set."""
    sets = list(rows[0]["eval"]) if rows else []
    head = "| candidate | params | steps | stage | " + " | ".join(sets) + " |"
    lines = [head, "|" + "---|" * (4 + len(sets))]
    for r in rows:
        cells = [f"{r['eval'][s]['exact_all_steps']:.1%} ({r['eval'][s]['cell_accuracy']:.1%})" for s in sets]
        stage = r["stage"].split(" (")[0].removeprefix("stage ")
        lines.append(
            f"| {r['candidate']} | {r['parameters']:,} | {r['steps']:,} | {stage} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--only", default=",".join(CANDIDATES), help="comma-separated candidate names")
    parser.add_argument("--results", type=Path, default=Path("train/study/sudoku.json"))
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="the data folder [default: $TRM_DATA_DIR, else ../shared/data]",
    )
    parser.add_argument("--work", type=Path, default=Path("runs/study"))
    parser.add_argument("--held-out", type=int, default=500, help="last rows of puzzles5 held out")
    parser.add_argument("--set-size", type=int, default=200, help="puzzles per generated held-out set")
    parser.add_argument(
        "--rescore", action="store_true", help="score the candidates already run on sets their rows lack"
    )
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidates {', '.join(unknown)}; choose from {', '.join(CANDIDATES)}")
    args.data = args.data or datasets.default_data_dir() or Path("data")
    if not (args.data / PUZZLES5).is_file():
        parser.error(f"{args.data / PUZZLES5} not found: pass --data, the folder holding sudoku/tdoku/")
    rows: list[dict[str, Any]] = json.loads(args.results.read_text()) if args.results.exists() else []
    files, eval_files = held_out_sets(args.data, args.work / "data", args.held_out, args.set_size)
    if args.rescore:
        rescore(rows, eval_files, args.work)
        args.results.write_text(json.dumps(rows, indent=1) + "\n")
    for name in names:
        if any(
            r["candidate"] == name and r["minutes"] == args.minutes and r["settings"] == CANDIDATES[name]
            for r in rows
        ):
            print(f"{name}: already in {args.results}, skipped", flush=True)
            continue
        print(
            f"{name}: training {args.minutes:g} minutes ({' '.join(CANDIDATES[name]) or 'the base'})",
            flush=True,
        )
        row = run_candidate(name, args.minutes, files, eval_files, args.work)
        rows = [r for r in rows if r["candidate"] != name] + [row]
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(rows, indent=1) + "\n")  # after each: a stop loses one at most
        print(json.dumps(row), flush=True)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
