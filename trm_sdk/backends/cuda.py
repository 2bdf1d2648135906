"""The CUDA backend: the network in PyTorch on an NVIDIA GPU, one supervision step per CUDA graph replay.

The weights are the model folder's ``weights.npz`` (the fp16 tensors the ONNX graphs hold, under the
network's own names) and the network is :mod:`trm_sdk.network`, the one definition of TRM (it imports
only torch): no training code runs here. y and z stay on the device for the whole recursion; each step
brings back only q_halt, (B,) floats, and the loop asks for the answer logits of the puzzles that stop.

Each padded batch size (:func:`bucket_size`) gets static buffers and, on a GPU, one CUDA graph of a whole
supervision step (T x (n+1) network applications, a few hundred kernels), captured once and replayed each
step: at small batches launching those kernels one by one costs more than running them. The device is a
constructor detail, so the tests run this same code on CPU torch against the ONNX Runtime backend.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError, TRMError
from ..manifest import PRECISIONS, Manifest
from .base import Backend, bucket_size

log = logging.getLogger("trm_sdk")

DEFAULT_PRECISION = (
    "fp16"  # the weights are stored in fp16: exact; bf16 agrees less with the CPU (docs: Backends)
)


def nvidia_driver_problem() -> str | None:
    """None if the NVIDIA driver library loads, else why not: answered without importing torch."""
    name = {"linux": "libcuda.so.1", "win32": "nvcuda.dll"}.get(sys.platform)
    if name is None:
        return f"no NVIDIA CUDA driver exists for this platform ({sys.platform})"
    try:
        ctypes.CDLL(name)
    except OSError:
        return f"no NVIDIA driver ({name} not found): no usable NVIDIA GPU on this machine"
    return None


def torch_cuda_problem(extra: str) -> str | None:
    """None if PyTorch can run on a CUDA GPU here, else a sentence naming what is missing.

    The cheap checks come first, so a machine without a GPU never imports torch just to learn that.
    """
    if importlib.util.find_spec("torch") is None:
        return f"PyTorch is not installed (pip install 'trm-sdk[{extra}]')"
    problem = nvidia_driver_problem()
    if problem:
        return problem
    try:
        import torch
    except Exception as exc:  # a broken install raises anything from OSError to RuntimeError
        return f"PyTorch cannot be imported ({exc})"
    if torch.version.cuda is None:
        return f"PyTorch {torch.__version__} is a CPU-only build; install a CUDA build of torch"
    if not torch.cuda.is_available():
        return "no CUDA GPU visible to PyTorch (check the driver version and CUDA_VISIBLE_DEVICES)"
    return None


def torch_dtype(precision: str) -> Any:
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]


class _Bucket:
    """Static buffers for one padded batch size, and the step that reads and updates them in place."""

    def __init__(self, size: int, model: Any, device: Any, dtype: Any, capture: bool) -> None:
        import torch

        cfg = model.cfg
        self.size = size
        self.model = model
        self.tokens = torch.zeros((size, cfg.seq_len), dtype=torch.int64, device=device)
        self.y = torch.zeros((size, cfg.length, cfg.hidden), dtype=dtype, device=device)  # (B, L, D)
        self.z = torch.zeros_like(self.y)
        self.logits: Any = None  # (B, S, V) of the last step
        self.q: Any = None  # (B,)
        self.graph: Any = None
        if capture:
            self._capture(device)

    def _compute(self) -> tuple[Any, Any]:
        y, z, logits, q = self.model(self.tokens, self.y, self.z)
        self.y.copy_(y)  # the state stays in these buffers, so a graph replay carries it forward
        self.z.copy_(z)
        return logits, q

    def _capture(self, device: Any) -> None:
        import torch

        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side), torch.no_grad():
            for _ in range(2):  # cuBLAS handles and workspaces are created here, outside the graph
                self._compute()
        torch.cuda.current_stream(device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.no_grad(), torch.cuda.graph(graph):
            self.logits, self.q = self._compute()
        self.graph = graph

    def run(self) -> None:
        import torch

        if self.graph is not None:
            self.graph.replay()
        else:
            with torch.no_grad():
                self.logits, self.q = self._compute()


@dataclass
class CUDAState:
    bucket: _Bucket
    n: int  # puzzles in the batch: rows [0, n) of the bucket's buffers
    epoch: int  # the start() that made it: buffers are reused, so only the newest batch is live


class CUDABackend(Backend):
    name = "cuda"
    extra = "cuda"
    requires = "an NVIDIA GPU with its driver and a CUDA build of PyTorch"

    @classmethod
    def availability(cls) -> str | None:
        return torch_cuda_problem(cls.extra)

    def __init__(
        self,
        manifest: Manifest,
        threads: int | None = None,
        *,
        device: str = "cuda",
        precision: str = DEFAULT_PRECISION,
        graphs: bool | None = None,
    ) -> None:
        """``device`` "cuda" (or "cuda:1") on a GPU; "cpu" runs the same code for tests. ``precision`` is
        the dtype of weights and state (bf16, fp16, fp32); RMSNorm computes in fp32 whatever it is.
        ``graphs`` (default: on a GPU) captures one CUDA graph per padded batch size. ``threads`` is unused.
        """
        on_gpu = str(device).startswith("cuda")
        if on_gpu:
            reason = self.availability()
            if reason:
                raise BackendUnavailableError(f"CUDA backend unavailable: {reason}")
        import torch

        self.device = torch.device(device)
        self.precision = precision
        self.dtype = torch_dtype(precision)
        self.graphs = on_gpu if graphs is None else graphs
        if self.graphs and not on_gpu:
            raise ValueError("CUDA graphs need a CUDA device")
        from ..network import load_network  # PyTorch, imported only once this backend is chosen

        self.model = load_network(manifest, self.device, self.dtype)
        self._buckets: dict[int, _Bucket] = {}
        self._epoch = 0

    def _bucket(self, n: int) -> _Bucket:
        size = bucket_size(n)
        if size not in self._buckets:
            log.debug("trm_sdk: cuda buffers for batch %d (graph: %s)", size, self.graphs)
            self._buckets[size] = _Bucket(size, self.model, self.device, self.dtype, self.graphs)
        return self._buckets[size]

    def _rows(self, rows: np.ndarray) -> Any:
        import torch

        return torch.as_tensor(np.asarray(rows, np.int64)).to(self.device)

    def _check(self, state: CUDAState) -> None:
        if state.epoch != self._epoch:
            raise TRMError("stale CUDA backend state: a newer batch has started on this backend since")

    def start(self, tokens: np.ndarray) -> CUDAState:
        import torch

        n = len(tokens)
        bucket = self._bucket(n)
        self._epoch += 1
        bucket.tokens[:n].copy_(torch.from_numpy(np.ascontiguousarray(tokens, np.int64)))
        bucket.y[:n].copy_(self.model.y_init)  # (D,) broadcasts over (n, L, D), as step.onnx's `first`
        bucket.z[:n].copy_(self.model.z_init)
        return CUDAState(bucket, n, self._epoch)

    def step(self, state: CUDAState) -> tuple[CUDAState, np.ndarray]:
        self._check(state)
        state.bucket.run()
        q = state.bucket.q[: state.n].float().cpu().numpy()  # the one transfer per step: (B,) floats
        return state, q

    def logits(self, state: CUDAState, rows: np.ndarray) -> np.ndarray:
        self._check(state)
        assert state.bucket.logits is not None, "logits() before the first step"
        logits = state.bucket.logits.index_select(0, self._rows(rows))
        return logits.float().cpu().numpy()

    def keep(self, state: CUDAState, rows: np.ndarray) -> CUDAState:
        """Move the kept rows to the front of the buffers of their (maybe smaller) padded size."""
        self._check(state)
        src, idx, m = state.bucket, self._rows(rows), len(rows)
        kept = [t.index_select(0, idx) for t in (src.tokens, src.y, src.z)]  # copies: safe in place
        target = self._bucket(m)
        for buffer, values in zip((target.tokens, target.y, target.z), kept, strict=True):
            buffer[:m].copy_(values)
        return CUDAState(target, m, state.epoch)
