"""Export a trained TRM for the runtimes: ONNX graphs (step and unrolled) with a manifest, checked for parity.

``export_onnx(checkpoint, out_dir)`` does the whole job; ``trm-export`` is its command line.
"""

from __future__ import annotations

from .exporter import export_onnx
from .onnx_graphs import ExportError, StepGraph, UnrolledGraph, round_weights_fp16
from .parity import VerifySet, check_parity

__all__ = [
    "ExportError",
    "StepGraph",
    "UnrolledGraph",
    "VerifySet",
    "check_parity",
    "export_onnx",
    "round_weights_fp16",
]
