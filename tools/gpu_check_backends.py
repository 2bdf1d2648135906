"""GPU check of the CUDA backend, in one call: agreement with the CPU backend and speed against eager PyTorch.

    python tools/gpu_check_backends.py --out OUT_DIR            # on a CUDA GPU, ~3-5 minutes
    python tools/gpu_check_backends.py --out /tmp/q --device cpu --quick   # the same code on a CPU

Writes OUT_DIR/agreement.json, OUT_DIR/speed.json, OUT_DIR/summary.json and OUT_DIR/log.txt, and prints a
short summary table last. Every phase checks a wall-clock budget (--budget-s, default 420 s) and skips
what would not fit, so the script ends by a time you choose: a GPU rented or lent by the minute is not
held longer than planned. Run it where trm-sdk is installed with its cuda extra (``pip install -e
".[cuda]"`` in a checkout).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

START = time.perf_counter()


def elapsed() -> float:
    return time.perf_counter() - START


def log(out: Path, message: str) -> None:
    line = f"[{elapsed():6.1f}s] {message}"
    print(line, flush=True)
    with open(out / "log.txt", "a", encoding="utf-8") as f:
        f.write(line + "\n")


def puzzles(n: int, csv: str | None, seed: int) -> np.ndarray:
    from trm_sdk.tasks.sudoku import codec, datasets, generate

    if csv:
        grids = np.asarray(datasets.load(csv, limit=n).puzzles).reshape(-1, 9, 9)
    else:  # a mix of levels, so halting steps spread from 1 to 16
        rng = np.random.default_rng(seed)
        levels = ("easy", "medium", "hard")
        grids = np.concatenate(
            [np.asarray(generate.make_batch(rng, n // 3 + 1, lv)[0]).reshape(-1, 9, 9) for lv in levels]
        )[:n]
    return codec.encode(grids).astype(np.int64)


def agreement(manifest: Any, tokens: np.ndarray, device: str, precisions: list[str], out: Path) -> dict:
    from trm_sdk import recursion
    from trm_sdk.backends.cpu import CPUBackend
    from trm_sdk.backends.cuda import CUDABackend

    batch = 256
    threshold = float(manifest.halting["threshold"])  # the model's calibrated one, as Solver uses
    t = time.perf_counter()
    ref = [
        recursion.run(CPUBackend(manifest), tokens[i : i + batch], 16, threshold)
        for i in range(0, len(tokens), batch)
    ]
    ref_steps = np.concatenate([r.steps for r in ref])
    ref_answer = np.concatenate([r.logits.argmax(-1) for r in ref])
    log(out, f"cpu backend: {len(tokens)} puzzles in {time.perf_counter() - t:.1f} s")
    results = {}
    for precision in precisions:
        t = time.perf_counter()
        backend = CUDABackend(manifest, device=device, precision=precision)
        got = [
            recursion.run(backend, tokens[i : i + batch], 16, threshold) for i in range(0, len(tokens), batch)
        ]
        steps = np.concatenate([r.steps for r in got])
        answer = np.concatenate([r.logits.argmax(-1) for r in got])
        same_answer = (answer == ref_answer).all(-1)
        results[precision] = {
            "puzzles": len(tokens),
            "same_answer": round(float(same_answer.mean()), 4),
            "same_halting_step": round(float((steps == ref_steps).mean()), 4),
            "same_both": round(float((same_answer & (steps == ref_steps)).mean()), 4),
            "mean_steps": round(float(steps.mean()), 3),
            "mean_steps_cpu": round(float(ref_steps.mean()), 3),
            "seconds": round(time.perf_counter() - t, 2),
        }
        log(out, f"cuda backend {precision}: {results[precision]}")
    return results


def timed(fn: Any, sync: Any, repeats: int) -> float:
    fn()  # warm-up (and CUDA graph capture)
    sync()
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync()
    return (time.perf_counter() - t) / repeats


def speed(
    manifest: Any, tokens: np.ndarray, device: str, batches: list[int], budget: float, out: Path, quick: bool
) -> dict:
    import torch

    from trm_sdk import recursion
    from trm_sdk.backends.cuda import CUDABackend
    from trm_sdk.network import load_network

    on_gpu = device.startswith("cuda")
    threshold = float(manifest.halting["threshold"])
    sync = torch.cuda.synchronize if on_gpu else (lambda: None)
    eager = load_network(manifest, torch.device(device), torch.float32)
    backend = CUDABackend(manifest, device=device)  # the default precision, graphs on a GPU

    def eager_steps(t: Any, steps: int) -> None:  # the baseline of GPU.md: eager, bf16 autocast, fp32 state
        with torch.no_grad(), torch.autocast(device_type="cuda" if on_gpu else "cpu", dtype=torch.bfloat16):
            y, z = eager.initial_state(len(t))
            for _ in range(steps):
                y, z, logits, _ = eager(t, y, z)
            logits.float().cpu()

    results = {}
    for B in batches:
        if elapsed() > budget:
            log(out, f"budget spent: skipping batch {B}")
            break
        reps = 1 if quick else 20 if B == 1 else 5 if B <= 64 else 3
        chunk = np.resize(tokens, (B, tokens.shape[1]))
        t = torch.from_numpy(chunk).to(device)
        row: dict[str, Any] = {"batch": B}
        row["eager_16_steps_s"] = timed(lambda t=t: eager_steps(t, 16), sync, reps)
        row["backend_16_steps_s"] = timed(lambda c=chunk: recursion.run(backend, c, 16, 1.0), sync, reps)
        row["backend_halting_s"] = timed(lambda c=chunk: recursion.run(backend, c, 16, threshold), sync, reps)
        row["eager_puzzles_per_s"] = B / row["eager_16_steps_s"]
        row["backend_puzzles_per_s"] = B / row["backend_16_steps_s"]
        row["backend_halting_puzzles_per_s"] = B / row["backend_halting_s"]
        row["speedup_16_steps"] = row["eager_16_steps_s"] / row["backend_16_steps_s"]
        results[str(B)] = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}
        log(out, f"speed batch {B}: {results[str(B)]}")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--csv", default=None, help="puzzle CSV to check agreement on (default: generated)")
    parser.add_argument("--n", type=int, default=1200, help="puzzles for the agreement check")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the script on a CPU")
    parser.add_argument("--budget-s", type=float, default=420.0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "log.txt").write_text("", encoding="utf-8")

    import torch

    from trm_sdk.manifest import load_manifest
    from trm_sdk.shipped import model_dir

    manifest = load_manifest(model_dir("sudoku"))
    n = 24 if args.quick else args.n
    batches = [1, 8] if args.quick else [1, 64, 2048]
    precisions = ["fp32", "fp16", "bf16"]
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "model": {k: manifest.model[k] for k in ("hidden", "n_blocks", "T", "n", "N_sup")},
    }
    log(args.out, f"environment: {env}")
    tokens = puzzles(n, args.csv, seed=2027)
    agree = agreement(manifest, tokens, args.device, precisions, args.out)
    (args.out / "agreement.json").write_text(json.dumps({"env": env, "results": agree}, indent=2))
    fast = speed(manifest, tokens, args.device, batches, args.budget_s, args.out, args.quick)
    (args.out / "speed.json").write_text(json.dumps({"env": env, "results": fast}, indent=2))

    b1 = fast.get("1", {})
    summary = {
        "env": env,
        "agreement": agree,
        "speed": fast,
        "latency_batch1_16_steps_ms": round(1000 * b1.get("backend_16_steps_s", float("nan")), 2),
        "targets": {"speedup_at_2048": ">= 3", "latency_batch1_16_steps_ms": "<= 20"},
        "seconds": round(elapsed(), 1),
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))

    threshold = manifest.halting["threshold"]
    print(f"\nagreement with the CPU backend (threshold {threshold}, up to 16 steps)")
    print(f"{'precision':10s} {'puzzles':>8s} {'answer':>8s} {'halt step':>10s} {'both':>8s}")
    for p, r in agree.items():
        print(
            f"{p:10s} {r['puzzles']:8d} {r['same_answer']:8.2%} {r['same_halting_step']:10.2%} "
            f"{r['same_both']:8.2%}"
        )
    print(f"\nspeed, 16 fixed steps (puzzles/s) and halting (threshold {threshold})")
    print(f"{'batch':>6s} {'eager':>10s} {'backend':>10s} {'x eager':>8s} {'halting':>10s} {'ms/batch':>9s}")
    for B, r in fast.items():
        print(
            f"{B:>6s} {r['eager_puzzles_per_s']:10.1f} {r['backend_puzzles_per_s']:10.1f} "
            f"{r['speedup_16_steps']:8.2f} {r['backend_halting_puzzles_per_s']:10.1f} "
            f"{1000 * r['backend_16_steps_s']:9.2f}"
        )
    print(f"\ntotal {elapsed():.0f} s; files in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
