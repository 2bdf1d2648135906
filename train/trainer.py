"""The training loop: deep supervision with a carried (y, z), ACT halting with exploration, EMA, checkpoints.

Read top to bottom: refill halted slots, one supervision step forward, loss, backward, optimizer step, EMA,
halting decisions, log, evaluate, checkpoint. Every optimizer step is one supervision step of the batch.

Under torchrun the same loop runs data-parallel (``distributed.py``): ``batch_size`` is the global batch
and each process holds its slice of the slots. Rank 0 draws the fresh puzzles for every halted slot of
the global batch and shares them, each process steps its slice through DDP (gradients averaged, so the
step is the one-process step), and the per-slot results are gathered so that every process knows which
slots halted. The puzzles, and so the weights, do not depend on the number of processes.

Around the loop: the run's settings are ``config.py``, writing, resuming and starting from an exported
model are ``checkpoint.py``, and what the machine offers (bf16 units, cores for data) is ``hardware.py``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from trm_sdk.network import TRM, TRMConfig
from trm_sdk.tasks import Task, get_task

from . import checkpoint, curve, distributed, hardware
from .config import TrainConfig, lr_factor
from .data import CurriculumStream, StreamConfig
from .distributed import World
from .evaluate import evaluate, score_file
from .losses import cross_entropy, halting_loss
from .optim import make_optimizer

log = logging.getLogger("trm_sdk.train")


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

    def __init__(self, model: TRM, mode: str, runner: torch.nn.Module | None = None) -> None:
        """``runner``: the module whose call runs ``model`` (its DDP wrapper under torchrun)."""
        self.model = model
        self.runner = runner if runner is not None else model
        self.net = torch.compile(model.net, mode=mode)

    def __call__(
        self, tokens: torch.Tensor, y: torch.Tensor, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        self.model.__dict__["net"] = self.net
        try:
            return self.runner(tokens, y, z)
        finally:
            del self.model.__dict__["net"]


class Trainer:
    def __init__(
        self,
        model_cfg: TRMConfig,
        cfg: TrainConfig,
        out_dir: str | Path,
        state_dir: str | Path | None = None,
        world: World | None = None,
    ) -> None:
        """``state_dir``: where every save also writes the resumable state split into files under 15 MiB
        (checkpoint.save_split), the form that is committed and that a GPU window brings back.

        ``world``: this process's place in a torchrun job (``World.from_env()``), whose process group
        must be up (``distributed.process_group``); a one-process run without it.
        """
        self.cfg = cfg
        self.world = world or World()
        self.out_dir = Path(out_dir)
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.task = get_task(cfg.task)  # an unknown task is an error here, before any work
        self.local_batch = self.world.local_batch(cfg.batch_size)  # before any collective: a clear error
        self.device = distributed.device_for(cfg.device, self.world)
        torch.manual_seed(cfg.seed)  # the same initial weights in every process (DDP also broadcasts them)
        self.model = TRM(model_cfg).to(self.device)
        # The module a step calls: the model, or under torchrun its DDP wrapper, which averages gradients
        # over the processes during backward.
        self.runner: torch.nn.Module = self.model
        if self.world.size > 1:
            self.runner = DistributedDataParallel(
                self.model, device_ids=[self.device] if self.device.type == "cuda" else None
            )
        self.ema = self._fresh_ema()  # rank 0's alone: only rank 0 evaluates and saves
        self.optimizer = make_optimizer(
            self.model,
            cfg.optimizer,
            lr=cfg.lr,
            betas=(cfg.beta1, cfg.beta2),
            weight_decay=cfg.weight_decay,
            fused=self.device.type == "cuda",
        )
        self._ema_keys = [k for k, v in self.model.state_dict().items() if v.is_floating_point()]
        # Rank 0 draws every puzzle of the global batch and shares them: one stream, one data position,
        # and puzzle generation is not repeated in every process.
        self.stream: CurriculumStream | None = None
        if self.world.is_main:
            workers = hardware.data_workers(cfg.data_workers, self.device, self.world.local_size)
            self.stream = _make_stream(self.task, cfg, model_cfg, workers)
        # Halting exploration of fresh puzzles, drawn on rank 0 with the puzzles and saved with them.
        self.explore_rng = np.random.default_rng([cfg.seed, 0x68616C74])
        # Compiled lazily on its first call; the eager model stays for the speed probe and as the fallback.
        self.compiled: Callable[..., Any] | None = None
        if cfg.compile:
            if cfg.compile_scope not in ("net", "step"):
                raise ValueError(f"compile_scope must be 'net' or 'step', not {cfg.compile_scope!r}")
            self.compiled = (
                CompiledNet(self.model, cfg.compile_mode, self.runner)
                if cfg.compile_scope == "net"
                else torch.compile(self.runner, mode=cfg.compile_mode)
            )
        self.compile_error: str | None = None
        self.autocast = hardware.bf16_forward(cfg.precision, self.device)
        self.step = 0
        self.elapsed_s = 0.0  # training time over all windows, for the record, up to _counted_until
        self._counted_until: float | None = None  # monotonic clock time elapsed_s counts to, in a window
        self.history: list[dict[str, Any]] = []
        self.init_source: dict[str, Any] | None = None  # the exported model a fresh run started from
        self.eval_set = self.task.eval_set(cfg.seed, cfg.eval_size) if self.world.is_main else None

    @property
    def precision(self) -> str:
        """The forward's precision as ``TrainConfig.precision`` resolved it: "bf16" or "fp32"."""
        return "bf16" if self.autocast else "fp32"

    @property
    def data(self) -> CurriculumStream:
        """The data stream, which rank 0 alone holds."""
        if self.stream is None:
            raise RuntimeError(f"rank {self.world.rank} has no data stream: rank 0 draws, saves and reports")
        return self.stream

    # -- state ---------------------------------------------------------------------------------------------

    def data_state(self) -> dict[str, Any]:
        """The data position: the stream's, and the halting exploration's random state."""
        return {**self.data.state_dict(), "explore_rng": self.explore_rng.bit_generator.state}

    def save(self, path: Path, info: dict[str, Any] | None = None) -> Path:
        """Rank 0's job: its weights are every process's, and it holds the EMA and the data position."""
        record = {
            "elapsed_s": round(self.elapsed_s, 1),
            "hardware": hardware.describe(self.device),
            "precision": self.precision,
            "processes": self.world.size,
            "history": curve.thin(self.history),
            "curriculum_stage": self.data.describe(),
            **({"init_from": self.init_source} if self.init_source else {}),
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
            data_state=self.data_state(),
            info=record,
            split_dir=self.state_dir,
        )

    def resume(self, path: str | Path) -> None:
        """Continue exactly where a saved run stopped: weights, EMA, moments, step, schedule, data.

        At any number of processes, whatever the number that saved: the global batch, and so the
        puzzles and the steps, do not depend on it. Every process reads the file (on a cluster it must be
        on every machine); rank 0 takes the data position.
        """
        body = checkpoint.load(path)
        ema = checkpoint.restore(
            body,
            self.model,
            self.optimizer,
            optimizer_name=self.cfg.optimizer,
            ema_device=self.device if self.world.is_main else None,
        )
        if ema is not None:
            self.ema = ema
        self.step = int(body["step"])
        self.elapsed_s = float(body["info"].get("elapsed_s", 0.0))
        self.history = list(body["info"].get("history", []))
        self.init_source = body["info"].get("init_from")  # a run begun with --init-from keeps saying so
        if body["data_state"] is not None and self.stream is not None:
            self.stream.load_state_dict(body["data_state"])
            if "explore_rng" in body["data_state"]:  # absent before the exploration had its own stream
                self.explore_rng.bit_generator.state = body["data_state"]["explore_rng"]

    def _fresh_ema(self) -> dict[str, torch.Tensor]:
        """An fp32 EMA that starts at the model's current weights; empty on ranks other than 0, which
        neither evaluate nor save."""
        if not self.world.is_main:
            return {}
        return {k: v.detach().clone().float() for k, v in self.model.state_dict().items()}

    def init_from(self, model_dir: str | Path) -> None:
        """Start from an exported model's weights (``weights.npz``) with fresh optimizer moments.

        For when a shipped model is worth improving but its resumable state is gone: weights and EMA
        begin at the shipped network, while step, schedule (warm-up included, which fresh moments
        need) and curriculum start from zero. ``resume`` is the exact continuation; this is not.
        """
        state, self.init_source = checkpoint.exported_weights(model_dir, self.cfg.task, self.model.cfg)
        self.model.load_state_dict(state)
        self.ema = self._fresh_ema()

    # -- the loop ------------------------------------------------------------------------------------------

    def _follow_depth_schedule(self) -> None:
        """Set the recursion that ``depth_schedule`` gives for the current step. The network is the same
        at every depth (T and n only say how often it is applied), so the puzzles in flight carry on."""
        depth = None
        for at, T, n in self.cfg.depth_schedule:
            if self.step >= at:
                depth = (T, n)
        cfg = self.model.cfg
        if depth is not None and depth != (cfg.T, cfg.n):
            log.info("step %d: recursion T=%d n=%d (was T=%d n=%d)", self.step, *depth, cfg.T, cfg.n)
            cfg.T, cfg.n = depth

    def _lr(self) -> float:
        return self.cfg.lr * lr_factor(self.cfg, self.step)

    def _new_carry(self, cells: int | None = None) -> Carry:
        """``cells``: the stage's grid when it is smaller than the task's (a conv network's frames)."""
        B = self.local_batch  # this process's slots of the global batch
        S = cells or self.model.cfg.seq_len
        y, z = self.model.initial_state(B, S)
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

    def _frame_cells(self) -> int:
        """Cells per puzzle at the current curriculum stage: a network that runs on any grid trains each
        stage in its own frame (a 12x12 stage costs a sixth of the 30x30 one); rank 0's stream decides
        and shares it. Any other network always takes the task's ``seq_len``."""
        if not self.model.cfg.any_grid:
            return self.model.cfg.seq_len
        side = self.data.frame() if self.world.is_main else None
        cells = torch.tensor([side * side if side else self.model.cfg.seq_len], device=self.device)
        return int(distributed.broadcast(self.world, cells)[0])

    def _fresh_puzzles(self, count: int, S: int) -> torch.Tensor:
        """(count, 2 * S + 1): question tokens, answer tokens and minimum steps of ``count`` fresh puzzles
        of S cells, drawn by rank 0 and shared with every process."""
        if self.world.is_main:
            questions, answers = self.data.next_batch(count)
            explore = self.explore_rng.random(count) < self.cfg.halt_explore
            random_min = self.explore_rng.integers(2, self.model.cfg.N_sup + 1, count)
            min_steps = np.where(explore, random_min, 1)[:, None]
            rows = torch.as_tensor(np.concatenate([questions, answers, min_steps], axis=1, dtype=np.int64))
            fresh = rows.to(self.device)
        else:
            fresh = torch.empty((count, 2 * S + 1), dtype=torch.long, device=self.device)
        return distributed.broadcast(self.world, fresh)

    def _refill(self, carry: Carry, halted: np.ndarray) -> None:
        """Fresh puzzles into this process's halted slots. ``halted``: (batch_size,) over the global batch,
        the same in every process, so every process asks rank 0 for the same number of puzzles."""
        idx = np.flatnonzero(halted)
        if not len(idx):
            return
        S = carry.tokens.shape[1]
        fresh = self._fresh_puzzles(len(idx), S)
        start, stop = self.world.slots(self.cfg.batch_size)
        mine = (idx >= start) & (idx < stop)
        if not mine.any():
            return
        local = torch.as_tensor(idx[mine] - start, device=self.device)
        rows = fresh[torch.as_tensor(mine, device=self.device)]
        carry.tokens[local] = rows[:, :S]
        carry.labels[local] = rows[:, S : 2 * S]
        carry.min_steps[local] = rows[:, 2 * S]
        y0, z0 = self.model.initial_state(len(local), S)
        carry.y[local], carry.z[local] = y0.to(carry.y.dtype), z0.to(carry.z.dtype)
        carry.steps[local] = 0
        carry.halted[local] = False

    def _gather(
        self, carry: Carry, exact: torch.Tensor, loss: torch.Tensor, stop: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, bool]:
        """Every process's step results in global slot order: halted, exact, steps (batch_size,), the
        mean loss, and whether any process wants to stop. One small collective per step."""
        b = self.local_batch
        mine = torch.cat(
            [
                carry.halted.float(),
                exact.float(),
                carry.steps.float(),
                torch.stack([loss.detach().float(), torch.tensor(float(stop), device=self.device)]),
            ]
        )
        table = distributed.all_gather(self.world, mine).cpu().numpy()  # (world, 3b + 2), rank order
        return (
            table[:, :b].reshape(-1) > 0,
            table[:, b : 2 * b].reshape(-1),
            table[:, 2 * b : 3 * b].reshape(-1).astype(np.int64),
            float(table[:, 3 * b].mean()),  # the slices are equal, so this is the global batch's loss
            bool(table[:, 3 * b + 1].any()),
        )

    @torch.no_grad()
    def _update_ema(self) -> None:
        if not self.world.is_main:
            return
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
            return self._supervision_step(self.runner, carry)
        try:
            return self._supervision_step(self.compiled, carry)
        except Exception as exc:  # a compiler failure must not cost the rest of a GPU window
            self.compile_error = f"{type(exc).__name__}: {exc}"[:1000]
            log.warning(
                "compiled step failed at step %d, continuing eagerly: %s", self.step, self.compile_error
            )
            self.compiled = None
            self.optimizer.zero_grad(set_to_none=True)
            return self._supervision_step(self.runner, carry)

    def train(self, progress: Callable[[int, dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Train until ``max_steps`` or the budget; then (rank 0) evaluate and save. ``progress`` is
        called on rank 0 only, with metrics of the global batch."""
        cfg, n_sup = self.cfg, self.model.cfg.N_sup
        main = self.world.is_main
        start = time.monotonic()
        window_start_step = self.step
        deadline = start + cfg.budget_s if cfg.budget_s > 0 else math.inf
        self._counted_until = last_save = start
        carry = self._new_carry(self._frame_cells())
        halted = np.ones(cfg.batch_size, dtype=bool)  # the global batch's slots that take a fresh puzzle
        finished_exact: list[float] = []
        finished_steps: list[int] = []
        bad_steps = 0  # consecutive supervision steps whose loss was not finite
        step_times: list[float] = []
        # The speed probe: the first speed_probe steps of the window run eagerly, the rest compiled.
        probe = cfg.speed_probe if self.compiled is not None else 0
        probe_times: dict[str, list[float]] = {"eager": [], "compiled": []}
        latest = self.out_dir / "latest.pt"
        # Every process must take each step, or the others wait for it: stopping is decided together.
        stop = distributed.any_rank(self.world, time.monotonic() + 10.0 > deadline, self.device)
        try:
            while not stop and not (cfg.max_steps and self.step >= cfg.max_steps):
                t0 = time.monotonic()
                self.model.train()
                cells = self._frame_cells()
                if cells != carry.tokens.shape[1]:  # a conv network's curriculum moved to a larger frame:
                    carry = self._new_carry(cells)  # the puzzles in flight are dropped, unscored
                    halted = np.ones(cfg.batch_size, dtype=bool)
                self._refill(carry, halted)
                self._follow_depth_schedule()
                for group in self.optimizer.param_groups:
                    group["lr"] = self._lr()
                eager = self.step - window_start_step < probe
                loss, exact, q_halt = self._step(carry, eager)
                if distributed.any_rank(self.world, not bool(torch.isfinite(loss)), self.device):
                    # A non-finite loss would poison the weights, the EMA and then the one resumable
                    # state, which every save overwrites: skip the update and restart the batch.
                    bad_steps += 1
                    log.warning(
                        "step %d: non-finite loss, update skipped (%d in a row)", self.step, bad_steps
                    )
                    if bad_steps >= cfg.max_bad_steps:
                        raise FloatingPointError(
                            f"{bad_steps} non-finite losses in a row at step {self.step}; nothing was saved "
                            "after them. Resume from the last save with a lower lr or --set grad_clip=1.0"
                        )
                    self.optimizer.zero_grad(set_to_none=True)
                    carry = self._new_carry(carry.tokens.shape[1])
                    halted = np.ones(cfg.batch_size, dtype=bool)
                    continue
                bad_steps = 0
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                self.optimizer.step()
                self._update_ema()
                self.step += 1

                with torch.no_grad():
                    carry.steps += 1
                    halt = (q_halt.detach() > 0) & (carry.steps >= carry.min_steps)
                    carry.halted = halt | (carry.steps >= n_sup)
                # Stop with room to evaluate and save: estimate from the slowest recent step.
                reserve = 5 * max([*step_times[-19:], time.monotonic() - t0]) + 10.0
                halted, exact_all, steps_all, mean_loss, stop = self._gather(
                    carry, exact, loss, time.monotonic() + reserve > deadline
                )
                done = np.flatnonzero(halted)
                if len(done):
                    flags = exact_all[done]
                    finished_exact.extend(flags.tolist())
                    finished_steps.extend(steps_all[done].tolist())
                    if self.stream is not None and self.stream.report(flags):
                        log.info("step %d: curriculum advanced to %s", self.step, self.stream.describe())
                step_times.append(time.monotonic() - t0)
                if probe and self.step - window_start_step <= 2 * probe:
                    probe_times["eager" if eager else "compiled"].append(step_times[-1])

                if main and (self.step % 25 == 0 or self.step == 1):
                    stats = {
                        "step": self.step,
                        "loss": round(mean_loss, 4),
                        "exact": round(float(np.mean(finished_exact[-1000:] or [0])), 4),
                        "halt_steps": round(float(np.mean(finished_steps[-1000:] or [0])), 2),
                        "stage": self.data.stage + 1,
                        "steps_per_s": round(1.0 / max(float(np.mean(step_times[-25:])), 1e-9), 2),
                    }
                    if progress:
                        progress(self.step, stats)
                if main and cfg.eval_every and self.step % cfg.eval_every == 0:
                    self.record_eval()
                if main and time.monotonic() - last_save > cfg.save_every_s:
                    self._count_time()
                    last_save = time.monotonic()
                    self.save(latest)
        except KeyboardInterrupt:  # Ctrl-C ends the run like a spent budget: evaluate and save
            log.warning("interrupted at step %d; saving", self.step)
        finally:
            if self.stream is not None:
                self.stream.close()
        self._count_time()
        self._counted_until = None
        train_wall = time.monotonic() - start
        steps_done = self.step - window_start_step
        summary: dict[str, Any] = {
            "steps": self.step,
            "window_steps": steps_done,
            "window_s": round(train_wall, 1),
            "steps_per_s": round(steps_done / max(sum(step_times), 1e-9), 3),
            "precision": self.precision,
            "train_exact_recent": round(float(np.mean(finished_exact[-1000:] or [0])), 4),
        }
        if self.world.size > 1:
            summary["processes"] = self.world.size
        if not main:
            return summary  # rank 0 evaluates and saves; the others are done
        summary["eval"] = self.record_eval()
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
            name = f"{Path(path).parent.name}/{Path(path).stem}"
            out[name] = score_file(
                model,
                task,
                path,
                limit=self.cfg.eval_limit or None,
                device=self.device,
                autocast=self.autocast,
            )
            log.info("eval %s %s", name, out[name])
        return out

    def _count_time(self) -> None:
        """Bring elapsed_s up to now, inside a training window (outside one there is nothing to add)."""
        if self._counted_until is not None:
            now = time.monotonic()
            self.elapsed_s += now - self._counted_until
            self._counted_until = now

    def record_eval(self) -> dict[str, Any]:
        if self.eval_set is None:
            raise RuntimeError(f"rank {self.world.rank} does not evaluate: rank 0 does")
        questions, answers = self.eval_set
        result = evaluate(
            self.ema_model(),
            questions,
            answers,
            device=self.device,
            autocast=self.autocast,
            exact=self.task.exact_tokens,  # a maze accepts any shortest path
        ).to_dict()
        self._count_time()  # evaluations come more often than saves: each gets its own time
        entry = {
            "step": self.step,
            "elapsed_s": round(self.elapsed_s, 3),
            "stage": self.data.stage + 1,
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
        frames=model_cfg.any_grid,
        advance_at=cfg.advance_at,
        stage_puzzles=cfg.stage_puzzles,
    )
    return CurriculumStream(task, stream_cfg)
