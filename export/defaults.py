"""The export's settings that its command line shows: plain constants, so ``trm-export --help`` needs
neither PyTorch nor onnx."""

from __future__ import annotations

__all__ = ["DEFAULT_N_VERIFY", "DEFAULT_OPSET", "DEFAULT_THRESHOLD", "SUPPORTED_OPSETS"]

DEFAULT_OPSET = 17  # the runtime contract's opset
SUPPORTED_OPSETS = range(15, 21)  # Shape(start, end) needs 15; the legacy exporter stops at 20
DEFAULT_N_VERIFY = 4  # puzzles per parity source; at hidden 512 each costs ~51 step evaluations
DEFAULT_THRESHOLD = 0.5  # the halting threshold a fresh export's manifest names
