"""trm bench's library side: samples, per-backend measurements, and the guided search's savings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trm_sdk import Solver, bench


def test_generated_sample_is_reproducible() -> None:
    a = bench.generated_sample("easy", "easy", 3, seed=5)
    b = bench.generated_sample("easy", "easy", 3, seed=5)
    assert a.puzzles.shape == (3, 9, 9) and np.array_equal(a.puzzles, b.puzzles)


def test_measure_backend_reports_latency_and_throughput(tiny_model_dir: Path) -> None:
    samples = [bench.generated_sample("easy", "easy", 3, 1), bench.generated_sample("hard", "hard", 3, 2)]
    seen: list[int] = []
    out = bench.measure_backend("cpu", samples, [2, 5], 4, seen.append, model=tiny_model_dir)
    assert out["available"] and out["backend"] == "cpu"
    for name in ("easy", "hard"):
        for mode in ("halting", "all_steps"):
            lat = out["latency"][name][mode]
            assert 0 < lat["p50_ms"] <= lat["p95_ms"] and lat["runs"] == 4
    assert out["latency"]["easy"]["all_steps"]["mean_steps"] == 16
    for size in ("2", "5"):
        row = out["throughput"][size]
        assert row["halting"]["puzzles_per_s"] > 0 and row["all_steps"]["mean_steps"] == 16
        assert 0 <= row["halting"]["solved"] <= 1
    assert sum(seen) == 2 * 2 * 4 + 2 * (2 + 5)  # every puzzle run is reported to the progress bar


def test_unavailable_backend_is_reported_not_raised(tiny_model_dir: Path) -> None:
    from trm_sdk import backends

    unavailable = [b for b in backends.BACKENDS if backends.availability(b) is not None]
    if not unavailable:
        pytest.skip("every backend runs here: nothing to report")
    out = bench.measure_backend(unavailable[0], [], [2], 1, model=tiny_model_dir)
    assert out == {
        "backend": unavailable[0],
        "available": False,
        "reason": backends.availability(unavailable[0]),
    }


def test_search_gain_counts_nodes_both_ways(tiny_model_dir: Path) -> None:
    hard = "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......"
    from trm_sdk.tasks.sudoku import codec, search

    puzzles = np.stack([codec.parse(hard)] * 2)
    gain = bench.search_gain(Solver("sudoku", backend="cpu", model=tiny_model_dir), puzzles)
    unguided = search.solve(hard, limit=1).nodes
    assert gain["all"]["puzzles"] == 2
    assert gain["all"]["mean_nodes_unguided"] == unguided  # the baseline is the plain search, exactly
    assert gain["all"]["mean_nodes_guided"] > 0
    assert gain["network_failed"]["puzzles"] in (0, 1, 2)


def test_search_gain_is_zero_when_propagation_alone_solves(tiny_model_dir: Path) -> None:
    from trm_sdk.tasks.sudoku import codec

    classic = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
    gain = bench.search_gain(
        Solver("sudoku", backend="cpu", model=tiny_model_dir), codec.parse(classic)[None]
    )
    assert gain["all"]["mean_nodes_unguided"] == 0 and gain["all"]["nodes_saved"] == 0.0
