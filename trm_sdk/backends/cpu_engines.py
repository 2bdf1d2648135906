"""The engines inside the CPU backend, and which of them runs a batch: ONNX Runtime in fp32 everywhere, and
OpenVINO in bf16 where the CPU multiplies bf16 natively (AMX or AVX512_BF16) and the batch is large enough.

Why two: on a CPU with native bf16, OpenVINO's bf16 kernels beat ONNX Runtime's fp32 ones once a step has
enough rows to fill them (measured: docs/lab-notes/timings.md), while at a row or two ONNX Runtime's lower
overhead wins, and OpenVINO in f32 is slower than ONNX Runtime at every size. Without native bf16, OpenVINO
would emulate it, so ONNX Runtime runs everything. The choice is made from the flags of the CPU the process
runs on (``/proc/cpuinfo``, else OpenVINO's own report of the device), never from a list of machines.

Both engines take and return the same float32 numpy arrays, so the backend may pick one per step by the
rows the step runs (a batch shrinks as its puzzles halt) without converting any state.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError, ModelError, OutOfMemoryError
from ..manifest import STEP_INPUTS, STEP_OUTPUTS

__all__ = [
    "BF16_FLAGS",
    "BF16_MIN_ROWS",
    "ENGINES",
    "EnginePlan",
    "OpenVINOEngine",
    "cpu_flags",
    "native_bf16",
    "openvino_version",
    "plan",
]

ENGINES = ("onnxruntime", "openvino")
BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of native bf16 multiplies, fastest first
# Steps of at least this many rows run on OpenVINO bf16 under engine "auto"; fewer stay on ONNX Runtime.
# Measured on a 2-core AMD EPYC with AVX512_BF16, one thread, interleaved, on a busy machine
# (docs/lab-notes/timings.md): below 4 rows the two runs disagreed on the winner, from 4 rows OpenVINO won
# in both (1.10x-1.44x at 4 rows, 1.46x-1.63x at 32).
BF16_MIN_ROWS = 4
_CPUINFO = Path("/proc/cpuinfo")
# What OpenVINO says when an allocation fails; such a failure is the machine's, not the model's.
_OOM_MARKERS = ("bad_alloc", "Failed to allocate", "out of memory", "Out of memory")


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (Linux); empty where that file cannot be read."""
    try:
        text = _CPUINFO.read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def native_bf16() -> str | None:
    """The flag by which this CPU multiplies bf16 natively ("amx_bf16" or "avx512_bf16"), else None.

    Where /proc/cpuinfo is unreadable (not Linux), OpenVINO's own device report is asked instead, if it is
    installed: "BF16" among the CPU plugin's optimisation capabilities.
    """
    flags = cpu_flags()
    if flags:
        return next((f for f in BF16_FLAGS if f in flags), None)
    if openvino_version() is None:
        return None
    try:
        import openvino as ov

        return (
            "bf16 (OpenVINO)"
            if "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
            else None
        )
    except Exception:  # a device query that fails means "not known to be native"
        return None


@functools.cache
def openvino_version() -> str | None:
    """OpenVINO's version if it is installed, else None (found without importing it)."""
    if importlib.util.find_spec("openvino") is None:
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("openvino")
    except PackageNotFoundError:
        return "unknown version"


@dataclass(frozen=True)
class EnginePlan:
    """Which engine runs a step of the CPU backend, and why, in words for ``trm info``."""

    openvino: str | None  # "bf16" or "f32": the precision OpenVINO runs in, None: OpenVINO is not used
    min_rows: int  # steps of at least this many rows run on OpenVINO; fewer on ONNX Runtime fp32
    reason: str

    def summary(self) -> str:
        if self.openvino is None:
            return f"ONNX Runtime fp32 ({self.reason})"
        fast = f"OpenVINO {self.openvino}"
        if self.min_rows <= 1:
            return f"{fast} ({self.reason})"
        return f"{fast} for steps of {self.min_rows} rows or more, ONNX Runtime fp32 below ({self.reason})"


_INSTALL = "pip install 'trm-sdk[openvino]'"
_NO_BF16 = "the CPU has neither AMX nor AVX512_BF16, so bf16 would be emulated, not native"


def plan(engine: str | None = None, precision: str | None = None) -> EnginePlan:
    """The engine plan for ``engine`` (None: auto; "onnxruntime"; "openvino") and ``precision`` (None: the
    engine's best here; "fp32"; "bf16"). An explicit choice that cannot run here is a clear error."""
    if engine is not None and engine not in ENGINES:
        raise ValueError(f"engine must be None, 'onnxruntime' or 'openvino', got {engine!r}")
    if precision not in (None, "fp32", "bf16"):
        raise ValueError(f"the cpu backend runs in fp32 or bf16 (bf16 through OpenVINO), got {precision!r}")
    native = native_bf16()
    ov = openvino_version()
    if engine == "onnxruntime" or (engine is None and precision == "fp32"):
        if precision == "bf16":
            raise ValueError("ONNX Runtime runs the step graph in fp32 only; bf16 needs engine='openvino'")
        return EnginePlan(None, 0, "chosen")
    wants_openvino = engine == "openvino" or precision == "bf16"
    if ov is None:
        if wants_openvino:
            raise BackendUnavailableError(f"OpenVINO is not installed ({_INSTALL})")
        bf16 = f"; this CPU has {native}, so bf16 would pay" if native else ""
        return EnginePlan(None, 0, f"OpenVINO is not installed ({_INSTALL}){bf16}")
    if precision == "bf16" and native is None:
        raise BackendUnavailableError(f"bf16 needs a CPU that multiplies it natively: {_NO_BF16}")
    if wants_openvino:
        chosen = precision or ("bf16" if native else "f32")
        chosen = "f32" if chosen == "fp32" else chosen
        why = f"chosen; the CPU has {native}" if native else f"chosen; {_NO_BF16}"
        return EnginePlan(chosen, 1, why)
    if native is None:
        return EnginePlan(None, 0, f"{_NO_BF16}; OpenVINO in f32 is slower than ONNX Runtime")
    return EnginePlan("bf16", BF16_MIN_ROWS, f"the CPU has {native} and OpenVINO {ov} is installed")


def _gist(message: str) -> str:
    """The telling line of an OpenVINO error (which operation failed), not its source-file preamble."""
    lines = [line.strip(" -") for line in message.splitlines() if line.strip(" -")]
    telling = [line for line in lines if "Conversion is failed for" in line or "with a message" in line]
    return "; ".join(telling) if telling else (lines[-1] if lines else "unknown error")


def step_failure(engine: str, rows: int, exc: Exception) -> ModelError | OutOfMemoryError:
    """The typed error for a step an engine could not run: out of memory (either engine reports it in its
    own words, or as MemoryError), with what to do, or a ModelError naming the engine."""
    if isinstance(exc, MemoryError) or any(m in str(exc) for m in _OOM_MARKERS):
        return OutOfMemoryError(
            f"{engine} ran out of memory on {rows} rows of the step graph; free memory, use fewer threads, "
            "or pass a smaller batch_size"
        )
    return ModelError(f"{engine} failed on the step graph: {exc}")


class OpenVINOEngine:
    """The step graph compiled by OpenVINO for the CPU, in bf16 or f32, with a dynamic batch axis."""

    def __init__(self, graph: bytes, path: Path, precision: str, threads: int) -> None:
        try:
            import openvino as ov
        except ImportError as exc:
            raise BackendUnavailableError(f"OpenVINO cannot be imported ({exc}); {_INSTALL}") from exc
        config = {
            "INFERENCE_PRECISION_HINT": precision,  # "bf16" or "f32"
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",  # one stream: a step is one request, using every thread
        }
        try:  # the very bytes the manifest hashed, as for ONNX Runtime
            self._compiled = ov.Core().compile_model(ov.Core().read_model(graph), "CPU", config)
        except Exception as exc:  # OpenVINO raises its own untyped errors for graphs it cannot take
            raise ModelError(f"OpenVINO cannot compile {path}: {_gist(str(exc))}") from exc
        # An output may carry several names (OpenVINO keeps the producing node's too): look each one up.
        try:
            self._outputs = [self._compiled.output(name) for name in STEP_OUTPUTS]
        except Exception as exc:
            raise ModelError(f"{path} lacks an output the runtime needs ({', '.join(STEP_OUTPUTS)})") from exc
        # A request runs one inference at a time ("Infer Request is busy" otherwise), and one Solver may be
        # shared by many threads, as an ONNX Runtime session may: each thread gets its own request.
        self._requests = threading.local()
        self.precision = precision

    def _request(self) -> Any:
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self._compiled.create_infer_request()
        return request

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One step on a chunk of rows: (tokens, y, z, first) -> [y_out, z_out, logits, q_halt]."""
        try:
            result = self._request().infer(dict(zip(STEP_INPUTS, inputs, strict=True)))
            # The request reuses its output buffers on the next call: copy out.
            return [np.array(result[o], np.float32) for o in self._outputs]
        except Exception as exc:
            raise step_failure("OpenVINO", len(inputs[0]), exc) from exc
