"""Export a trained TRM to the model directory the runtime loads: step.onnx, unrolled.onnx, manifest.json.

Order of work: load the checkpoint, round the weights to fp16 (what the graphs store), trace the step
graph, compose the unrolled graph, check both against PyTorch with ONNX Runtime, and only then write the
manifest. A directory whose check failed keeps its graphs for inspection but has no manifest, so no
runtime will load it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import platform
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from trm_sdk import training_log
from trm_sdk.errors import TRMError
from trm_sdk.manifest import (
    FILES,
    FORMAT_VERSION,
    MANIFEST_NAME,
    STEP_FILE,
    UNROLLED_FILE,
    WEIGHTS_FILE,
    Manifest,
    jsonable,
    load_manifest,
    sha256_file,
    write_manifest,
)
from trm_sdk.network import TRM
from trm_sdk.tasks import Task, get_task
from trm_sdk.tasks.registry import source_record
from trm_sdk.train.curve import learning_curve

from . import onnx_graphs
from .defaults import DEFAULT_N_VERIFY, DEFAULT_OPSET, DEFAULT_THRESHOLD
from .onnx_graphs import ExportError, io_spec, round_weights_fp16, set_metadata
from .parity import VerifySet, check_parity
from .weights import check_against_graph, save_weights, state_arrays

__all__ = ["DEFAULT_N_VERIFY", "STEP_FILE", "UNROLLED_FILE", "export_onnx"]

log = logging.getLogger("trm_sdk.export")

Progress = bool | Callable[[str], None]


def _reporter(progress: Progress) -> Callable[[str], None]:
    if callable(progress):
        return progress
    return log.info if progress else (lambda _msg: None)


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("trm-sdk")
    except PackageNotFoundError:  # running from a source tree that was never installed
        import trm_sdk

        return str(getattr(trm_sdk, "__version__", "unknown"))


def _config_sha256(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------------------------------
# The task: its token layout and the puzzles the parity check runs on


def _task_encoding(task: Task, model: TRM) -> dict[str, Any]:
    encoding = task.encoding()  # the runtime checks a model's manifest against exactly this
    cfg = model.cfg
    if (cfg.vocab_size, cfg.seq_len) != (encoding["vocab_size"], encoding["seq_len"]):
        raise ExportError(
            f"the checkpoint's model has vocab_size {cfg.vocab_size} and seq_len {cfg.seq_len}; the "
            f"{task.name} codec needs {encoding['vocab_size']} and {encoding['seq_len']}: "
            "was it trained for another task?"
        )
    return encoding


def _verify_sets(
    task: Task, n: int, levels: Sequence[str], files: Sequence[str | Path], seed: int
) -> list[VerifySet]:
    """``n`` puzzles per source: the task's random tokens, each generator level, each file."""
    rng = np.random.default_rng(seed)
    sets = [VerifySet("random", task.random_tokens(rng, n))]
    for level in levels:
        try:
            pairs = [task.generate(rng, level) for _ in range(n)]
        except (KeyError, ValueError) as exc:
            raise ExportError(f"cannot generate {level!r} puzzles to verify on: {exc}") from exc
        puzzles, answers = (np.stack([pair[i] for pair in pairs]) for i in (0, 1))
        sets.append(VerifySet(f"generated-{level}", task.encode(puzzles), task.encode(answers)))
    for path in files:
        try:
            data = task.load(path, limit=n)
        except (OSError, ValueError) as exc:
            raise ExportError(f"cannot read --verify-data {path}: {exc}") from exc
        targets = None if data.solutions is None else task.encode(data.solutions)
        name = data.name or Path(path).name
        while name in {s.name for s in sets}:  # two files with one stem stay apart in the report
            name += "'"
        sets.append(VerifySet(name, task.encode(data.puzzles), targets))
    return sets


# --------------------------------------------------------------------------------------------------


def _load(source: str | Path | TRM, body: dict[str, Any] | None, weights: str) -> tuple[TRM, dict, dict]:
    if isinstance(source, TRM):
        return source, dict(body or {}), {"file": None, "sha256": None}
    from trm_sdk.train import checkpoint

    path = Path(source)
    if not path.exists():
        raise ExportError(f"checkpoint not found: {path}")
    try:
        model, loaded = checkpoint.load_model(path, weights=weights)
    except Exception as exc:  # torch.load raises pickle, zip and runtime errors alike for a bad file
        raise ExportError(f"cannot load checkpoint {path}: {exc}") from exc
    # A split state folder is identified by its index, which holds every file's sha256.
    ident = path / checkpoint.SPLIT_INDEX if path.is_dir() else path
    return model, loaded, {"file": path.name, "sha256": sha256_file(ident), "weights": weights}


def _graph_stats(proto: onnx.ModelProto, path: Path, seconds: float) -> dict[str, Any]:
    init_bytes = {"fp16": 0, "fp32": 0}
    for init in proto.graph.initializer:
        if init.data_type == onnx.TensorProto.FLOAT16:
            init_bytes["fp16"] += len(init.raw_data)
        elif init.data_type == onnx.TensorProto.FLOAT:
            init_bytes["fp32"] += len(init.raw_data) or 4 * len(init.float_data)
    return {
        "nodes": len(proto.graph.node),
        "initializers": len(proto.graph.initializer),
        "weight_bytes": init_bytes,
        "bytes": path.stat().st_size,
        "build_seconds": round(seconds, 3),
    }


def export_onnx(
    source: str | Path | TRM,
    out_dir: str | Path,
    *,
    body: dict[str, Any] | None = None,
    task: str | None = None,
    weights: str = "ema",
    precision: str = "float16",
    verify_data: Sequence[str | Path] = (),
    n_verify: int = DEFAULT_N_VERIFY,
    levels: Sequence[str] | None = None,
    opset: int = DEFAULT_OPSET,
    seed: int = 0,
    progress: Progress = True,
) -> Manifest:
    """Export a checkpoint (a path) or an in-memory ``TRM`` (with its checkpoint ``body``) to ``out_dir``.

    ``n_verify`` puzzles per source are checked: random tokens, each generator level in ``levels``
    (default: the task's ``export_levels``), and each file in ``verify_data``. ``precision`` is how the
    weights are stored: "float16" (the default: half the bytes, and what the web page downloads) or
    "float32" (a checkpoint's numbers exactly). ``progress`` is True (log lines on the "trm_sdk.export"
    logger), False, or a callable taking each message. Raises ExportError if anything fails, including
    parity; returns the written manifest.
    """
    say = _reporter(progress)
    if n_verify < 1:
        raise ExportError(f"n_verify must be at least 1, got {n_verify}")
    if weights not in ("ema", "model"):
        raise ExportError(f"weights must be 'ema' or 'model', not {weights!r}")
    if precision not in ("float16", "float32"):
        raise ExportError(f"precision must be 'float16' or 'float32', not {precision!r}")

    say(f"loading {source if not isinstance(source, TRM) else 'in-memory model'}")
    model, body, source_info = _load(source, body, weights)
    task_name = task or body.get("task") or "sudoku"  # checkpoints older than the maze task name none
    if body.get("task") not in (None, task_name):
        raise ExportError(f"the checkpoint was trained for task {body['task']!r}, not {task_name!r}")
    try:
        the_task = get_task(task_name)
    except TRMError as exc:
        raise ExportError(f"cannot export: {exc}") from exc
    cfg = model.cfg
    encoding = _task_encoding(the_task, model)
    model = copy.deepcopy(model).float().eval()  # the caller's model stays as it was
    # float32 keeps the checkpoint's numbers, for parity with another implementation to the last digit.
    rounded = round_weights_fp16(model) if precision == "float16" else model
    levels = the_task.export_levels if levels is None else levels
    # Before the slow part: a bad file fails fast.
    sets = _verify_sets(the_task, n_verify, levels, verify_data, seed)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_NAME).unlink(missing_ok=True)  # a failed export must not leave a loadable directory
    config = cfg.to_dict()
    version = _package_version()
    meta = {
        "task": the_task.name,
        "model_config": json.dumps(config, sort_keys=True),
        "model_config_sha256": _config_sha256(config),
        "manifest_format": str(FORMAT_VERSION),
        "producer": f"trm-sdk {version}",
    }

    stats: dict[str, dict[str, Any]] = {}
    say(f"exporting {STEP_FILE} (opset {opset}, hidden {cfg.hidden}, T={cfg.T}, n={cfg.n})")
    start = time.perf_counter()
    step = onnx_graphs.build_step_graph(rounded, opset)
    set_metadata(step, {**meta, "graph": "step"})
    onnx.save(step, out / STEP_FILE)
    stats["step"] = _graph_stats(step, out / STEP_FILE, time.perf_counter() - start)

    say(f"composing {UNROLLED_FILE} ({cfg.N_sup} supervision steps)")
    start = time.perf_counter()
    graph = onnx_graphs.compose_unrolled_graph(step, cfg)
    set_metadata(graph, {**meta, "graph": "unrolled"})
    onnx.save(graph, out / UNROLLED_FILE)
    stats["unrolled"] = {
        **_graph_stats(graph, out / UNROLLED_FILE, time.perf_counter() - start),
        "method": "compose",
    }

    say(f"checking parity on {sum(len(s.tokens) for s in sets)} puzzles ({', '.join(s.name for s in sets)})")
    try:
        parity = check_parity(
            rounded,
            out / STEP_FILE,
            out / UNROLLED_FILE,
            sets,
            unrounded=model if precision == "float16" else None,
            threshold=DEFAULT_THRESHOLD,
            answer_tokens=the_task.answer_tokens,
            exact=the_task.exact_tokens,
            log=say,
        )
    except ExportError as exc:
        raise ExportError(f"{exc} (graphs left in {out} for inspection; no manifest written)") from exc
    for role in ("step", "unrolled"):
        stats[role]["session_seconds"] = round(parity["session_seconds"][role], 3)
    # The same fp16 weights under the network's own names, for the CUDA backend (PyTorch on the GPU).
    check_against_graph(state_arrays(rounded), out / STEP_FILE)
    save_weights(rounded, out / WEIGHTS_FILE)

    import onnxruntime
    import torch

    info = jsonable(dict(body.get("info") or {}))
    evaluation = info.pop("evaluation", {})
    training = {
        **info,
        "step": body.get("step"),
        "train_config": jsonable(body.get("train_config")),
        "learning_curve": learning_curve(info),  # the earlier runs' curve included: once is enough
    }
    if isinstance(info.get("init_from"), dict):
        training["init_from"] = {k: v for k, v in info["init_from"].items() if k != "learning_curve"}
    # The manifest keeps a short card; the curve and the run records go to the log beside it.
    card, log_record = training_log.split(training)
    fields = {
        "task": the_task.name,
        "task_source": source_record(the_task),
        "encoding": encoding,
        "model": config,
        "halting": {"threshold": DEFAULT_THRESHOLD, "max_steps": cfg.N_sup},
        "precision": {"interface": "float32", "weights": precision, "compute": "float32"},
        "files": dict(FILES),
        "opset": opset,
        "io": io_spec(cfg),
        "graphs": stats,
        "training": card,
        "evaluation": evaluation,
        "parity": jsonable(parity),
        "exported_with": {
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "trm_sdk": version,
            "python": platform.python_version(),
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "source_checkpoint": source_info,
    }
    training_log.write(out, log_record)
    write_manifest(out, fields)
    say(f"wrote {out / MANIFEST_NAME} and {training_log.TRAINING_LOG_NAME}")
    return load_manifest(out)
