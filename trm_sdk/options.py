"""``SolveOptions``: the one list of choices a caller makes per solve, checked here once.

The Solver's constructor and methods take these as keywords (``solve(p, max_steps=2)``) or as one object
(``solve(p, EVERY_STEP)``); the ``trm`` commands make one flag per field (``--max-steps``); a model's
manifest records its own defaults for some of them. Every field defaults to None, which means "not chosen
here": the Solver fills it from its own defaults, which come from the model's manifest (max_steps,
halt_threshold, stop_on_verified, views) or from :data:`LIBRARY_DEFAULTS` (fallback, search_time_limit,
seed, time_budget). Adding a field here adds the keyword, the attribute on the Solver and the command-line
flag.

Each field's metadata holds its check (used for every value, wherever it comes from), its command-line help,
and its click type as a function of the click module, so that importing the library never imports click.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, fields, replace
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .errors import ModelError
from .limits import MAX_SEARCH_SECONDS, MAX_STEPS, MAX_TIME_BUDGET, MAX_VIEWS

if TYPE_CHECKING:
    from .manifest import Manifest

__all__ = ["EVERY_STEP", "FALLBACKS", "LIBRARY_DEFAULTS", "SolveOptions"]

FALLBACKS = ("none", "search")


def check_int(name: str, value: Any, bound: int = MAX_STEPS) -> int:
    """A positive integer up to ``bound`` (numpy integers too; bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= int(value) <= bound:
        raise ValueError(f"{name} must be an integer from 1 to {bound}, got {value!r}")
    return int(value)


def _check_fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0.0 <= float(value) <= 1.0):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def _check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be None, True or False, got {value!r}")
    return value


def _check_seed(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _check_fallback(name: str, value: Any) -> str:
    if not isinstance(value, str) or value not in FALLBACKS:
        raise ValueError(f"{name} must be None, 'none' or 'search', got {value!r}")
    return value


def _check_seconds(name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0 < float(value) <= MAX_SEARCH_SECONDS
    ):
        raise ValueError(
            f"{name} must be a number of seconds above 0 and at most {MAX_SEARCH_SECONDS:g}, got {value!r}"
        )
    return float(value)


def _check_budget(name: str, value: Any) -> float:
    """Seconds above 0 and at most MAX_TIME_BUDGET, or infinity: no budget."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not (0 < float(value) <= MAX_TIME_BUDGET or float(value) == math.inf)
    ):
        raise ValueError(
            f"{name} must be a number of seconds above 0 and at most {MAX_TIME_BUDGET:g}, or inf for no "
            f"budget, got {value!r}"
        )
    return float(value)


def _choice(
    check: Callable[[str, Any], Any], help: str, click_type: Callable[[ModuleType], Any] | None = None
) -> Any:
    """A field of SolveOptions: None by default, with its check, its CLI help and its click type (None:
    an on/off flag pair)."""
    return field(default=None, metadata={"check": check, "help": help, "click_type": click_type})


@dataclass(frozen=True, kw_only=True)
class SolveOptions:
    """How to solve: the per-call choices, each None ("the Solver's default") unless set.

    Values are checked when the object is made, so a bad one fails where it was written; integers and
    reals from numpy are accepted and stored as Python's.
    """

    max_steps: int | None = _choice(
        lambda name, value: check_int(name, value, MAX_STEPS),
        "Most supervision steps per puzzle (a model's default is the N_sup it was trained with).",
        lambda click: click.IntRange(1, MAX_STEPS),
    )
    """The most supervision steps a puzzle runs. The default is the N_sup the model was trained with (its
    manifest); steps beyond it are allowed and simply continue the recursion."""

    halt_threshold: float | None = _choice(
        _check_fraction,
        "Halt when sigmoid(q_halt) exceeds this; 1.0 always runs --max-steps.",
        lambda click: click.FloatRange(0.0, 1.0),
    )
    """Each puzzle stops at the first supervision step where sigmoid(q_halt) > ``halt_threshold``, or at
    ``max_steps``. 1.0 always runs ``max_steps`` steps (the paper's evaluation, with
    ``stop_on_verified=False``: see :data:`EVERY_STEP`). The default is the threshold calibrated for the
    model and recorded in its manifest (0.5 if it records none)."""

    stop_on_verified: bool | None = _choice(
        _check_flag,
        "Also end a puzzle at the first step whose answer verifies, whatever the halting head says.",
    )
    """Also end a puzzle at the first step whose answer verifies, whatever the halting head says (and so,
    with ``halt_threshold=1.0``, run the network until its answer verifies or ``max_steps``). The default is
    the model's rule (``halting.stop_on_verified`` in its manifest). Both shipped models set it, with the
    threshold at 1.0: a verified answer is right, so later steps can only cost time or undo it, and an
    unverified one is known wrong however sure the head is (the Sudoku head stopped easy puzzles on such
    answers; the maze head, trained on small mazes, cannot judge a 30x30 route)."""

    views: int | None = _choice(
        lambda name, value: check_int(name, value, MAX_VIEWS),
        "Most symmetric views of a puzzle to try until one verifies; 1 is a single pass.",
        lambda click: click.IntRange(1, MAX_VIEWS),
    )
    """The most symmetric views of a puzzle the network may try (:mod:`trm_sdk.views`): a puzzle whose
    answer fails verification runs again as relabelled, reflected and shuffled copies, in growing waves,
    until one verifies. 1 is the single pass. The default is the number chosen for the model and recorded
    in its manifest (``inference.views``; 1 if it records none). Views need no search: an answer found by
    a view is the network's (``method="trm"``), checked by the rules like any other."""

    seed: int | None = _choice(_check_seed, "Which views a puzzle gets.", lambda click: click.IntRange(min=0))
    """Fixes which views a puzzle gets, so a run can be repeated exactly (default 0)."""

    fallback: str | None = _choice(
        _check_fallback,
        "search: finish answers that fail verification with an exact search guided by the network.",
        lambda click: click.Choice(FALLBACKS),
    )
    """"search" makes every answer exact: an exact search, guided by the network's per-cell
    probabilities and bounded by ``search_time_limit`` seconds per puzzle, finishes any answer that fails
    verification (``method="trm+search"``) and reports puzzles with no solution or several
    (``Solution.status``); it starts only after every view has failed. "none" (the default) is the pure
    network, and turns off a Solver's search for one call."""

    search_time_limit: float | None = _choice(
        _check_seconds,
        "Seconds the exact search may spend on one puzzle, with --fallback search.",
        lambda click: click.FloatRange(min=0.0, min_open=True, max=MAX_SEARCH_SECONDS),
    )
    """Seconds the exact search may spend on one puzzle (``fallback="search"``); a puzzle it cannot
    settle in time is reported with ``status="search_timeout"`` (default 10)."""

    time_budget: float | None = _choice(
        _check_budget,
        "Seconds one call may take (inf: no budget); waves of views stop starting when they would overrun "
        "it, and the best answer so far comes back.",
        lambda click: click.FloatRange(min=0.0, min_open=True),
    )
    """Seconds one call may take, for callers with a frame to keep (default ``inf``: no budget). A wave of
    views starts only if its first step is expected to end within the budget, and a running wave ends at
    the first step past it, each puzzle keeping the best answer it has; ``solved`` still says whether that
    answer verifies. The first step of every puzzle always runs, so a call overruns its budget by at most
    about one step. A batch call shares the budget: its chunks of ``batch_size`` puzzles get equal shares,
    and time one chunk leaves goes to the next. With ``fallback="search"`` the search gets what is left of
    the budget (and at most ``search_time_limit``)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                object.__setattr__(self, f.name, f.metadata["check"](f.name, value))

    def merged_over(self, defaults: SolveOptions) -> SolveOptions:
        """These options, with every field left at None taken from ``defaults``."""
        chosen = self.chosen()
        return replace(defaults, **chosen) if chosen else defaults

    def chosen(self) -> dict[str, Any]:
        """The fields set (not None), as keywords: ``solver.solve(p, **opts.chosen())``."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_keywords(
        cls, choices: Mapping[str, Any], caller: str, *, refused: Collection[str] = ()
    ) -> SolveOptions:
        """``SolveOptions(**choices)``, where a keyword that is no field (or one in ``refused``) raises the
        TypeError Python gives for a misspelt argument, naming ``caller`` and the keywords it takes."""
        valid = [f.name for f in fields(cls) if f.name not in refused]
        for name in choices:
            if name not in valid:
                raise TypeError(
                    f"{caller} got an unexpected keyword argument {name!r}; "
                    f"its choices (SolveOptions' fields) are {', '.join(valid)}"
                )
        return cls(**choices)

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> SolveOptions:
        """The defaults a model records for itself: ``halting.max_steps`` (else ``model.N_sup``),
        ``halting.threshold`` (else 0.5), ``halting.stop_on_verified`` (else False) and
        ``inference.views`` (else 1). A bad value is a bad model: ModelError, naming the manifest."""
        halting = manifest.halting
        check = {f.name: f.metadata["check"] for f in fields(cls)}  # each field's own, named for the manifest
        try:
            inference = manifest.raw.get("inference", {})
            if not isinstance(inference, dict):
                raise ValueError(f"inference must be an object, got {inference!r}")
            stop = halting.get("stop_on_verified", False)
            if not isinstance(stop, bool):
                raise ValueError(f"halting.stop_on_verified must be true or false, got {stop!r}")
            steps = halting.get("max_steps", manifest.model.get("N_sup"))
            return cls(
                max_steps=check["max_steps"]("halting.max_steps", steps),
                halt_threshold=check["halt_threshold"]("halting.threshold", halting.get("threshold", 0.5)),
                stop_on_verified=stop,
                views=check["views"]("inference.views", inference.get("views", 1)),
            )
        except ValueError as exc:
            raise ModelError(f"{manifest.directory}/manifest.json: {exc}") from exc


LIBRARY_DEFAULTS = SolveOptions(fallback="none", search_time_limit=10.0, seed=0, time_budget=math.inf)
"""The defaults no manifest records, the library's own: the pure network, 10 s of search per puzzle when
the search is asked for, the first draw of views, and no time budget."""

EVERY_STEP = SolveOptions(halt_threshold=1.0, stop_on_verified=False)
"""The paper's evaluation: every puzzle runs ``max_steps`` steps and is read at the last, with neither the
halting head nor the verifier ending it early (``solver.solve(p, EVERY_STEP)``)."""
