"""The SDK's exceptions: one small hierarchy so callers can catch ``TRMError`` for all of them."""

from __future__ import annotations

__all__ = ["BackendUnavailableError", "InvalidPuzzleError", "ModelError", "OutOfMemoryError", "TRMError"]


class TRMError(Exception):
    """Base class of every error the SDK raises on purpose."""


class InvalidPuzzleError(TRMError, ValueError):
    """The puzzle given to a solver is malformed or self-contradictory.

    A ``ValueError`` too, so code that already guards user input with ``except ValueError`` keeps working.
    """


class BackendUnavailableError(TRMError, RuntimeError):
    """The requested runtime cannot run here; the message names what is missing and what to install."""


class ModelError(TRMError, RuntimeError):
    """A model directory is missing a file, has a corrupt file, or does not fit the task asked for."""


class OutOfMemoryError(TRMError, MemoryError):
    """The runtime could not allocate the memory a batch needs; a smaller batch or fewer threads may fit.

    A ``MemoryError`` too, so code that already handles running out of memory keeps working.
    """
