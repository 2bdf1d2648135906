"""Help beyond a bare answer: hints for players, and the exact search that finishes a wrong answer.

Both lean on the network's per-cell probabilities: the hint reveals the cell the network is surest
of, and the search tries the network's likeliest digit first at every branch, so a nearly right answer
costs the search a handful of branch points instead of a blind walk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ...errors import InvalidPuzzleError
from ...solution import Hint
from ..base import SearchOutcome
from . import codec, search

_UNIQUENESS_SECONDS = 5.0  # a hint's proof that the puzzle has one solution; milliseconds as a rule


def candidates(puzzle: np.ndarray) -> np.ndarray:
    """(9, 9, 9) bool: digit d + 1 clashes with no given in the row, column or box of each cell."""
    g = np.asarray(puzzle).reshape(9, 9)
    onehot = np.zeros((9, 9, 10), bool)
    onehot[np.arange(9)[:, None], np.arange(9)[None, :], g] = True
    onehot = onehot[..., 1:]  # drop "blank"
    rows = onehot.any(axis=1, keepdims=True)  # (9, 1, 9)
    cols = onehot.any(axis=0, keepdims=True)  # (1, 9, 9)
    boxes = onehot.reshape(3, 3, 3, 3, 9).any(axis=(1, 3))  # (3, 3, 9) by box row, box column
    box_of_cell = np.repeat(np.repeat(boxes, 3, axis=0), 3, axis=1)  # (9, 9, 9)
    return ~(rows | cols | box_of_cell)


def hint(puzzle: np.ndarray, logits: np.ndarray, answer: np.ndarray | None) -> Hint:
    """The empty cell the network is surest of, with its digit (see :class:`~trm_sdk.Hint`)."""
    g = np.asarray(puzzle).reshape(9, 9)
    empty = g == 0
    if not empty.any():
        raise InvalidPuzzleError("the puzzle has no empty cell left to hint")
    _, probs = codec.decode(logits)
    p = probs.reshape(9, 9, 9)
    if answer is not None:
        a = np.asarray(answer).reshape(9, 9)
        # A verified answer proves the digit only if it is the puzzle's one solution: with several, the
        # hint comes from a cell where the solutions found agree, and is not called verified.
        found = search.solve(g, limit=2, deadline=time.monotonic() + _UNIQUENESS_SECONDS)
        surety = np.where(empty, np.take_along_axis(p, a[..., None].astype(np.int64) - 1, -1)[..., 0], -1.0)
        agree = np.logical_and.reduce([s == a for s in found.solutions]) if found.solutions else empty
        surety = np.where(agree, surety, -1.0) if (empty & agree).any() else surety
        r, c = np.unravel_index(int(np.argmax(surety)), (9, 9))
        return Hint(int(r), int(c), int(a[r, c]), float(surety[r, c]), verified=found.unique)
    allowed = candidates(g) & empty[..., None]
    if not allowed.any():
        raise InvalidPuzzleError("no digit fits any empty cell: the puzzle has no solution")
    masked = np.where(allowed, p, -1.0)
    r, c, d = np.unravel_index(int(np.argmax(masked)), (9, 9, 9))
    return Hint(int(r), int(c), int(d) + 1, float(masked[r, c, d]), verified=False)


def guided_search(puzzle: np.ndarray, logits: np.ndarray, time_limit: float) -> SearchOutcome:
    """Find a solution, likeliest digits first, and look on for a second one to report ambiguity.

    Looking on costs a full walk of what is left of the search tree, usually a few milliseconds; if the
    time limit cuts that walk short the answer stands (it is verified), only its uniqueness is unproven.
    """
    _, probs = codec.decode(logits)
    found = search.solve(
        puzzle,
        limit=2,
        order=search.prob_order(probs.reshape(9, 9, 9)),
        deadline=time.monotonic() + time_limit,
    )
    if found.solutions:
        status = "multiple_solutions" if len(found.solutions) > 1 else "solved"
        nodes = found.first_nodes if found.first_nodes is not None else found.nodes
        return SearchOutcome(found.solutions[0], status, nodes)
    return SearchOutcome(None, "no_solution" if found.complete else "search_timeout", found.nodes)


def search_gain(
    puzzles: np.ndarray, logits: np.ndarray, ok: np.ndarray, progress: Callable[[int], None] = lambda n: None
) -> dict[str, Any]:
    """Branch points the exact search needs to reach a solution, unguided and guided by the network.

    Both searches are the same depth-first search with the same cell choice; only the order in which a
    cell's digits are tried differs (ascending, or the network's likeliest first), so the ratio is what
    the network's probabilities are worth to the ``fallback="search"`` mode. ``ok`` marks the puzzles the
    network solved by itself, summarised apart as the complement ("network_failed").
    """
    _, probs = codec.decode(logits)
    unguided, guided, times_u, times_g = [], [], [], []
    for puzzle, p in zip(puzzles, probs, strict=True):
        start = time.perf_counter()
        u = search.solve(puzzle, limit=1)
        times_u.append(time.perf_counter() - start)
        start = time.perf_counter()
        g = search.solve(puzzle, limit=1, order=search.prob_order(p))
        times_g.append(time.perf_counter() - start)
        unguided.append(u.nodes)
        guided.append(g.nodes)
        progress(1)
    u_arr, g_arr = np.array(unguided), np.array(guided)
    t_u, t_g = np.array(times_u), np.array(times_g)

    def summary(mask: np.ndarray) -> dict[str, Any]:
        if not mask.any():
            return {"puzzles": 0}
        return {
            "puzzles": int(mask.sum()),
            "mean_nodes_unguided": round(float(u_arr[mask].mean()), 2),
            "mean_nodes_guided": round(float(g_arr[mask].mean()), 2),
            # share of the unguided search's branch points that guidance avoids (0 when neither branched)
            "nodes_saved": round(1 - float(g_arr[mask].sum()) / float(u_arr[mask].sum()), 4)
            if u_arr[mask].sum()
            else 0.0,
            "guided_fewer": round(float((g_arr[mask] < u_arr[mask]).mean()), 4),
            "guided_more": round(float((g_arr[mask] > u_arr[mask]).mean()), 4),
            "ms_unguided": round(1000 * float(t_u[mask].mean()), 2),
            "ms_guided": round(1000 * float(t_g[mask].mean()), 2),
        }

    return {"all": summary(np.ones(len(puzzles), bool)), "network_failed": summary(~np.asarray(ok, bool))}
