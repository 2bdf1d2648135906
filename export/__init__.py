"""Export a trained TRM for the runtimes: ONNX graphs (step and unrolled) with a manifest, checked for parity.

``export_onnx(checkpoint, out_dir)`` does the whole job; ``trm-export`` is its command line. The names
below load on first use: importing the package (as ``trm-export --help`` does) needs neither PyTorch nor
onnx, which only the ``export`` extra installs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .exporter import export_onnx
    from .onnx_graphs import ExportError, StepGraph, round_weights_fp16
    from .parity import VerifySet, check_parity

__all__ = [
    "ExportError",
    "StepGraph",
    "VerifySet",
    "check_parity",
    "export_onnx",
    "round_weights_fp16",
]

_HOMES = {
    "ExportError": "onnx_graphs",
    "StepGraph": "onnx_graphs",
    "VerifySet": "parity",
    "check_parity": "parity",
    "export_onnx": "exporter",
    "round_weights_fp16": "onnx_graphs",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
