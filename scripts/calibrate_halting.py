"""Choose a model's default halting threshold on puzzles it is not evaluated on, and record it.

    python scripts/calibrate_halting.py --model models/sudoku CALIB.csv [CALIB2.csv ...] [--write-manifest]

The halting head says "stop" when sigmoid(q_halt) exceeds the threshold. Too low and easy puzzles stop
on a wrong answer; too high and they pay for steps they do not need. The rule: the smallest threshold
whose accuracy with halting is within ``--tolerance`` of the accuracy with all steps on every file.
Calibration files must not be evaluation-only sets (that would tune on the test); generate them with
``trm generate`` and seeds the evaluation sets do not use.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from trm_sdk import backends
from trm_sdk.manifest import load_manifest
from trm_sdk.recursion import trace
from trm_sdk.tasks.sudoku import codec, datasets

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)


def halting_table(backend: backends.Backend, path: str, steps: int) -> dict[str, list[float]]:
    data = datasets.load(path)
    assert data.solutions is not None
    probs, right = [], []
    for i in range(0, len(data.puzzles), 256):
        p, logits = trace(backend, codec.encode(data.puzzles[i : i + 256]), steps)
        answers = np.stack([codec.decode(step)[0] for step in logits], axis=1)  # (B, steps, 9, 9)
        probs.append(p)
        right.append((answers == data.solutions[i : i + 256, None]).all(axis=(2, 3)))
    q, ok = np.concatenate(probs), np.concatenate(right)
    table: dict[str, list[float]] = {"all_steps": [round(float(ok[:, -1].mean()), 4), float(steps)]}
    for t in THRESHOLDS:
        halt = q > t
        halt[:, -1] = True
        k = halt.argmax(axis=1)
        table[str(t)] = [round(float(ok[np.arange(len(k)), k].mean()), 4), round(float((k + 1).mean()), 2)]
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="puzzle,solution CSVs that are not evaluation sets")
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--tolerance", type=float, default=0.005, help="accuracy the halting may lose")
    parser.add_argument("--write-manifest", action="store_true", help="record the threshold in the model")
    parser.add_argument("--data-note", default="", help="how the calibration files were made, for the record")
    args = parser.parse_args(argv)
    for path in args.files:
        if datasets.is_eval_only(path):
            parser.error(f"{path} is an evaluation-only set: calibrating on it would tune on the test")
    manifest = load_manifest(args.model)
    steps = int(manifest.halting.get("max_steps", 16))
    backend = backends.create("cpu", manifest)
    tables = {Path(p).name: halting_table(backend, p, steps) for p in args.files}
    chosen = next(
        (
            t
            for t in THRESHOLDS
            if all(tab[str(t)][0] >= tab["all_steps"][0] - args.tolerance for tab in tables.values())
        ),
        1.0,
    )
    for name, tab in tables.items():
        cells = "  ".join(f"{k}: {acc:.3f} @ {st:.2f}" for k, (acc, st) in tab.items())
        print(f"{name}: {cells}")
    rule = f"smallest threshold within {args.tolerance} of all-steps accuracy on every file"
    print(f"chosen threshold: {chosen} ({rule})")
    if args.write_manifest:
        body = dict(manifest.raw)
        body["halting"] = {
            **body["halting"],
            "threshold": chosen,
            "calibration": {
                "rule": rule,
                "files": tables,  # name -> {threshold: [accuracy, mean steps]}
                "data": args.data_note,
                "command": "python scripts/calibrate_halting.py " + shlex.join(sys.argv[1:]),
                "measured": time.strftime("%Y-%m-%d", time.gmtime()),
            },
        }
        (args.model / "manifest.json").write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
        print(f"recorded in {args.model / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
