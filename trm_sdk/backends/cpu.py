"""The CPU backend: ONNX Runtime (and, where it pays, OpenVINO in bf16) driving the exported step graph, one
supervision step per call.

Which engine runs a step is :func:`trm_sdk.backends.cpu_engines.plan`'s choice, made once when the backend
is built: ONNX Runtime fp32 everywhere, OpenVINO bf16 for steps of ``plan.min_rows`` rows or more where the
CPU multiplies bf16 natively and the ``[openvino]`` extra is installed.

Memory is bounded whatever the batch: each step runs the graph on at most ``CHUNK_ROWS`` rows at a time,
so ONNX Runtime's arena never grows past one chunk's working memory. When a batch of more than
``RELEASE_ROWS`` rows ends (its last state is dropped), the arena is shrunk and the C heap trimmed, so that
memory goes back to the system instead of staying for the Solver's life. Within a batch the arena is
reused from step to step, which keeps a batch of 256 as fast as one unbounded run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import numbers
import os
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError, ModelError, OutOfMemoryError
from ..limits import CHUNK_ROWS, DEFAULT_THREADS, MAX_THREADS
from ..manifest import STEP_INPUTS, STEP_OUTPUTS, Manifest
from .base import Backend
from .cpu_engines import EnginePlan, OpenVINOEngine, plan, step_failure

log = logging.getLogger("trm_sdk")

# What ONNX Runtime says when an allocation fails; such a failure is the machine's, not the model's.


def _heap_trimmer() -> Any:
    """glibc's ``malloc_trim``, which hands freed heap pages back to the OS; None elsewhere."""
    try:
        name = ctypes.util.find_library("c")
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_TRIM = _heap_trimmer()
RELEASE_ROWS = 32  # a batch larger than this hands its memory back when it ends; smaller ones keep it


class _Batch:
    """Shared by every state of one batch: when the last of them is dropped, ``release`` runs."""

    def __init__(self, release: Any) -> None:
        weakref.finalize(self, release).atexit = False


@dataclass
class CPUState:
    tokens: np.ndarray  # (B, S) int64
    y: np.ndarray  # (B, L, D) float32
    z: np.ndarray  # (B, L, D) float32
    first: np.ndarray  # (B,) bool: next step starts from the initial state
    logits: np.ndarray | None = None  # (B, S, V) of the last step
    batch: _Batch | None = field(default=None, repr=False)  # hands the memory back when the batch ends


def check_threads(threads: Any) -> int | None:
    """None (the default), or a thread count from 1 to MAX_THREADS (numpy integers too, never a bool)."""
    if threads is None:
        return None
    if (
        isinstance(threads, bool)
        or not isinstance(threads, numbers.Integral)
        or not 1 <= int(threads) <= MAX_THREADS
    ):
        raise ValueError(f"threads must be None or an integer from 1 to {MAX_THREADS}, got {threads!r}")
    return int(threads)


def default_threads() -> int:
    """The threads the CPU backend uses when none are asked for: the machine's cores, 1 to DEFAULT_THREADS."""
    return max(1, min(os.cpu_count() or 1, DEFAULT_THREADS))


class CPUBackend(Backend):
    name = "cpu"
    extra = ""  # onnxruntime is a core dependency

    @classmethod
    def availability(cls) -> str | None:
        try:
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            return f"onnxruntime cannot be imported ({exc}); install it with: pip install onnxruntime"
        return None

    def __init__(
        self,
        manifest: Manifest,
        threads: int | None = None,
        chunk_rows: int = CHUNK_ROWS,
        engine: str | None = None,
        precision: str | None = None,
    ) -> None:
        """``engine``: None (auto), "onnxruntime" or "openvino"; ``precision``: None (the engine's best
        here), "fp32" or "bf16" (OpenVINO only). See :func:`~trm_sdk.backends.cpu_engines.plan`."""
        reason = self.availability()
        if reason:
            raise BackendUnavailableError(f"CPU backend unavailable: {reason}")
        import onnxruntime as ort

        threads = check_threads(threads)
        self.plan: EnginePlan = plan(engine, precision)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # keep ORT's own warnings off the user's console
        # The very bytes that were hashed go to ONNX Runtime: handed a path, it would reopen the file,
        # which may have changed since the check. Graphs with external data were refused by read().
        graph = manifest.read("step")
        path = manifest.directory / manifest.files["step"]["path"]  # for messages only
        try:
            self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own untyped errors for unreadable graphs
            raise ModelError(f"ONNX Runtime cannot load {path}: {exc}") from exc
        self.state_shape = manifest.state_shape
        self.seq_len = manifest.seq_len
        self._check_interface(manifest, path)
        self.threads = options.intra_op_num_threads
        self._openvino = self._start_openvino(
            graph, path, explicit=engine is not None or precision is not None
        )
        del graph
        self.chunk_rows = chunk_rows
        # A run with this option frees every arena region not in use when it ends (see _release).
        self._shrink = ort.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def _check_interface(self, manifest: Manifest, path: os.PathLike[str]) -> None:
        """The graph's inputs and outputs against the contract and the manifest's dimensions, so a renamed
        input or a wrong ``hidden``/``seq_len`` fails here rather than at the first solve."""
        S, (L, D) = manifest.seq_len, self.state_shape
        V = manifest.model.get("vocab_size")
        want = {
            "tokens": (S,),
            "y": (L, D),
            "z": (L, D),
            "first": (),
            "y_out": (L, D),
            "z_out": (L, D),
            "logits": (S, V),
            "q_halt": (),
        }
        for kind, expected, args in (
            ("inputs", STEP_INPUTS, self.session.get_inputs()),
            ("outputs", STEP_OUTPUTS, self.session.get_outputs()),
        ):
            names = tuple(a.name for a in args)
            if names != expected:
                raise ModelError(
                    f"{path} has {kind} {', '.join(names)}; the runtime needs {', '.join(expected)}: "
                    "re-export the model with this trm-sdk"
                )
            for arg in args:
                shape = list(arg.shape)[1:]  # the first axis is the batch
                dims = want[arg.name]
                if len(shape) != len(dims) or any(
                    isinstance(a, int) and b is not None and a != b for a, b in zip(shape, dims, strict=True)
                ):
                    raise ModelError(
                        f"{path}: {arg.name} has shape {list(arg.shape)} but the manifest describes "
                        f"(batch{''.join(f', {d}' for d in dims)}); the manifest does not match its graph"
                    )

    def start(self, tokens: np.ndarray) -> CPUState:
        B = len(tokens)
        try:
            y = np.zeros((B, *self.state_shape), np.float32)
            z = y.copy()
        except MemoryError as exc:
            L, D = self.state_shape
            raise OutOfMemoryError(
                f"cannot allocate the recursion state of {B} puzzles ({2 * B * L * D * 4 / 2**30:.1f} GiB); "
                "pass a smaller batch_size"
            ) from exc
        batch = _Batch(self._release) if B > RELEASE_ROWS else None
        return CPUState(np.ascontiguousarray(tokens, np.int64), y, z, np.ones(B, bool), None, batch)

    def _release(self) -> None:
        """Give a finished batch's memory back: one tiny run that shrinks the arena, then the C heap."""
        y = np.zeros((1, *self.state_shape), np.float32)
        # The manifest's seq_len, not the graph's token dimension: that may be symbolic (a name).
        tokens = np.ones((1, self.seq_len), np.int64)
        feeds = dict(zip(STEP_INPUTS, (tokens, y, y, np.ones(1, bool)), strict=True))
        try:
            self.session.run(list(STEP_OUTPUTS), feeds, self._shrink)
        except Exception:  # releasing is best effort: the batch's results already stand
            pass
        if _TRIM is not None:
            _TRIM(0)

    def _start_openvino(self, graph: bytes, path: os.PathLike[str], explicit: bool) -> OpenVINOEngine | None:
        """OpenVINO compiled for the plan, or None. A graph OpenVINO cannot convert (the shipped maze
        model's, as of OpenVINO 2026.4) leaves "auto" on ONNX Runtime, with a log line; asked for by name,
        it is an error."""
        if self.plan.openvino is None:
            return None
        try:
            return OpenVINOEngine(graph, Path(path), self.plan.openvino, self.threads)
        except (ModelError, BackendUnavailableError) as exc:
            if explicit:
                raise
            first = str(exc).splitlines()[0]
            log.info("trm_sdk: %s; ONNX Runtime fp32 runs every step", first)
            self.plan = EnginePlan(None, 0, f"OpenVINO cannot run this model: {first}")
            return None

    @property
    def engine(self) -> str:
        """The engines this backend runs, in words: "onnxruntime fp32", or with "openvino bf16" beside."""
        if self._openvino is None:
            return "onnxruntime fp32"
        if self.plan.min_rows <= 1:
            return f"openvino {self.plan.openvino}"
        return f"onnxruntime fp32 + openvino {self.plan.openvino} from {self.plan.min_rows} rows"

    def _chunk(self, inputs: tuple[np.ndarray, ...]) -> list[np.ndarray]:
        """One step on one chunk of rows, on the engine the plan gives a chunk of that size."""
        if self._openvino is not None and len(inputs[0]) >= self.plan.min_rows:
            return self._openvino.run(inputs)
        return self._run(dict(zip(STEP_INPUTS, inputs, strict=True)))

    def _run(self, feeds: dict[str, np.ndarray], options: Any = None) -> list[np.ndarray]:
        try:
            return self.session.run(list(STEP_OUTPUTS), feeds, options)
        except Exception as exc:
            raise step_failure("ONNX Runtime", len(feeds["tokens"]), exc) from exc

    def step(self, state: CPUState) -> tuple[CPUState, np.ndarray]:
        B, size = len(state.tokens), self.chunk_rows
        inputs = (state.tokens, state.y, state.z, state.first)
        parts = [self._chunk(tuple(x[lo : lo + size] for x in inputs)) for lo in range(0, B, size)]
        if len(parts) == 1:
            y, z, logits, q_halt = parts[0]
        else:
            y, z, logits, q_halt = (np.concatenate(p) for p in zip(*parts, strict=True))
        return CPUState(state.tokens, y, z, np.zeros(len(y), bool), logits, state.batch), q_halt

    def logits(self, state: CPUState, rows: np.ndarray) -> np.ndarray:
        assert state.logits is not None, "logits() before the first step"
        return state.logits[rows]

    def keep(self, state: CPUState, rows: np.ndarray) -> CPUState:
        return CPUState(
            state.tokens[rows],
            state.y[rows],
            state.z[rows],
            state.first[rows],
            None if state.logits is None else state.logits[rows],
            state.batch,
        )
