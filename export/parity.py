"""Parity: the exported graphs, run by ONNX Runtime, must compute what the PyTorch model computes.

The reference is the PyTorch model with its weights rounded to fp16 (what the graphs store), run for all
N_sup supervision steps once per puzzle; the halting reference for any threshold is read off that one
trajectory by :func:`trm_sdk.halting.halting_steps`, the rule every runtime follows. Checked: the step
graph over a few steps, each from PyTorch's state (to rounding), and the unrolled graph with halting and
with every step (to rounding, or to ten times PyTorch's own drift over N_sup steps when its state is
nudged by one rounding unit before every step, if that is more). Argmax answers may differ only on near-ties
(PyTorch's top-2 margin within twice the measured logit difference, the most two logits that far off
can swap by), halting steps only where sigmoid(q_halt) is within rounding of the threshold; anything else
raises :class:`ExportError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trm_sdk.halting import NEVER, halting_steps, probability
from trm_sdk.network import TRM

from .onnx_graphs import ExportError

__all__ = ["VerifySet", "check_parity"]

_DRIFT_PUZZLES = 2  # puzzles of each source used to measure how much the network amplifies rounding
_EPS = 2.0**-23  # one fp32 rounding unit, relative
_DRIFT_FACTOR = 10.0  # a runtime's carried error may grow to this many times PyTorch's own drift
_ROUNDING_PUZZLES = 8  # puzzles used to report what fp16 weights change (16 PyTorch steps each)


@dataclass
class VerifySet:
    """Puzzles from one source (random tokens, a generator level, a data file) to check parity on."""

    name: str
    tokens: np.ndarray  # (N, S) int64
    targets: np.ndarray | None = None  # (N, S) int64 solution tokens, to count exact answers


@dataclass
class _Trajectory:
    logits: np.ndarray  # (N, K, S, V) after each supervision step
    q_halt: np.ndarray  # (N, K)
    y: np.ndarray  # (N, k, L, D) answer state after the first k steps
    z: np.ndarray  # (N, k, L, D) latent state after the first k steps


def _trajectory(model: TRM, tokens: np.ndarray, steps: int, keep_state: int, batch: int) -> _Trajectory:
    logits, q_halt, ys, zs = [], [], [], []
    with torch.no_grad():
        for lo in range(0, len(tokens), batch):
            t = torch.from_numpy(tokens[lo : lo + batch])
            y, z = model.initial_state(len(t))
            chunk_l, chunk_q, chunk_y, chunk_z = [], [], [], []
            for k in range(steps):
                y, z, step_logits, q = model(t, y, z)
                chunk_l.append(step_logits.float().numpy())
                chunk_q.append(q.float().numpy())
                if k < keep_state:
                    chunk_y.append(y.float().numpy())
                    chunk_z.append(z.float().numpy())
            logits.append(np.stack(chunk_l, 1))
            q_halt.append(np.stack(chunk_q, 1))
            ys.append(np.stack(chunk_y, 1) if chunk_y else np.zeros((len(t), 0)))
            zs.append(np.stack(chunk_z, 1) if chunk_z else np.zeros((len(t), 0)))
    return _Trajectory(*(np.concatenate(a) for a in (logits, q_halt, ys, zs)))


def _compare(ref: np.ndarray, got: np.ndarray, answer: slice) -> dict[str, Any]:
    """Max |logit| difference and argmax agreement over the answer tokens, with near-ties counted apart."""
    if ref.size == 0:
        return {"max_logit_diff": 0.0, "cells": 0, "argmax_mismatches": 0, "ties": 0, "max_abs_logit": 0.0}
    diff = float(np.abs(ref - got).max())
    r, g = ref[..., answer], got[..., answer]
    mismatch = r.argmax(-1) != g.argmax(-1)
    top2 = np.sort(r, axis=-1)[..., -2:]
    margin = top2[..., 1] - top2[..., 0]
    ties = mismatch & (margin <= 2 * diff)
    return {
        "max_logit_diff": diff,
        "cells": int(mismatch.size),
        "argmax_mismatches": int(mismatch.sum()),
        "ties": int(ties.sum()),
        "max_abs_logit": float(np.abs(ref).max()),
    }


def _session(path: Path) -> tuple[Any, float]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    start = time.perf_counter()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session, time.perf_counter() - start


def _drift(model: TRM, tokens: np.ndarray, ref: _Trajectory, rows: np.ndarray) -> list[float]:
    """How far PyTorch's own logits move, step by step, when the carried state is nudged by one fp32
    rounding unit before every step: the error growth any fp32 runtime must be allowed, since a runtime
    rounds differently at every step, not only at the start. A randomly initialised full-size TRM is
    chaotic (whole logits after one step); a well-conditioned one stays near rounding. A trained one can
    be both: the maze model is steady on small mazes and amplifies rounding over 32 steps on 30x30 ones
    it is still working out, so ``rows`` takes puzzles from every source, and the ones the runtime is
    furthest on: a network can be steady on most puzzles and sensitive on a few it has not settled."""
    n = len(rows)
    t = torch.from_numpy(tokens[rows])
    noise = torch.Generator().manual_seed(0)
    drift = []
    with torch.no_grad():
        y, z = model.initial_state(n)
        for k in range(ref.logits.shape[1]):
            y = y * (1 + _EPS * torch.randn(y.shape, generator=noise))
            z = z * (1 + _EPS * torch.randn(z.shape, generator=noise))
            y, z, logits, _ = model(t, y, z)
            drift.append(float(np.abs(logits.numpy() - ref.logits[rows, k]).max()))
    return drift


def _rounding_effect(
    unrounded: TRM,
    rounded: TRM,
    tokens: np.ndarray,
    ref: _Trajectory,
    threshold: float,
    answer: slice,
    batch: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """How much storing the weights in fp16 changes PyTorch's answers (reported, never judged)."""
    unchanged = all(
        torch.equal(a, b)
        for a, b in zip(unrounded.state_dict().values(), rounded.state_dict().values(), strict=True)
    )
    if unchanged:  # e.g. a compact checkpoint's EMA, already stored in fp16
        return {"weights_already_fp16": True, "puzzles": 0}
    n = min(len(tokens), _ROUNDING_PUZZLES)
    say(f"parity: PyTorch before fp16 rounding, {n} puzzles")
    raw = _trajectory(unrounded.eval(), tokens[:n], ref.q_halt.shape[1], 0, batch)
    K = raw.q_halt.shape[1]
    final = _compare(raw.logits[:, -1], ref.logits[:n, -1], answer)
    return {
        "weights_already_fp16": False,
        "puzzles": n,
        "max_logit_diff_all_steps": float(np.abs(raw.logits - ref.logits[:n]).max()),
        "argmax_mismatches_last_step": final["argmax_mismatches"],
        "cells": final["cells"],
        "halting_agree": int(
            (halting_steps(raw.q_halt, threshold, K) == halting_steps(ref.q_halt[:n], threshold, K)).sum()
        ),
    }


def check_parity(
    model: TRM,
    step_path: str | Path,
    unrolled_path: str | Path,
    sets: list[VerifySet],
    *,
    unrounded: TRM | None = None,
    threshold: float = 0.5,
    carried_steps: int = 3,
    logit_rtol: float = 1e-3,
    answer_tokens: slice | None = None,
    exact: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None,
    batch: int = 16,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run both graphs on every set's puzzles and compare with ``model`` (weights already fp16-rounded).

    Returns the results (JSON-ready) with ``passed`` true, or raises ExportError with the numbers. Logit
    and q_halt differences are accepted up to ``logit_rtol * max(1, max |logit|, max |q_halt|)``.
    ``unrounded``, if given, is the model before rounding; its difference from ``model`` is reported,
    never judged. ``exact`` (predicted, question, answer tokens -> bool per puzzle) judges whole answers
    for the solved counts, as the task's ``exact_tokens`` does in training (a maze accepts any shortest
    path); the default is every token equal.
    """
    say = log or (lambda _msg: None)
    cfg = model.cfg
    K = cfg.N_sup
    answer = answer_tokens or slice(None)
    sets = [s for s in sets if len(s.tokens)]
    if not sets:
        raise ExportError("parity check needs at least one puzzle")
    tokens = np.ascontiguousarray(np.concatenate([s.tokens for s in sets]), np.int64)
    N = len(tokens)
    carried = min(carried_steps, K)
    model.eval()

    say(f"parity: PyTorch reference, {N} puzzles x {K} steps")
    ref = _trajectory(model, tokens, K, carried, batch)
    step_session, step_load_s = _session(Path(step_path))
    unrolled_session, unrolled_load_s = _session(Path(unrolled_path))

    # The step graph, one step at a time from PyTorch's state (first=True with zero state on step 1):
    # each step's error on its own, which a network that amplifies rounding cannot hide or inflate.
    # Carrying its own state is the unrolled graph's check, with the room PyTorch's drift measures.
    say(f"parity: step graph, {carried} steps from PyTorch's state")
    step_logits, step_q, step_y = [], [], []
    for lo in range(0, N, batch):
        t = tokens[lo : lo + batch]
        y = np.zeros((len(t), cfg.length, cfg.hidden), np.float32)
        z, first = y.copy(), np.ones(len(t), bool)
        chunk: list[tuple[np.ndarray, ...]] = []
        for k in range(carried):
            if k:
                y, z = ref.y[lo : lo + batch, k - 1], ref.z[lo : lo + batch, k - 1]
            out_y, _, logits, q = step_session.run(None, {"tokens": t, "y": y, "z": z, "first": first})
            first = np.zeros(len(t), bool)
            chunk.append((logits, q, out_y))
        step_logits.append(np.stack([c[0] for c in chunk], 1))
        step_q.append(np.stack([c[1] for c in chunk], 1))
        step_y.append(np.stack([c[2] for c in chunk], 1))
    got_l, got_q, got_y = (np.concatenate(a) for a in (step_logits, step_q, step_y))
    step_result = {
        "steps": carried,
        **_compare(ref.logits[:, :carried], got_l, answer),
        "max_q_halt_diff": float(np.abs(ref.q_halt[:, :carried] - got_q).max()),
        "max_state_diff": float(np.abs(ref.y - got_y).max()),
    }

    # The unrolled graph: every step first (it bounds the q_halt error), then with halting.
    def run_unrolled(thr: float) -> tuple[np.ndarray, ...]:
        outs = []
        for lo in range(0, N, batch):
            feeds = {
                "tokens": tokens[lo : lo + batch],
                "halt_threshold": np.array(thr, np.float32),
                "max_steps": np.array(K, np.int64),
            }
            outs.append(unrolled_session.run(None, feeds))
        return tuple(np.concatenate([o[i] for o in outs]) for i in range(3))

    rows = np.arange(N)
    unrolled: dict[str, dict[str, Any]] = {}
    answers: dict[str, np.ndarray] = {}
    q_err = step_result["max_q_halt_diff"]
    worst = np.zeros(0, np.int64)
    for name, thr in (("all_steps", NEVER), ("halting", threshold)):
        say(f"parity: unrolled graph, {name.replace('_', ' ')} (threshold {thr:g})")
        logits, q, steps = run_unrolled(thr)
        ref_steps = halting_steps(ref.q_halt, thr, K)
        same = steps == ref_steps
        ref_logits = ref.logits[rows, ref_steps - 1]
        ref_q = ref.q_halt[rows, ref_steps - 1]
        q_diff = float(np.abs(ref_q[same] - q[same]).max()) if same.any() else 0.0
        q_err = max(q_err, q_diff)
        # A halting step may differ only where sigmoid(q) sits within rounding of the threshold.
        first_stop = np.minimum(steps, ref_steps) - 1
        distance = np.abs(probability(ref.q_halt[rows, first_stop]) - thr)
        near = ~same & (distance <= 0.25 * q_err + 1e-6)  # sigmoid's slope is at most 1/4
        unrolled[name] = {
            "threshold": thr,
            **_compare(ref_logits[same], logits[same], answer),
            "max_q_halt_diff": q_diff,
            "halting_agree": int(same.sum()),
            "halting_disagree": int((~same).sum()),
            "halting_near_threshold": int(near.sum()),
            "mean_steps": float(steps.mean()),
            "mean_steps_pytorch": float(ref_steps.mean()),
        }
        answers[name] = logits
        if name == "all_steps":
            per_row = np.abs(ref_logits - logits).reshape(N, -1).max(1)
            worst = np.argsort(per_row)[-_DRIFT_PUZZLES:]

    say("parity: PyTorch's own drift under a rounding-sized nudge")
    starts = np.cumsum([0] + [len(s.tokens) for s in sets])[:-1]
    first_rows = [
        start + np.arange(min(len(s.tokens), _DRIFT_PUZZLES)) for start, s in zip(starts, sets, strict=True)
    ]
    drift_rows = np.unique(np.concatenate([*first_rows, worst]))
    drift = _drift(model, tokens, ref, drift_rows)

    scale = max(
        1.0,
        step_result["max_abs_logit"],
        *(u["max_abs_logit"] for u in unrolled.values()),
        float(np.abs(ref.q_halt).max()),
    )
    # One step must match to rounding. Over all N_sup carried steps the error may grow as PyTorch's own
    # does: a well-conditioned model stays near rounding, a sensitive one needs room, and a chaotic one
    # (random weights) needs the room its drift, recorded beside the result, shows.
    tolerance = logit_rtol * scale  # for the halting logits too
    carried_tolerance = max(tolerance, _DRIFT_FACTOR * max(drift))
    problems = []
    checks = [("step graph", step_result, tolerance)]
    checks += [(f"unrolled ({k})", v, carried_tolerance) for k, v in unrolled.items()]
    for label, res, limit in checks:
        if res["max_logit_diff"] > limit:
            problems.append(f"{label}: max |logit| diff {res['max_logit_diff']:.3g} > tolerance {limit:.3g}")
        if res["max_q_halt_diff"] > limit:
            problems.append(
                f"{label}: max |q_halt| diff {res['max_q_halt_diff']:.3g} > tolerance {limit:.3g}"
            )
        if res["argmax_mismatches"] > res["ties"]:
            problems.append(
                f"{label}: {res['argmax_mismatches'] - res['ties']} of {res['cells']} answer cells differ "
                f"beyond near-ties (top-2 margin > 2 x {res['max_logit_diff']:.3g})"
            )
        if res.get("halting_disagree", 0) > res.get("halting_near_threshold", 0):
            problems.append(
                f"{label}: halting step differs on {res['halting_disagree'] - res['halting_near_threshold']} "
                f"of {N} puzzles away from the threshold"
            )

    result: dict[str, Any] = {
        "passed": not problems,
        "reference": "PyTorch fp32, weights rounded to fp16",
        "runtime": "onnxruntime CPUExecutionProvider",
        "puzzles": {s.name: len(s.tokens) for s in sets},
        "logit_tolerance": {"step": tolerance, "unrolled": carried_tolerance},
        "tie_rule": "argmax may differ only where PyTorch's top-2 margin <= 2 x max logit diff",
        "session_seconds": {"step": step_load_s, "unrolled": unrolled_load_s},
        "pytorch_drift": {
            "puzzles": len(drift_rows),
            "chosen": f"the first {_DRIFT_PUZZLES} of each source and the {_DRIFT_PUZZLES} the unrolled "
            "graph is furthest on",
            "nudge": "carried y, z scaled by 1 + 2^-23 * N(0, 1) before every step",
            "max_logit_change_by_step": drift,
        },
        "step": step_result,
        "unrolled": unrolled,
    }
    if unrounded is not None:
        result["fp16_rounding"] = _rounding_effect(
            unrounded, model, tokens, ref, threshold, answer, batch, say
        )
    judge = exact or (lambda pred, _questions, targets: (pred == targets).all(-1))
    solved: dict[str, dict[str, int]] = {}
    offset = 0
    for s in sets:
        if s.targets is not None:
            part = slice(offset, offset + len(s.tokens))
            for name, logits in answers.items():
                pred = logits[part].argmax(-1)  # every token, as training's evaluation reads them
                right = judge(pred, s.tokens, s.targets)
                solved.setdefault(s.name, {})[name] = int(np.count_nonzero(right))
        offset += len(s.tokens)
    if solved:
        result["solved"] = solved

    if problems:
        hint = ""
        if drift[0] > tolerance:
            hint = (
                f"; note that PyTorch's own logits move by {drift[0]:.3g} after one step when its starting "
                "state is nudged by one rounding unit: the network amplifies rounding (typical of random, "
                "untrained weights), so no fp32 runtime can match it closely"
            )
        raise ExportError("parity check failed: " + "; ".join(problems) + hint)
    return result
