"""``trm-train``: fit a TRM from the command line, with a wall-clock budget and exact resume.

PyTorch (the ``train`` extra) is imported when a run starts, not here: ``trm-train --help`` works in an
install that has only the runtime, and a run there fails with the line that names the fix.

Data-parallel: ``torchrun --nproc_per_node N -m trm_sdk.train.cli ...`` runs this command in N processes
(``--nproc N`` starts torchrun itself, on one machine). Rank 0 alone prints, shows progress and saves.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from trm_sdk import __version__
from trm_sdk.cli.common import TASK, TASK_HELP
from trm_sdk.errors import TRMError
from trm_sdk.tasks import get_task

if TYPE_CHECKING:
    from .trainer import Trainer

NEEDS = "trm-train needs PyTorch: pip install 'trm-sdk[train]'"


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise click.ClickException(NEEDS) from exc


def _parse_overrides(
    pairs: tuple[str, ...], model_keys: set[str], train_keys: set[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    model: dict[str, Any] = {}
    train: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--set")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text  # bare strings such as mixer=attention
        if key in model_keys:
            model[key] = value
        elif key in train_keys:
            train[key] = value
        else:
            raise click.BadParameter(
                f"unknown key {key!r}; model keys: {', '.join(sorted(model_keys))}; "
                f"train keys: {', '.join(sorted(train_keys))}",
                param_hint="--set",
            )
    return model, train


def _show(text: str | None) -> str | None:
    return text


class _KeepsArgs(click.Command):
    """A command that remembers its raw arguments, for ``--nproc`` to hand them on to torchrun."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["raw_args"] = list(args)
        return super().parse_args(ctx, args)


def _without_nproc(args: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def _launch(nproc: int, args: list[str]) -> None:
    """This command in ``nproc`` processes on this machine, through torchrun's own launcher."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    try:
        torchrun(["--standalone", "--nproc_per_node", str(nproc), "-m", "trm_sdk.train.cli", *args])
    except ChildFailedError as exc:
        raise click.ClickException(f"a training process failed; the job stopped.{exc}") from None


@click.command(cls=_KeepsArgs, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trm-train")
@click.option(
    "--task",
    type=TASK,
    default="sudoku",
    show_default=True,
    help=f"{TASK_HELP} It sets the network's defaults (the task's model_defaults) and its curricula.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for latest.pt (resumable) and ema_weights.pt (default: runs/TASK).",
)
@click.option(
    "--resume",
    "resume",
    type=click.Path(exists=True, path_type=Path),
    help="Continue from this checkpoint (a file, or a --save-state folder): weights, EMA, optimizer "
    "moments, step, schedule, data position. --set may change training settings and the recursion "
    "(T, n, N_sup), not the network's shape.",
)
@click.option(
    "--init-from",
    "init_from",
    type=click.Path(exists=True, path_type=Path),
    help="Start from an exported model folder's weights (its network settings, fresh optimizer moments, "
    "step 0), or from a checkpoint of the reference TRM code (step_N beside all_config.yaml). For "
    "continuing a model whose resumable state is gone, or fine-tuning one; --resume is exact.",
)
@click.option("--minutes", type=float, default=0.0, help="Wall-clock budget; saves before it runs out.")
@click.option("--steps", type=int, default=0, help="Stop at this total optimizer step (0: no limit).")
@click.option(
    "--data",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Training-allowed puzzle file (repeatable); evaluation-only sets are refused.",
)
@click.option(
    "--eval-data",
    "eval_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Held-out set scored at the end (16 steps and halting; repeatable; evaluation-only sets welcome).",
)
@click.option(
    "--save-state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write the resumable state as a folder of files under 15 MiB each, the form that is committed.",
)
@click.option(
    "--speed-probe",
    type=int,
    default=0,
    help="With --compile: run this many steps eagerly, then compiled, and report the speed ratio.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a model or training setting, e.g. --set hidden=128 --set batch_size=64.",
)
@click.option("--device", default=None, help="auto, cpu, cuda, cuda:N (default: auto).")
@click.option("--compile/--no-compile", "compile_", default=None, help="torch.compile the step.")
@click.option(
    "--nproc",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Train data-parallel in this many processes on this machine (one per GPU; starts torchrun). "
    "batch_size stays the global batch. For several machines run torchrun yourself.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def main(
    task: str,
    out_dir: Path | None,
    resume: Path | None,
    init_from: Path | None,
    minutes: float,
    steps: int,
    files: tuple[str, ...],
    eval_files: tuple[str, ...],
    state_dir: Path | None,
    speed_probe: int,
    overrides: tuple[str, ...],
    device: str | None,
    compile_: bool | None,
    nproc: int,
    quiet: bool,
) -> None:
    """Train a Tiny Recursive Model with deep supervision, ACT halting, EMA and a curriculum."""
    _require_torch()
    from trm_sdk.network import TRMConfig

    from . import checkpoint, distributed
    from .config import TrainConfig
    from .trainer import Trainer

    world = distributed.World.from_env()
    quiet = quiet or not world.is_main  # one progress bar and one log: rank 0's
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s")
    model_over, train_over = _parse_overrides(
        overrides, {f.name for f in fields(TRMConfig)}, {f.name for f in fields(TrainConfig)}
    )
    out_dir = out_dir or Path("runs") / task
    if resume is not None and init_from is not None:
        raise click.UsageError("--resume and --init-from exclude each other: resume continues a run exactly")
    if nproc > 1:
        if "TORCHELASTIC_RUN_ID" in os.environ:
            raise click.UsageError("--nproc starts torchrun; under torchrun, leave it out")
        batch = train_over.get("batch_size")
        if isinstance(batch, int):  # said once here rather than by every process
            try:
                distributed.World(rank=0, size=nproc).local_batch(batch)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--set batch_size") from None
        _launch(nproc, _without_nproc(click.get_current_context().meta["raw_args"]))
        return
    try:
        if resume is not None:
            body = checkpoint.load(resume)
            # Only the recursion may differ from the saved run's: Trainer.resume refuses anything else.
            model_cfg = TRMConfig.from_dict({**body["model_config"], **model_over})
            train_values = {**body["train_config"], **train_over}
        elif init_from is not None:
            # The network comes from the manifest; only the recursion may be set deeper or shallower.
            model_cfg = TRMConfig.from_dict({**checkpoint.init_network(init_from, task), **model_over})
            train_values = dict(train_over)
        else:
            model_cfg = TRMConfig.from_dict({**get_task(task).model_defaults, **model_over})
            train_values = dict(train_over)
        train_values.update(task=task, max_steps=steps, budget_s=minutes * 60.0)
        if files:
            train_values["files"] = files
        if eval_files:
            train_values["eval_files"] = eval_files
        if speed_probe:
            train_values["speed_probe"] = speed_probe
        if device is not None:
            train_values["device"] = device
        if compile_ is not None:
            train_values["compile"] = compile_
        cfg = TrainConfig.from_dict(train_values)
        world.local_batch(cfg.batch_size)  # refused before any process waits for another
        device_ = distributed.device_for(cfg.device, world)
        group = distributed.process_group(world, device_, cfg.dist_timeout_s)
    except (ValueError, FileNotFoundError, TRMError) as exc:
        raise click.ClickException(str(exc)) from exc

    with group:
        try:
            trainer = Trainer(model_cfg, cfg, out_dir, state_dir=state_dir, world=world)
            if resume is not None:
                trainer.resume(resume)
            if init_from is not None:
                trainer.init_from(init_from)
        except (ValueError, FileNotFoundError, TRMError) as exc:
            raise click.ClickException(str(exc)) from exc
        if world.is_main:
            processes = f" x {world.size} processes ({distributed.backend_for(trainer.device)})"
            click.echo(
                f"TRM {model_cfg.hidden}d x{model_cfg.n_blocks} blocks, T={model_cfg.T} n={model_cfg.n}, "
                f"{trainer.model.num_params():,} parameters on {trainer.device}"
                f"{processes if world.size > 1 else ''}, {trainer.precision} forward; "
                f"starting at step {trainer.step}",
                err=True,
            )
        try:
            with _stop_signals_interrupt(world.size == 1):
                summary = trainer.train() if quiet else _train_with_progress(trainer, steps, minutes)
        except FloatingPointError as exc:
            raise click.ClickException(str(exc)) from exc
    if not world.is_main:
        return
    click.echo(json.dumps(summary, indent=2))
    click.echo(f"saved {out_dir / 'latest.pt'} (resumable) and {out_dir / 'ema_weights.pt'}", err=True)
    if state_dir is not None:
        files_written = sorted(state_dir.iterdir())
        total = sum(f.stat().st_size for f in files_written)
        click.echo(
            f"saved the resumable state to {state_dir}/: {len(files_written)} files, {total / 2**20:.1f} MiB",
            err=True,
        )


@contextlib.contextmanager
def _stop_signals_interrupt(active: bool) -> Iterator[None]:
    """While training, ``kill`` (SIGTERM) ends the run as Ctrl-C does, evaluating and saving, and a run
    that a script started in the background (SIGINT ignored) gets its Ctrl-C back. One process only:
    under torchrun the agent's SIGTERM means another rank failed. The old handlers come back after."""
    if not active or threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _train_with_progress(trainer: Trainer, steps: int, minutes: float) -> dict[str, Any]:
    start = time.monotonic()
    length = (steps - trainer.step) if steps else max(int(minutes * 60), 1)
    with click.progressbar(
        length=length,
        label="training",
        file=sys.stderr,
        show_pos=bool(steps),
        item_show_func=_show,
    ) as bar:

        def report(step: int, stats: dict[str, Any]) -> None:
            done = step - (steps - length) if steps else int(time.monotonic() - start)
            bar.update(
                max(0, done - bar.pos),
                f"loss {stats['loss']:.3f} exact {stats['exact']:.1%} "
                f"steps {stats['halt_steps']:.1f} stage {stats['stage']} "
                f"{stats['steps_per_s']:.1f} it/s",
            )

        return trainer.train(progress=report)


def run() -> None:
    """``python -m trm_sdk.train.cli``, as torchrun starts it: a process's error, traceback included,
    reaches torchrun's failure summary (its error file), which names the rank."""
    from torch.distributed.elastic.multiprocessing.errors import record

    record(main)()


if __name__ == "__main__":
    run()
