"""The CPU backend: ONNX Runtime driving the exported step graph, one supervision step per call."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import BackendUnavailableError, ModelError
from ..manifest import STEP_INPUTS, STEP_OUTPUTS, Manifest
from .base import Backend


@dataclass
class CPUState:
    tokens: np.ndarray  # (B, S) int64
    y: np.ndarray  # (B, L, D) float32
    z: np.ndarray  # (B, L, D) float32
    first: np.ndarray  # (B,) bool: next step starts from the initial state
    logits: np.ndarray | None = None  # (B, S, V) of the last step


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

    def __init__(self, manifest: Manifest, threads: int | None = None) -> None:
        reason = self.availability()
        if reason:
            raise BackendUnavailableError(f"CPU backend unavailable: {reason}")
        import onnxruntime as ort

        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(os.cpu_count() or 1, 8)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # keep ORT's own warnings off the user's console
        path = manifest.path("step")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own untyped errors for unreadable graphs
            raise ModelError(f"ONNX Runtime cannot load {path}: {exc}") from exc
        self.state_shape = manifest.state_shape
        self.threads = options.intra_op_num_threads

    def start(self, tokens: np.ndarray) -> CPUState:
        B = len(tokens)
        y = np.zeros((B, *self.state_shape), np.float32)
        return CPUState(np.ascontiguousarray(tokens, np.int64), y, y.copy(), np.ones(B, bool))

    def step(self, state: CPUState) -> tuple[CPUState, np.ndarray]:
        feeds = dict(zip(STEP_INPUTS, (state.tokens, state.y, state.z, state.first), strict=True))
        try:
            y, z, logits, q_halt = self.session.run(list(STEP_OUTPUTS), feeds)
        except Exception as exc:
            raise ModelError(f"ONNX Runtime failed on the step graph: {exc}") from exc
        return CPUState(state.tokens, y, z, np.zeros(len(y), bool), logits), q_halt

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
        )
