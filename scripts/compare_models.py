"""Should a newly trained model replace the shipped one? Compares the evaluations in two models' manifests.

    python scripts/compare_models.py models/sudoku /tmp/candidate

Both manifests need `trm eval --write-manifest` results on the same sets. The rule is the one the
training issues set: the candidate must be better on the hard sets without losing the easy ones.
Better: more puzzles solved exactly with halting over all the hard sets both measured, pooled, so that
an 11-puzzle set weighs what it holds. Not losing: no easy set more than --easy-tolerance below the
old figure. Exit status 0 means replace, 1 keep, 2 not comparable.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

# Sets that every useful model solves nearly always: they guard against forgetting, not for progress.
EASY = re.compile(r"kaggle|easy50|blanks(10|20|30|40)\b")


def _sets(model: Path) -> dict[str, dict[str, Any]]:
    manifest = model / "manifest.json" if model.is_dir() else model
    if not manifest.is_file():
        raise SystemExit(f"no manifest at {manifest}")
    raw = json.loads(manifest.read_text(encoding="utf-8"))
    sets = raw.get("evaluation", {}).get("sets")
    if not sets:
        raise SystemExit(f"{manifest} has no evaluation: run `trm eval --model ... --write-manifest` first")
    return dict(sets)


def compare(
    old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]], tolerance: float
) -> dict[str, Any]:
    rows, hard_old, hard_new, lost = [], [], [], []
    hard_n = 0
    for name in sorted(set(old) & set(new)):
        a, b = old[name], new[name]
        if a.get("puzzles") != b.get("puzzles"):
            rows.append(
                {"set": name, "note": f"not comparable: {a.get('puzzles')} vs {b.get('puzzles')} puzzles"}
            )
            continue
        easy = bool(EASY.search(name))
        row = {
            "set": name,
            "puzzles": a["puzzles"],
            "easy": easy,
            "old": a["exact_halting"],
            "new": b["exact_halting"],
            "old_all_steps": a.get("exact_all_steps"),
            "new_all_steps": b.get("exact_all_steps"),
            "old_steps": a.get("mean_steps"),
            "new_steps": b.get("mean_steps"),
        }
        rows.append(row)
        if easy:
            if b["exact_halting"] < a["exact_halting"] - tolerance:
                lost.append(name)
        else:
            hard_old.append(a["exact_halting"] * a["puzzles"])
            hard_new.append(b["exact_halting"] * a["puzzles"])
            hard_n += a["puzzles"]
    result: dict[str, Any] = {"rows": rows, "easy_lost": lost}
    if not hard_old:
        result["verdict"] = "not comparable: no hard set measured by both"
        return result
    result["hard_old"] = sum(hard_old) / hard_n
    result["hard_new"] = sum(hard_new) / hard_n
    result["hard_puzzles"] = hard_n
    better = result["hard_new"] > result["hard_old"]
    result["verdict"] = "replace" if better and not lost else "keep"
    return result


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("old", type=Path, help="the shipped model's folder (or manifest.json)")
    parser.add_argument("new", type=Path, help="the candidate's folder (or manifest.json)")
    parser.add_argument("--easy-tolerance", type=float, default=0.005, help="allowed loss on an easy set")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = compare(_sets(args.old), _sets(args.new), args.easy_tolerance)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{'set':<44} {'n':>5}  {'old':>7} {'new':>7}  {'old 16':>7} {'new 16':>7}  steps")
        for r in result["rows"]:
            if "note" in r:
                print(f"{r['set']:<44} {r['note']}")
                continue
            tag = " (easy)" if r["easy"] else ""
            print(
                f"{r['set'] + tag:<44} {r['puzzles']:>5}  {_pct(r['old']):>7} {_pct(r['new']):>7}  "
                f"{_pct(r['old_all_steps']):>7} {_pct(r['new_all_steps']):>7}  "
                f"{r['old_steps']} -> {r['new_steps']}"
            )
        if "hard_old" in result:
            old, new, n = result["hard_old"], result["hard_new"], result["hard_puzzles"]
            print(f"hard sets, {n} puzzles, solved with halting: {old:.2%} -> {new:.2%}")
        if result["easy_lost"]:
            print(f"easy sets lost: {', '.join(result['easy_lost'])}")
        print(f"verdict: {result['verdict']}")
    return {"replace": 0, "keep": 1}.get(result["verdict"], 2)


if __name__ == "__main__":
    sys.exit(main())
