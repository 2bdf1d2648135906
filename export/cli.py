"""``trm-export``: turn a training checkpoint into the model directory the runtime ships. A thin command:
the work, and every check, is in :func:`trm_sdk.export.export_onnx`.

PyTorch and onnx (the ``export`` extra) are imported when an export starts, not here: ``trm-export
--help`` works in an install that has only the runtime, and an export there fails with the line that
names the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from trm_sdk.cli.common import TASK, TASK_HELP
from trm_sdk.errors import TRMError

from .defaults import DEFAULT_N_VERIFY, DEFAULT_OPSET, SUPPORTED_OPSETS

NEEDS = "trm-export needs PyTorch and onnx: pip install 'trm-sdk[export]'"


def _require_export_extra() -> None:
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise click.ClickException(NEEDS) from exc


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def _summary(manifest: Any) -> list[str]:
    raw = manifest.raw
    lines = [f"exported {raw['task']} model to {manifest.directory}"]
    for role, entry in manifest.files.items():
        g = raw.get("graphs", {}).get(role, {})
        lines.append(
            f"  {entry['path']:<14} {_size(entry['bytes']):>9}  {g.get('nodes', '?'):>6} nodes  built in "
            f"{g.get('build_seconds', 0):.1f} s, ONNX Runtime loads it in {g.get('session_seconds', 0):.1f} s"
        )
    parity = raw["parity"]
    step, units = parity["step"], parity["unrolled"]
    lines.append(
        f"parity ({sum(parity['puzzles'].values())} puzzles: "
        + ", ".join(f"{k} {v}" for k, v in parity["puzzles"].items())
        + ")"
    )
    lines.append(
        f"  step graph, {step['steps']} steps from PyTorch's state: "
        f"max |logit| diff {step['max_logit_diff']:.2g}, "
        f"argmax differs on {step['argmax_mismatches']} of {step['cells']} cells ({step['ties']} near-ties)"
    )
    for name, u in units.items():
        lines.append(
            f"  unrolled, {name.replace('_', ' ')}: max |logit| diff {u['max_logit_diff']:.2g}, "
            f"argmax differs on {u['argmax_mismatches']} cells ({u['ties']} near-ties), halting agrees on "
            f"{u['halting_agree']}/{u['halting_agree'] + u['halting_disagree']}, "
            f"mean steps {u['mean_steps']:.2f}"
        )
    rounding = parity.get("fp16_rounding", {})
    if rounding.get("weights_already_fp16"):
        lines.append("  fp16 weights: the checkpoint's weights were fp16 already, nothing was rounded")
    elif rounding:
        lines.append(
            f"  fp16 weights vs fp32 (PyTorch, {rounding['puzzles']} puzzles): max |logit| diff "
            f"{rounding['max_logit_diff_all_steps']:.2g}, {rounding['argmax_mismatches_last_step']} of "
            f"{rounding['cells']} answers differ, halting agrees on {rounding['halting_agree']}"
        )
    solved = parity.get("solved", {})
    if solved:
        counts = ", ".join(
            f"{src} {r['halting']}/{r['all_steps']} of {parity['puzzles'][src]}" for src, r in solved.items()
        )
        lines.append(f"  ONNX answers exactly right (with halting/every step): {counts}")
    tol = parity["logit_tolerance"]
    lines.append(f"  logit tolerance {tol['step']:.2g} (step), {tol['unrolled']:.2g} (unrolled): passed")
    return lines


def _export_web(task: str, model_dir: Path | None, out: Path, puzzles: int, quiet: bool) -> None:
    """The static web folder of an exported model (default: the shipped one), with onnxruntime-web."""
    from trm_sdk.shipped import model_dir as shipped

    from .web import build_web

    def progress(message: str) -> None:
        if not quiet:
            click.echo(f"[trm-export] {message}", err=True)

    try:
        built = build_web(model_dir or shipped(task), out, puzzles_per_level=puzzles, progress=progress)
    except (TRMError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"web page for the {built.task} model in {built.out} ({_size(built.bytes)}, onnxruntime-web "
        f"{built.onnxruntime_web}, {built.puzzles} generated puzzles) in {built.seconds:.1f} s; "
        f"serve it with: trm web serve {built.out}"
    )


def _export_tensorrt(task: str, model_dir: Path | None, out: Path, precision: str, max_batch: int) -> None:
    """Build (or find cached) the engine of an exported model into ``out``: the same builder, file
    names and sidecar as the runtime's cache, so ``TRM_SDK_CACHE=OUT`` makes a Solver use it."""
    from trm_sdk.backends.tensorrt import TensorRTBackend
    from trm_sdk.manifest import load_manifest
    from trm_sdk.shipped import model_dir as shipped

    reason = TensorRTBackend.availability()
    if reason:
        raise click.ClickException(
            f"cannot build a TensorRT engine here: {reason}. It needs {TensorRTBackend.requires}; "
            "install with: pip install 'trm-sdk[tensorrt]'"
        )
    try:
        manifest = load_manifest(model_dir or shipped(task))
        backend = TensorRTBackend(manifest, precision=precision, max_batch=max_batch, cache=out)
    except (TRMError, OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    meta = backend.metadata
    click.echo(
        f"TensorRT {meta['tensorrt']} engine for {meta['gpu']} (sm {meta['compute_capability']}), "
        f"{meta['precision']}, batch 1..{meta['profile']['max_batch']}: {backend.engine_path} "
        f"({meta['engine_bytes'] / 2**20:.1f} MiB, sidecar {backend.engine_path.with_suffix('.json').name})"
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trm-sdk", prog_name="trm-export")
@click.option(
    "--task",
    type=TASK,
    default=None,
    help=f"{TASK_HELP} [default: the checkpoint's task; for tensorrt and web without --model, sudoku]",
)
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path),
    help="Training checkpoint written by trm-train: latest.pt, or a --save-state folder (--format onnx).",
)
@click.option(
    "--from-reference",
    "reference",
    type=click.Path(exists=True, path_type=Path),
    help="Instead of --checkpoint: a checkpoint of the reference TRM code (its step_N file, or the folder "
    "holding it and all_config.yaml), imported into our network and exported (--format onnx).",
)
@click.option(
    "--model",
    "model_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="--format tensorrt or web: the exported ONNX model folder (default: the model shipped for --task).",
)
@click.option(
    "--precision",
    type=click.Choice(["fp16", "bf16", "fp32"]),
    default="fp16",
    show_default=True,
    help="--format tensorrt: the engine's compute precision. --format onnx: how the weights are stored, "
    "fp16 (the runtime contract: half the bytes) or fp32 (the checkpoint's numbers exactly).",
)
@click.option(
    "--max-batch",
    type=click.IntRange(min=1),
    default=2048,
    show_default=True,
    help="--format tensorrt: the largest batch of the engine's profile (larger ones are split).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["onnx", "tensorrt", "web"]),
    default="onnx",
    show_default=True,
    help="onnx: graphs and manifest from a checkpoint; tensorrt: an engine for this machine's GPU; "
    "web: a static web page that runs the model in the browser (needs Node.js and npm to build).",
)
@click.option(
    "--puzzles",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="--format web: generated puzzles per difficulty level in the page's list.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write: the model directory (onnx: step.onnx, unrolled.onnx, manifest.json), the "
    "engine cache (tensorrt) or the static web folder (web).",
)
@click.option(
    "--verify-data",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Puzzle file to check parity on as well (repeatable).",
)
@click.option(
    "--n-verify",
    type=click.IntRange(min=1),
    default=DEFAULT_N_VERIFY,
    show_default=True,
    help="Puzzles per source (random, each generator level, each --verify-data file).",
)
@click.option(
    "--opset",
    type=click.IntRange(SUPPORTED_OPSETS.start, SUPPORTED_OPSETS.stop - 1),
    default=DEFAULT_OPSET,
    show_default=True,
    help="ONNX opset; the runtime contract is 17.",
)
@click.option(
    "--weights",
    type=click.Choice(["ema", "model"]),
    default="ema",
    show_default=True,
    help="Which weights of the checkpoint to export.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only the final summary.")
def main(
    task: str | None,
    checkpoint: Path | None,
    reference: Path | None,
    model_dir: Path | None,
    precision: str,
    max_batch: int,
    fmt: str,
    puzzles: int,
    out: Path,
    verify_data: tuple[Path, ...],
    n_verify: int,
    opset: int,
    weights: str,
    quiet: bool,
) -> None:
    """Export a TRM checkpoint to ONNX and check the graphs against PyTorch.

    Writes step.onnx (one supervision step), unrolled.onnx (all steps with halting) and manifest.json
    (checksums, encoding, parity results) into --out. Fails, without writing the manifest, if ONNX
    Runtime's answers differ from PyTorch's beyond rounding. Needs the export extra (PyTorch, onnx).

    --format tensorrt instead builds a TensorRT engine of an exported model for this machine's GPU
    (the tensorrt extra). --format web writes a static folder that plays an exported model in a web
    page with onnxruntime-web (fetched with npm ci); serve it with: trm web serve OUT.

    --from-reference imports a checkpoint trained with the reference TRM code: the task is read from
    its vocabulary unless --task is given, and the model halts as the reference evaluates (every step)
    until trm calibrate chooses its stop.
    """
    if fmt == "tensorrt":
        _export_tensorrt(task or "sudoku", model_dir, out, precision, max_batch)
        return
    if fmt == "web":
        _export_web(task or "sudoku", model_dir, out, puzzles, quiet)
        return
    if (checkpoint is None) == (reference is None):
        raise click.UsageError("--format onnx needs one of --checkpoint and --from-reference")
    if precision == "bf16":
        raise click.UsageError("--format onnx stores weights as fp16 or fp32; bf16 is a TensorRT precision")
    _require_export_extra()

    def progress(message: str) -> None:
        click.echo(f"[trm-export] {message}", err=True)

    stored = {"fp16": "float16", "fp32": "float32"}[precision]
    try:
        if reference is not None:
            from .reference import import_reference

            manifest = import_reference(
                reference,
                out,
                task=task,
                precision=stored,
                verify_data=verify_data,
                n_verify=n_verify,
                opset=opset,
                progress=False if quiet else progress,
            )
        else:
            from .exporter import export_onnx

            manifest = export_onnx(
                checkpoint,  # type: ignore[arg-type]  # not None: checked above
                out,
                task=task,
                weights=weights,
                precision=stored,
                verify_data=verify_data,
                n_verify=n_verify,
                opset=opset,
                progress=False if quiet else progress,
            )
    except (TRMError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    for line in _summary(manifest):
        click.echo(line)
