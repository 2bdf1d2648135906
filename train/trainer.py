"""The training loop: deep supervision with a carried (y, z), ACT halting with exploration, EMA, checkpoints.

Read top to bottom: refill halted slots, one supervision step forward, loss, backward, optimizer step, EMA,
halting decisions, log, evaluate, checkpoint. Every optimizer step is one supervision step of the batch.
"""

from __future__ import annotations

import logging
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import checkpoint
from .data import CurriculumStream, StreamConfig, SudokuStream
from .evaluate import evaluate
from .losses import cross_entropy, halting_loss
from .maze_data import MazeStream, MazeStreamConfig
from .model import TRM, TRMConfig, checked_fields

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
    curriculum: str = "easy-to-hard"
    files: tuple[str, ...] = ()  # training-allowed puzzle files
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        values = checked_fields(cls, values, "train")
        if "files" in values:
            values["files"] = tuple(values["files"])
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


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Trainer:
    def __init__(self, model_cfg: TRMConfig, cfg: TrainConfig, out_dir: str | Path) -> None:
        self.cfg = cfg
        self.out_dir = Path(out_dir)
        self.device = resolve_device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.model = TRM(model_cfg).to(self.device)
        self.ema = {k: v.detach().clone().float() for k, v in self.model.state_dict().items()}
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            (no_decay if p.dim() < 2 or name.startswith("q_head") else decay).append(p)
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr,
            betas=(cfg.beta1, cfg.beta2),
        )
        self.stream = _make_stream(cfg, model_cfg)
        self.step_fn = torch.compile(self.model) if cfg.compile else self.model
        self.step = 0
        self.elapsed_s = 0.0  # training time over all windows, for the record
        self.history: list[dict[str, Any]] = []
        self.eval_set = self._eval_set()

    # -- state ---------------------------------------------------------------------------------------------

    def _eval_set(self) -> tuple[np.ndarray, np.ndarray]:
        # A fixed generated set from a seed the stream never uses, spanning easy to minimal puzzles.
        if self.cfg.task == "maze":
            from .maze_data import eval_set

            return eval_set(self.cfg.seed, self.cfg.eval_size)
        from trm_sdk.tasks.sudoku import codec, generate

        rng = np.random.default_rng(10_000_019 + self.cfg.seed)
        n = self.cfg.eval_size
        pairs = [generate.make_puzzle(rng, blanks=int(b)) for b in np.linspace(20, 58, n - n // 4)]
        pairs += [generate.make_puzzle(rng, minimal=True) for _ in range(n // 4)]
        return codec.encode(np.stack([p for p, _ in pairs])), codec.encode(np.stack([s for _, s in pairs]))

    def save(self, path: Path, info: dict[str, Any] | None = None) -> Path:
        record = {
            "elapsed_s": round(self.elapsed_s, 1),
            "hardware": _hardware(self.device),
            "history": self.history[-200:],
            "curriculum_stage": self.stream.describe(),
            **(info or {}),
        }
        return checkpoint.save(
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
        if body["data_state"] is not None:
            self.stream.load_state_dict(body["data_state"])

    # -- the loop ------------------------------------------------------------------------------------------

    def _lr(self) -> float:
        warm = self.cfg.warmup_steps
        return self.cfg.lr * min(1.0, (self.step + 1) / warm) if warm > 0 else self.cfg.lr

    def _new_carry(self) -> Carry:
        B, S = self.cfg.batch_size, self.model.cfg.seq_len
        y, z = self.model.initial_state(B)
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
        carry.y[idx], carry.z[idx] = y0, z0
        carry.steps[idx] = 0
        explore = torch.rand(len(idx), device=self.device) < self.cfg.halt_explore
        random_min = torch.randint(2, self.model.cfg.N_sup + 1, (len(idx),), device=self.device)
        carry.min_steps[idx] = torch.where(explore, random_min, torch.ones_like(random_min))
        carry.halted[idx] = False

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))  # short runs: don't lag at start
        for k, v in self.model.state_dict().items():
            if v.is_floating_point():
                self.ema[k].lerp_(v.float(), 1 - decay)

    def ema_model(self) -> TRM:
        model = TRM(self.model.cfg).to(self.device)
        model.load_state_dict(self.ema)
        return model.eval()

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
        autocast = self.device.type == "cuda"
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

                with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=autocast):
                    carry.y, carry.z, logits, q_halt = self.step_fn(carry.tokens, carry.y, carry.z)
                exact = (logits.argmax(-1) == carry.labels).all(-1)
                lm_loss = cross_entropy(logits, carry.labels, cfg.loss)
                q_loss = halting_loss(q_halt, exact)
                loss = (lm_loss + cfg.halt_loss_weight * q_loss).mean()

                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                self._update_ema()
                self.step += 1

                with torch.no_grad():
                    carry.steps += 1
                    halt = (q_halt.detach() > 0) & (carry.steps >= carry.min_steps)
                    carry.halted = halt | (carry.steps >= n_sup)
                    done = carry.halted.nonzero().squeeze(-1)
                    if len(done):
                        flags = exact[done].float().cpu().numpy()
                        finished_exact.extend(flags.tolist())
                        finished_steps.extend(carry.steps[done].cpu().tolist())
                        if self.stream.report(flags):
                            log.info("step %d: curriculum advanced to %s", self.step, self.stream.describe())
                step_times.append(time.monotonic() - t0)

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
        self.elapsed_s += time.monotonic() - last_save
        result = self.record_eval()
        steps_done = self.step - window_start_step
        wall = time.monotonic() - start
        summary = {
            "steps": self.step,
            "window_steps": steps_done,
            "window_s": round(wall, 1),
            "steps_per_s": round(steps_done / max(sum(step_times), 1e-9), 3),
            "train_exact_recent": round(float(np.mean(finished_exact[-1000:] or [0])), 4),
            "eval": result,
        }
        self.save(latest, {"last_window": summary})
        torch.save(checkpoint.clean_state_dict(self.ema, torch.float16), self.out_dir / "ema_weights.pt")
        return summary

    def record_eval(self) -> dict[str, Any]:
        questions, answers = self.eval_set
        accept = _maze_accept if self.cfg.task == "maze" else None  # any shortest path is right
        result = evaluate(
            self.ema_model(),
            questions,
            answers,
            device=self.device,
            autocast=self.device.type == "cuda",
            accept=accept,
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


def _maze_accept(pred: np.ndarray, questions: np.ndarray) -> np.ndarray:
    from trm_sdk.tasks.maze import codec

    size = (-1, codec.SIZE, codec.SIZE)
    return codec.are_solutions(pred.reshape(size), questions.reshape(size))


def _make_stream(cfg: TrainConfig, model_cfg: TRMConfig) -> CurriculumStream:
    """The task's data stream; the only task-specific choice the loop makes."""
    from trm_sdk.tasks import get_task

    task = get_task(cfg.task)  # an unknown task is an error here, before any work
    if (model_cfg.vocab_size, model_cfg.seq_len) != (task.vocab_size, task.seq_len):
        raise ValueError(
            f"task {cfg.task} needs vocab_size {task.vocab_size} and seq_len {task.seq_len}, the model has "
            f"{model_cfg.vocab_size} and {model_cfg.seq_len}"
        )
    if cfg.task == "maze":
        return MazeStream(MazeStreamConfig(seed=cfg.seed, curriculum=cfg.curriculum, files=cfg.files))
    return SudokuStream(StreamConfig(seed=cfg.seed, curriculum=cfg.curriculum, files=cfg.files))


def _hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
