"""``weights.npz``: the network's weights as named arrays, for runtimes that rebuild TRM in PyTorch.

The ONNX graphs hold the same weights, but under names the tracer made up (``onnx::MatMul_487``) and
transposed for MatMul, so a runtime cannot map them back reliably. This file keeps the state_dict names
of :class:`trm_sdk.network.TRM`; :func:`check_against_graph` proves it holds exactly the step graph's
weights, so the CUDA backend and the ONNX backends run one network.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from trm_sdk.manifest import WEIGHTS_FILE
from trm_sdk.network import TRM

from .onnx_graphs import ExportError

__all__ = ["WEIGHTS_FILE", "check_against_graph", "save_weights", "state_arrays"]


def state_arrays(model: TRM) -> dict[str, np.ndarray]:
    """The state_dict as numpy: fp16 where fp16 holds a tensor exactly (all, once rounded), else fp32."""
    out = {}
    for name, tensor in model.state_dict().items():
        values = tensor.detach().cpu().float().numpy()
        half = values.astype(np.float16)
        out[name] = half if np.array_equal(half.astype(np.float32), values) else values
    return out


def save_weights(model: TRM, path: str | Path) -> Path:
    path = Path(path)
    np.savez(path, **state_arrays(model))  # type: ignore[arg-type]
    return path


def _graph_weights(step_path: str | Path) -> list[tuple[str, np.ndarray]]:
    proto = onnx.load(str(step_path))
    floats = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)
    return [
        (init.name, numpy_helper.to_array(init).astype(np.float32))
        for init in proto.graph.initializer
        if init.data_type in floats and len(init.dims) > 0  # 0-d scalars are constants, not weights
    ]


def check_against_graph(weights: dict[str, np.ndarray], step_path: str | Path) -> None:
    """Raise ExportError unless every weight of the step graph is one of ``weights`` and vice versa.

    Values are compared exactly, allowing the layouts the tracer uses: as is, transposed (MatMul), or
    with a leading axis of 1 (the prefix, broadcast over the batch).
    """
    graph = _graph_weights(step_path)
    used: set[str] = set()
    unmatched_graph = []
    for gname, g in graph:
        hits = []
        for name, w in weights.items():
            w = w.astype(np.float32)
            forms = [w, w.T, w[None]] if w.ndim == 2 else [w, w[None]]
            if any(f.shape == g.shape and np.array_equal(f, g) for f in forms):
                hits.append(name)
        if not hits and g.size > 1:  # a lone number may be a folded constant rather than a weight
            unmatched_graph.append(gname)
        used.update(hits)
    unused = sorted(set(weights) - used)
    if unmatched_graph or unused:
        raise ExportError(
            f"weights and {Path(step_path).name} disagree: graph weights with no match "
            f"{unmatched_graph or 'none'}; weights the graph does not hold {unused or 'none'}"
        )
