"""The TensorRT backend: the step graph as a TensorRT engine, driven step by step on one CUDA stream.

The engine comes from :mod:`.tensorrt_engine` (built once per machine, then cached). Device buffers are
allocated once per padded batch size (:func:`bucket_size`); y and z ping-pong between two buffer pairs,
so the state never leaves the GPU and each step only rebinds addresses (``set_tensor_address``) before
``execute_async_v3``. What comes back per step is q_halt, (B,) floats; answer logits only for the puzzles
that stop. A batch larger than the engine's profile runs as several executions over slices of the same
buffers, never refused. torch allocates the buffers and the stream: no pycuda or cuda-python needed.
"""

from __future__ import annotations

import contextlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError, ModelError, TRMError
from ..manifest import STEP_INPUTS, STEP_OUTPUTS, Manifest
from .base import Backend, bucket_size
from .cuda import torch_cuda_problem
from .tensorrt_engine import EngineSpec, Target, load_or_build

DEFAULT_PRECISION = (
    "fp16"  # the weights are stored in fp16: exact; bf16 agrees less with the CPU (docs: Backends)
)
DEFAULT_MAX_BATCH = 2048


def _torch_dtypes(trt: Any) -> dict[Any, Any]:
    import torch

    table = {
        trt.DataType.FLOAT: torch.float32,
        trt.DataType.HALF: torch.float16,
        trt.DataType.INT32: torch.int32,
        trt.DataType.BOOL: torch.bool,
    }
    for name, dtype in (("BF16", torch.bfloat16), ("INT64", torch.int64)):  # both since TensorRT 9
        if hasattr(trt.DataType, name):
            table[getattr(trt.DataType, name)] = dtype
    return table


@dataclass
class _Buffers:
    """Device tensors for one padded batch size; y and z twice, read from one and written to the other."""

    tokens: Any
    first: Any
    y: tuple[Any, Any]
    z: tuple[Any, Any]
    logits: Any
    q: Any


@dataclass
class TensorRTState:
    buffers: _Buffers
    n: int  # puzzles in the batch: rows [0, n)
    epoch: int  # the start() that made it: buffers are reused, so only the newest batch is live
    cur: int = 0  # which of the two y/z buffers holds the state


class TensorRTBackend(Backend):
    name = "tensorrt"
    extra = "tensorrt"
    requires = "an NVIDIA GPU with its driver, and TensorRT 10 or 11"

    @classmethod
    def availability(cls) -> str | None:
        if importlib.util.find_spec("tensorrt") is None:
            return f"tensorrt is not installed (pip install 'trm-sdk[{cls.extra}]')"
        problem = torch_cuda_problem(cls.extra)  # torch holds the buffers and the stream
        if problem:
            return problem
        try:
            import tensorrt as trt
        except Exception as exc:  # e.g. the wheel is there but libnvinfer is not
            return f"tensorrt cannot be imported ({exc})"
        if int(str(trt.__version__).split(".")[0]) < 10:
            return f"TensorRT {trt.__version__} is too old: trm-sdk needs TensorRT 10 or 11"
        return None

    def __init__(
        self,
        manifest: Manifest,
        threads: int | None = None,
        *,
        precision: str = DEFAULT_PRECISION,
        max_batch: int = DEFAULT_MAX_BATCH,
        cache: str | Path | None = None,
        device: str = "cuda",
    ) -> None:
        """``precision`` fp32, fp16 or bf16 (the engine's compute; buffers stay fp32); ``max_batch`` the
        profile's largest batch; ``cache`` the engine folder (default: :func:`cache_dir`). ``device``
        "cpu" exists for tests that fake TensorRT. ``threads`` is unused."""
        on_gpu = device.startswith("cuda")
        if on_gpu:
            reason = self.availability()
            if reason:
                raise BackendUnavailableError(f"TensorRT backend unavailable: {reason}")
        import tensorrt as trt
        import torch

        self.device = torch.device(device)
        if on_gpu:
            index = self.device.index if self.device.index is not None else torch.cuda.current_device()
            self.device = torch.device("cuda", index)
            major, minor = torch.cuda.get_device_capability(self.device)
            target = Target(str(trt.__version__), torch.cuda.get_device_name(self.device), f"{major}.{minor}")
            self.stream: Any = torch.cuda.Stream(self.device)
        else:
            target = Target(str(trt.__version__), "cpu", "0.0")
            self.stream = None
        spec = EngineSpec(
            manifest.task, manifest.files["step"]["sha256"], precision, max_batch, min(256, max_batch)
        )
        self.max_batch = max_batch
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine, self.engine_path, self.metadata = load_or_build(
            lambda: manifest.read("step"),
            spec,
            target,
            deserialize=self._runtime.deserialize_cuda_engine,
            directory=Path(cache) if cache is not None else None,
        )
        self.context = self.engine.create_execution_context()
        self._dtypes = self._io_dtypes(trt)
        L, D = manifest.state_shape
        self._shapes = {"S": manifest.seq_len, "L": L, "D": D, "V": int(manifest.model["vocab_size"])}
        self._buffers: dict[int, _Buffers] = {}
        self._epoch = 0

    def _io_dtypes(self, trt: Any) -> dict[str, Any]:
        """The engine's I/O tensors by name, checked against the step graph's contract."""
        table = _torch_dtypes(trt)
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if sorted(inputs) != sorted(STEP_INPUTS) or sorted(outputs) != sorted(STEP_OUTPUTS):
            raise ModelError(
                f"engine {self.engine_path} has inputs {inputs} and outputs {outputs}; the step graph "
                f"contract is {list(STEP_INPUTS)} -> {list(STEP_OUTPUTS)}"
            )
        return {n: table[self.engine.get_tensor_dtype(n)] for n in names}

    def _on_stream(self) -> Any:
        import torch

        return torch.cuda.stream(self.stream) if self.stream is not None else contextlib.nullcontext()

    def _buffers_for(self, n: int) -> _Buffers:
        import torch

        size = bucket_size(n)
        if size not in self._buffers:
            s, dt, dev = self._shapes, self._dtypes, self.device

            def new(name: str, *shape: int) -> Any:
                return torch.zeros((size, *shape), dtype=dt[name], device=dev)

            self._buffers[size] = _Buffers(
                tokens=new("tokens", s["S"]),
                first=new("first"),
                y=(new("y", s["L"], s["D"]), new("y_out", s["L"], s["D"])),
                z=(new("z", s["L"], s["D"]), new("z_out", s["L"], s["D"])),
                logits=new("logits", s["S"], s["V"]),
                q=new("q_halt"),
            )
        return self._buffers[size]

    def _check(self, state: TensorRTState) -> None:
        if state.epoch != self._epoch:
            raise TRMError("stale TensorRT backend state: a newer batch has started on this backend since")

    def start(self, tokens: np.ndarray) -> TensorRTState:
        import torch

        n = len(tokens)
        b = self._buffers_for(n)
        self._epoch += 1
        with self._on_stream():
            b.tokens[:n].copy_(torch.from_numpy(np.ascontiguousarray(tokens, np.int64)).to(b.tokens.dtype))
            b.first[:n].fill_(True)  # the engine starts these rows from y_init, z_init
        return TensorRTState(b, n, self._epoch)

    def step(self, state: TensorRTState) -> tuple[TensorRTState, np.ndarray]:
        self._check(state)
        b, n, src, dst = state.buffers, state.n, state.cur, 1 - state.cur
        handle = self.stream.cuda_stream if self.stream is not None else 0
        with self._on_stream():
            for lo in range(0, n, self.max_batch):  # beyond the profile: slices of the same buffers
                hi = min(n, lo + self.max_batch)
                inputs = {"tokens": b.tokens, "y": b.y[src], "z": b.z[src], "first": b.first}
                for name, t in inputs.items():
                    self.context.set_input_shape(name, (hi - lo, *t.shape[1:]))
                outputs = {"y_out": b.y[dst], "z_out": b.z[dst], "logits": b.logits, "q_halt": b.q}
                for name, t in {**inputs, **outputs}.items():
                    self.context.set_tensor_address(name, t[lo:hi].data_ptr())
                if not self.context.execute_async_v3(handle):
                    raise TRMError(f"TensorRT failed to run the step on rows {lo}..{hi - 1}")
            b.first[:n].fill_(False)
            q = b.q[:n].float().cpu().numpy()  # waits for the stream; the one transfer per step
        return TensorRTState(b, n, state.epoch, dst), q

    def logits(self, state: TensorRTState, rows: np.ndarray) -> np.ndarray:
        import torch

        self._check(state)
        idx = torch.as_tensor(np.asarray(rows, np.int64)).to(self.device)
        with self._on_stream():
            return state.buffers.logits.index_select(0, idx).float().cpu().numpy()

    def keep(self, state: TensorRTState, rows: np.ndarray) -> TensorRTState:
        import torch

        self._check(state)
        src, m = state.buffers, len(rows)
        idx = torch.as_tensor(np.asarray(rows, np.int64)).to(self.device)
        with self._on_stream():
            kept = [
                t.index_select(0, idx) for t in (src.tokens, src.first, src.y[state.cur], src.z[state.cur])
            ]
            b = self._buffers_for(m)
            for buffer, values in zip((b.tokens, b.first, b.y[0], b.z[0]), kept, strict=True):
                buffer[:m].copy_(values)
        return TensorRTState(b, m, state.epoch, 0)
