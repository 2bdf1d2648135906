"""Runtime backends, one module each, and the choice among them (``backend="auto"``)."""

from __future__ import annotations

from ..errors import BackendUnavailableError, TRMError
from ..manifest import Manifest
from .base import Backend
from .cpu import CPUBackend

__all__ = ["BACKENDS", "Backend", "availability", "create"]

BACKENDS = ("tensorrt", "cuda", "cpu")  # the order "auto" tries them in
_NOT_YET = "not part of trm-sdk {version} yet: GPU runtimes are planned; use backend='cpu' meanwhile"


def _class(name: str) -> type[Backend] | None:
    return CPUBackend if name == "cpu" else None


def availability(name: str) -> str | None:
    """None if ``name`` can run here, else why not."""
    if name not in BACKENDS:
        raise TRMError(f"unknown backend {name!r}; choose from auto, {', '.join(BACKENDS)}")
    cls = _class(name)
    if cls is None:
        from .. import __version__

        return _NOT_YET.format(version=__version__)
    return cls.availability()


def create(name: str, manifest: Manifest, threads: int | None = None) -> Backend:
    """Build the backend ``name`` ("auto" picks the first available of TensorRT, CUDA, CPU)."""
    if name == "auto":
        for candidate in BACKENDS:
            if availability(candidate) is None:
                return create(candidate, manifest, threads)
        reasons = "; ".join(f"{b}: {availability(b)}" for b in BACKENDS)
        raise BackendUnavailableError(f"no backend can run here ({reasons})")
    reason = availability(name)
    if reason is not None:
        raise BackendUnavailableError(f"backend {name!r} is unavailable: {reason}")
    cls = _class(name)
    assert cls is not None
    return cls(manifest, threads)
