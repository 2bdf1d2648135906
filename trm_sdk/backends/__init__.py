"""Runtime backends, one module each, and the choice among them (``backend="auto"``).

Only the CPU backend's module is imported eagerly; the GPU backends import torch and TensorRT inside
their methods, and their availability checks answer "no GPU" without importing either.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import BackendUnavailableError, TRMError
from ..manifest import Manifest
from .base import Backend
from .cpu import CPUBackend
from .cuda import CUDABackend
from .tensorrt import TensorRTBackend

__all__ = ["BACKENDS", "Backend", "availability", "backend_class", "create", "install_hint"]

log = logging.getLogger("trm_sdk")

BACKENDS = ("tensorrt", "cuda", "cpu")  # the order "auto" tries them in
_CLASSES: dict[str, type[Backend]] = {
    "tensorrt": TensorRTBackend,
    "cuda": CUDABackend,
    "cpu": CPUBackend,
}


def backend_class(name: str) -> type[Backend]:
    if name not in _CLASSES:
        raise TRMError(f"unknown backend {name!r}; choose from auto, {', '.join(BACKENDS)}")
    return _CLASSES[name]


def availability(name: str) -> str | None:
    """None if ``name`` can run here, else a sentence saying what is missing."""
    return backend_class(name).availability()


def install_hint(name: str) -> str:
    """What backend ``name`` needs, and the pip extra that brings its Python packages."""
    cls = backend_class(name)
    parts = [f"it needs {cls.requires}"] if cls.requires else []
    if cls.extra:
        parts.append(f"pip install 'trm-sdk[{cls.extra}]'")
    return "; ".join(parts)


def create(name: str, manifest: Manifest, threads: int | None = None, **options: Any) -> Backend:
    """Build the backend ``name`` ("auto" picks the first available of TensorRT, CUDA, CPU).

    ``options`` go to the backend's constructor (``precision``; ``engine`` for the CPU backend). Under
    "auto", each candidate gets those it takes: the CPU backend an engine, and a precision it runs (fp32,
    bf16); the GPU backends no engine.
    """
    if name == "auto":
        reasons = {}
        for candidate in BACKENDS:
            reason = availability(candidate)
            if reason is None:
                try:
                    return create(candidate, manifest, threads, **_options_for(candidate, options))
                except BackendUnavailableError as exc:  # e.g. a TensorRT build that fails on this GPU
                    log.warning("trm_sdk: backend %s could not start, trying the next: %s", candidate, exc)
                    reason = str(exc)
            reasons[candidate] = reason
        detail = "; ".join(f"{b}: {r}" for b, r in reasons.items())
        raise BackendUnavailableError(f"no backend can run here ({detail})")
    cls = backend_class(name)
    reason = cls.availability()
    if reason is not None:
        raise BackendUnavailableError(f"backend {name!r} is unavailable: {reason} ({install_hint(name)})")
    return cls(manifest, threads, **options)


def _options_for(candidate: str, options: dict[str, Any]) -> dict[str, Any]:
    """The loading options that apply to ``candidate`` under "auto" (see :func:`create`)."""
    if candidate == "cpu":
        return {
            k: v for k, v in options.items() if k == "engine" or (k == "precision" and v in _CPU_PRECISIONS)
        }
    return {k: v for k, v in options.items() if k != "engine"}


_CPU_PRECISIONS = ("fp32", "bf16")
