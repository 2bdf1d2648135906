"""The training loop: deep supervision with a carried (y, z), ACT halting with exploration, EMA, checkpoints.

Read top to bottom: refill halted slots, one supervision step forward, loss, backward, optimizer step, EMA,
halting decisions, log, evaluate, checkpoint. Every optimizer step is one supervision step of the batch.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trm_sdk.network import TRM, TRMConfig, checked_fields
from trm_sdk.tasks import Task, get_task

from . import checkpoint
from .data import CurriculumStream, StreamConfig
from .evaluate import evaluate
from .losses import cross_entropy, halting_loss

log = logging.getLogger("trm_sdk.train")


@dataclass
class TrainConfig:
    task: str = "sudoku"
    batch_size: int = 768
    lr: float = 1e-4
    warmup_steps: int = 2000
    weight_decay: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.95
    ema_decay: float = 0.999
    loss: str = "stablemax"  # or "softmax"
    halt_loss_weight: float = 0.5
    halt_explore: float = 0.1  # chance that a fresh sample gets a random minimum of 2..N_sup steps
    max_steps: int = 0  # optimizer steps in total (0 = until the time budget runs out)
    budget_s: float = 0.0  # wall-clock seconds for this run (0 = no limit); saving happens before it ends
    save_every_s: float = 300.0
    eval_every: int = 500  # optimizer steps between evaluations on a held-out generated set
    eval_size: int = 256
    seed: int = 0
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    compile: bool = False
    compile_mode: str = "default"  # torch.compile mode: "default", "max-autotune-no-cudagraphs", ...
    compile_scope: str = "net"  # "net": the 2-block network applied T*(n+1) times; "step": the whole step
    speed_probe: int = 0  # with compile: time this many eager steps, then as many compiled ones (same run)
    data_workers: int = -1  # processes generating puzzles (-1: all but two cores on a GPU, none on a CPU)
    curriculum: str = "easy-to-hard"
    advance_at: float = 0.9  # exact accuracy on recent training puzzles that ends a curriculum stage
    stage_puzzles: int = 0  # or this many finished puzzles in a stage (0: accuracy alone decides)
    files: tuple[str, ...] = ()  # training-allowed puzzle files
    eval_files: tuple[str, ...] = ()  # held-out sets scored at the end of the run (evaluation-only is fine)
    eval_limit: int = 1000  # puzzles per eval file
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        values = checked_fields(cls, values, "train")
        for key in ("files", "eval_files"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


@dataclass
class Carry:
    """The in-flight batch: each slot holds one puzzle at some supervision step."""

    tokens: torch.Tensor  # (B, S)
    labels: torch.Tensor  # (B, S)
    y: torch.Tensor  # (B, L, D)
    z: torch.Tensor  # (B, L, D)
    steps: torch.Tensor  # (B,) supervision steps taken so far
    min_steps: torch.Tensor  # (B,) exploration: no halting before this step
    halted: torch.Tensor  # (B,) bool: slot is finished and gets a fresh puzzle next


class CompiledNet:
    """The supervision step with only the network (``TRM.net``) compiled.

    A step applies the same 2-block network T*(n+1) times. Compiling that one function fuses the norms,
    gates and transposes inside each application, which is where eager time goes, at about a third of the
    compile time of the whole unrolled step (CPU inductor, hidden 512, T=3, n=6: 28 s against 76 s), and a
    GPU window is short. The compiled function shadows the method for the duration of a call only, so
    the eager model stays untouched for the speed probe, the fallback and export.
    """

    def __init__(self, model: TRM, mode: str) -> None:
        self.model = model
        self.net = torch.compile(model.net, mode=mode)

    def __call__(
        self, tokens: torch.Tensor, y: torch.Tensor, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        self.model.__dict__["net"] = self.net
        try:
            return self.model(tokens, y, z)
        finally:
            del self.model.__dict__["net"]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Trainer:
    def __init__(
        self, model_cfg: TRMConfig, cfg: TrainConfig, out_dir: str | Path, state_dir: str | Path | None = None
    ) -> None:
        """``state_dir``: where every save also writes the resumable state split into files under 15 MiB
        (checkpoint.save_split), the form that is committed and that a GPU window brings back."""
        self.cfg = cfg
        self.out_dir = Path(out_dir)
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.task = get_task(cfg.task)  # an unknown task is an error here, before any work
        self.device = resolve_device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.model = TRM(model_cfg).to(self.device)
        self.ema = self._fresh_ema()
        decay: list[torch.nn.Parameter] = []
        no_decay: list[torch.nn.Parameter] = []
        for name, p in self.model.named_parameters():
            (no_decay if p.dim() < 2 or name.startswith("q_head") else decay).append(p)
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr,
            betas=(cfg.beta1, cfg.beta2),
            # One kernel for all parameters on a GPU; the moments' layout (and so resuming) is the same.
            **({"fused": True} if self.device.type == "cuda" else {}),
        )
        self._ema_keys = [k for k, v in self.model.state_dict().items() if v.is_floating_point()]
        self.stream = _make_stream(self.task, cfg, model_cfg, _data_workers(cfg.data_workers, self.device))
        # Compiled lazily on its first call; the eager model stays for the speed probe and as the fallback.
        self.compiled: Callable[..., Any] | None = None
        if cfg.compile:
            if cfg.compile_scope not in ("net", "step"):
                raise ValueError(f"compile_scope must be 'net' or 'step', not {cfg.compile_scope!r}")
            self.compiled = (
                CompiledNet(self.model, cfg.compile_mode)
                if cfg.compile_scope == "net"
                else torch.compile(self.model, mode=cfg.compile_mode)
            )
        self.compile_error: str | None = None
        self.autocast = self.device.type == "cuda"  # bf16 forward on a GPU, as the reference
        self.step = 0
        self.elapsed_s = 0.0  # training time over all windows, for the record
        self.history: list[dict[str, Any]] = []
        self.init_source: dict[str, Any] | None = None  # the exported model a fresh run started from
        self.eval_set = self.task.eval_set(cfg.seed, cfg.eval_size)

    # -- state ---------------------------------------------------------------------------------------------

    def save(self, path: Path, info: dict[str, Any] | None = None) -> Path:
        record = {
            "elapsed_s": round(self.elapsed_s, 1),
            "hardware": _hardware(self.device),
            "history": self.history[-200:],
            "curriculum_stage": self.stream.describe(),
            **({"init_from": self.init_source} if self.init_source else {}),
            **(info or {}),
        }
        saved = checkpoint.save(
            path,
            task=self.cfg.task,
            model=self.model,
            ema=self.ema,
            optimizer=self.optimizer,
            step=self.step,
            train_config=asdict(self.cfg),
            data_state=self.stream.state_dict(),
            info=record,
        )
        if self.state_dir is not None:
            checkpoint.save_split(checkpoint.load(saved), self.state_dir)
        return saved

    def resume(self, path: str | Path) -> None:
        """Continue exactly where a saved run stopped: weights, EMA, moments, step, schedule, data."""
        body = checkpoint.load(path)
        if body["model_config"] != self.model.cfg.to_dict():
            raise ValueError(
                "the checkpoint's model config differs from this run's; resume without overrides"
            )
        self.model.load_state_dict(
            {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in body["model"].items()}
        )
        self.ema = {
            k: v.to(self.device, torch.float32) if v.is_floating_point() else v.to(self.device)
            for k, v in body["ema"].items()
        }
        if body["optimizer"] is not None:
            opt_state = body["optimizer"]
            self.optimizer.load_state_dict(opt_state)
            for state in self.optimizer.state.values():
                for k, v in state.items():
                    if torch.is_tensor(v) and v.is_floating_point():
                        state[k] = v.to(torch.float32)
        self.step = int(body["step"])
        self.elapsed_s = float(body["info"].get("elapsed_s", 0.0))
        self.history = list(body["info"].get("history", []))
        self.init_source = body["info"].get("init_from")  # a run begun with --init-from keeps saying so
        if body["data_state"] is not None:
            self.stream.load_state_dict(body["data_state"])

    def _fresh_ema(self) -> dict[str, torch.Tensor]:
        """An fp32 EMA that starts at the model's current weights."""
        return {k: v.detach().clone().float() for k, v in self.model.state_dict().items()}

    def init_from(self, model_dir: str | Path) -> None:
        """Start from an exported model's weights (``weights.npz``) with fresh optimizer moments.

        For when a shipped model is worth improving but its resumable state is gone: weights and EMA
        begin at the shipped network, while step, schedule (warm-up included, which fresh moments
        need) and curriculum start from zero. ``resume`` is the exact continuation; this is not.
        """
        from trm_sdk.backends.cuda import load_network
        from trm_sdk.manifest import load_manifest

        manifest = load_manifest(model_dir)  # ModelError on a folder that is not an exported model
        if manifest.task != self.cfg.task:
            raise ValueError(f"{model_dir} is a {manifest.task} model; this run trains {self.cfg.task}")
        if TRMConfig.from_dict(manifest.model) != self.model.cfg:
            raise ValueError(f"{model_dir}'s network differs from this run's; start without model overrides")
        network = load_network(manifest, torch.device("cpu"), torch.float32)
        self.model.load_state_dict(network.state_dict())
        self.ema = self._fresh_ema()
        self.init_source = {
            "model": str(manifest.directory),
            "weights_sha256": manifest.files["weights"]["sha256"],
            "source_step": manifest.raw.get("training", {}).get("step"),
        }

    # -- the loop ------------------------------------------------------------------------------------------

    def _lr(self) -> float:
        warm = self.cfg.warmup_steps
        return self.cfg.lr * min(1.0, (self.step + 1) / warm) if warm > 0 else self.cfg.lr

    def _new_carry(self) -> Carry:
        B, S = self.cfg.batch_size, self.model.cfg.seq_len
        y, z = self.model.initial_state(B)
        if self.autocast:  # carry what the bf16 forward returns, so a compiled step sees one dtype only
            y, z = y.to(torch.bfloat16), z.to(torch.bfloat16)
        zeros = torch.zeros(B, dtype=torch.long, device=self.device)
        tokens = torch.zeros(B, S, dtype=torch.long, device=self.device)
        return Carry(
            tokens,
            tokens.clone(),
            y,
            z,
            zeros,
            zeros.clone(),
            torch.ones(B, dtype=torch.bool, device=self.device),
        )

    def _refill(self, carry: Carry) -> None:
        idx = carry.halted.nonzero().squeeze(-1)
        if not len(idx):
            return
        questions, answers = self.stream.next_batch(len(idx))
        carry.tokens[idx] = torch.as_tensor(questions, device=self.device)
        carry.labels[idx] = torch.as_tensor(answers, device=self.device)
        y0, z0 = self.model.initial_state(len(idx))
        carry.y[idx], carry.z[idx] = y0.to(carry.y.dtype), z0.to(carry.z.dtype)
        carry.steps[idx] = 0
        explore = torch.rand(len(idx), device=self.device) < self.cfg.halt_explore
        random_min = torch.randint(2, self.model.cfg.N_sup + 1, (len(idx),), device=self.device)
        carry.min_steps[idx] = torch.where(explore, random_min, torch.ones_like(random_min))
        carry.halted[idx] = False

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))  # short runs: don't lag at start
        state = self.model.state_dict()
        torch._foreach_lerp_(
            [self.ema[k] for k in self._ema_keys], [state[k].float() for k in self._ema_keys], 1 - decay
        )

    def ema_model(self) -> TRM:
        model = TRM(self.model.cfg).to(self.device)
        model.load_state_dict(self.ema)
        return model.eval()

    def _supervision_step(
        self, fn: Callable[..., Any], carry: Carry
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One supervision step of the batch, forward and backward; the carry moves on only if it worked."""
        cfg = self.cfg
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            y, z, logits, q_halt = fn(carry.tokens, carry.y, carry.z)
        exact = (logits.argmax(-1) == carry.labels).all(-1)
        lm_loss = cross_entropy(logits, carry.labels, cfg.loss)
        q_loss = halting_loss(q_halt, exact)
        loss = (lm_loss + cfg.halt_loss_weight * q_loss).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        carry.y, carry.z = y.to(carry.y.dtype), z.to(carry.z.dtype)
        return loss, exact, q_halt

    def _step(self, carry: Carry, eager: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if eager or self.compiled is None:
            return self._supervision_step(self.model, carry)
        try:
            return self._supervision_step(self.compiled, carry)
        except Exception as exc:  # a compiler failure must not cost the rest of a GPU window
            self.compile_error = f"{type(exc).__name__}: {exc}"[:1000]
            log.warning(
                "compiled step failed at step %d, continuing eagerly: %s", self.step, self.compile_error
            )
            self.compiled = None
            self.optimizer.zero_grad(set_to_none=True)
            return self._supervision_step(self.model, carry)

    def train(self, progress: Callable[[int, dict[str, Any]], None] | None = None) -> dict[str, Any]:
        cfg, n_sup = self.cfg, self.model.cfg.N_sup
        start = time.monotonic()
        window_start_step = self.step
        deadline = start + cfg.budget_s if cfg.budget_s > 0 else math.inf
        last_save = start
        carry = self._new_carry()
        finished_exact: list[float] = []
        finished_steps: list[int] = []
        step_times: list[float] = []
        # The speed probe: the first speed_probe steps of the window run eagerly, the rest compiled.
        probe = cfg.speed_probe if self.compiled is not None else 0
        probe_times: dict[str, list[float]] = {"eager": [], "compiled": []}
        latest = self.out_dir / "latest.pt"
        try:
            while True:
                if cfg.max_steps and self.step >= cfg.max_steps:
                    break
                # Stop with room to evaluate and save: estimate from the slowest recent step.
                reserve = 5 * max(step_times[-20:], default=0.0) + 10.0
                if time.monotonic() + reserve > deadline:
                    break
                t0 = time.monotonic()
                self.model.train()
                self._refill(carry)
                for group in self.optimizer.param_groups:
                    group["lr"] = self._lr()
                eager = self.step - window_start_step < probe
                loss, exact, q_halt = self._step(carry, eager)
                self.optimizer.step()
                self._update_ema()
                self.step += 1

                with torch.no_grad():
                    carry.steps += 1
                    halt = (q_halt.detach() > 0) & (carry.steps >= carry.min_steps)
                    carry.halted = halt | (carry.steps >= n_sup)
                    done = carry.halted.nonzero().squeeze(-1)  # waits for the step: times below are true
                    if len(done):
                        flags = exact[done].float().cpu().numpy()
                        finished_exact.extend(flags.tolist())
                        finished_steps.extend(carry.steps[done].cpu().tolist())
                        if self.stream.report(flags):
                            log.info("step %d: curriculum advanced to %s", self.step, self.stream.describe())
                step_times.append(time.monotonic() - t0)
                if probe and self.step - window_start_step <= 2 * probe:
                    probe_times["eager" if eager else "compiled"].append(step_times[-1])

                if self.step % 25 == 0 or self.step == 1:
                    stats = {
                        "step": self.step,
                        "loss": round(loss.item(), 4),
                        "exact": round(float(np.mean(finished_exact[-1000:] or [0])), 4),
                        "halt_steps": round(float(np.mean(finished_steps[-1000:] or [0])), 2),
                        "stage": self.stream.stage + 1,
                        "steps_per_s": round(1.0 / max(float(np.mean(step_times[-25:])), 1e-9), 2),
                    }
                    if progress:
                        progress(self.step, stats)
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    self.record_eval()
                if time.monotonic() - last_save > cfg.save_every_s:
                    self.elapsed_s += time.monotonic() - last_save
                    last_save = time.monotonic()
                    self.save(latest)
        except KeyboardInterrupt:  # Ctrl-C ends the run like a spent budget: evaluate and save
            log.warning("interrupted at step %d; saving", self.step)
        finally:
            self.stream.close()
        self.elapsed_s += time.monotonic() - last_save
        train_wall = time.monotonic() - start
        result = self.record_eval()
        steps_done = self.step - window_start_step
        summary = {
            "steps": self.step,
            "window_steps": steps_done,
            "window_s": round(train_wall, 1),
            "steps_per_s": round(steps_done / max(sum(step_times), 1e-9), 3),
            "train_exact_recent": round(float(np.mean(finished_exact[-1000:] or [0])), 4),
            "eval": result,
        }
        if probe:
            summary["speed"] = speed_report(probe_times, self.compile_error)
        if cfg.eval_files:
            summary["eval_files"] = self.evaluate_files()
        self.save(latest, {"last_window": summary})
        torch.save(checkpoint.clean_state_dict(self.ema, torch.float16), self.out_dir / "ema_weights.pt")
        return summary

    def evaluate_files(self) -> dict[str, dict[str, float]]:
        """The EMA network on each ``eval_files`` set: all N_sup steps and with halting."""
        task = self.task
        model = self.ema_model()
        out = {}
        for path in self.cfg.eval_files:
            data = task.load(path, limit=self.cfg.eval_limit or None)
            if data.solutions is None:
                raise ValueError(f"{path} has no answers to score against")
            t0 = time.monotonic()
            result = evaluate(
                model,
                task.encode(data.puzzles),
                task.encode(data.solutions),
                device=self.device,
                autocast=self.autocast,
                exact=task.exact_tokens,
            ).to_dict()
            name = f"{Path(path).parent.name}/{Path(path).stem}"
            out[name] = {k: round(v, 4) for k, v in result.items()} | {
                "seconds": round(time.monotonic() - t0, 1)
            }
            log.info("eval %s %s", name, out[name])
        return out

    def record_eval(self) -> dict[str, Any]:
        questions, answers = self.eval_set
        result = evaluate(
            self.ema_model(),
            questions,
            answers,
            device=self.device,
            autocast=self.autocast,
            exact=self.task.exact_tokens,  # a maze accepts any shortest path
        ).to_dict()
        entry = {
            "step": self.step,
            "elapsed_s": round(self.elapsed_s, 1),
            "stage": self.stream.stage + 1,
            **{k: round(v, 4) for k, v in result.items()},
        }
        self.history.append(entry)
        log.info("eval %s", entry)
        return entry


def speed_report(times: dict[str, list[float]], compile_error: str | None) -> dict[str, Any]:
    """Eager against compiled steps of the same run: median rates, with compilation counted apart.

    The first 3 steps of each phase are warm-up (allocator, cuDNN choices; for the compiled phase, the
    compilation itself), so rates are medians of the rest, and compile_s is what the warm-up cost beyond
    three ordinary compiled steps.
    """
    report: dict[str, Any] = {"compile_error": compile_error}
    rates = {}
    for phase, values in times.items():
        steady = values[3:]
        report[f"{phase}_steps"] = len(steady)
        if steady:
            rates[phase] = 1.0 / float(np.median(steady))
            report[f"{phase}_steps_per_s"] = round(rates[phase], 3)
    if times["compiled"][:3] and "compiled" in rates:
        report["compile_s"] = round(sum(times["compiled"][:3]) - 3 / rates["compiled"], 1)
    if len(rates) == 2:
        report["ratio"] = round(rates["compiled"] / rates["eager"], 3)
    return report


def _data_workers(requested: int, device: torch.device) -> int:
    """Generating processes: on a GPU, all cores but two (the loop and the system); on a CPU, none, since
    the network's own threads need every core there."""
    if requested >= 0:
        return requested
    if device.type != "cuda":
        return 0
    return max(1, min(14, (os.cpu_count() or 2) - 2))


def _make_stream(task: Task, cfg: TrainConfig, model_cfg: TRMConfig, workers: int = 0) -> CurriculumStream:
    """The task's data stream, tuned as the task asks, for a network that reads the task's tokens."""
    if (model_cfg.vocab_size, model_cfg.seq_len) != (task.vocab_size, task.seq_len):
        raise ValueError(
            f"task {cfg.task} needs vocab_size {task.vocab_size} and seq_len {task.seq_len}, the model has "
            f"{model_cfg.vocab_size} and {model_cfg.seq_len}"
        )
    stream_cfg = StreamConfig.for_task(
        task,
        seed=cfg.seed,
        curriculum=cfg.curriculum,
        files=cfg.files,
        workers=workers,
        advance_at=cfg.advance_at,
        stage_puzzles=cfg.stage_puzzles,
    )
    return CurriculumStream(task, stream_cfg)


def _hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
