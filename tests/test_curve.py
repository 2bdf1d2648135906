"""The learning curve in a manifest: minutes add up over a chain of runs started from one another."""

from __future__ import annotations

import itertools

from trm_sdk.train.curve import learning_curve, source_record, thin, total_minutes


def _history(*points: tuple[int, float, float]) -> list[dict]:
    return [
        {"step": s, "elapsed_s": e, "stage": 1, "exact_all_steps": a, "cell_accuracy": a}
        for s, e, a in points
    ]


def test_a_run_from_scratch_counts_its_own_minutes() -> None:
    curve = learning_curve({"history": _history((500, 60.0, 0.1), (1000, 150.0, 0.2))})
    assert [(p["run"], p["cpu_minutes"], p["step"], p["exact_all_steps"]) for p in curve] == [
        (1, 1.0, 500, 0.1),
        (1, 2.5, 1000, 0.2),
    ]
    assert learning_curve({}) == []


def test_a_chain_of_runs_continues_the_source_models_curve() -> None:
    # A manifest from before curves: 100 minutes in all, of which its last run's history covers 40.
    legacy = {"summary": {"wall_minutes": 100.0}, "elapsed_s": 2400.0, "history": _history((10, 600.0, 0.5))}
    assert total_minutes(legacy) == 100.0
    first = source_record(legacy)
    assert first["cpu_minutes"] == 100.0
    assert [(p["run"], p["cpu_minutes"]) for p in first["learning_curve"]] == [(1, 70.0)]

    second = {"init_from": first, "history": _history((500, 120.0, 0.6)), "elapsed_s": 120.0}
    curve = learning_curve(second)
    assert [(p["run"], p["cpu_minutes"], p["step"]) for p in curve] == [(1, 70.0, 10), (2, 102.0, 500)]

    # The model that second run became is in turn the source of a third.
    third = {
        "init_from": source_record({**second, "learning_curve": curve}),
        "history": _history((5, 60.0, 0.7)),
    }
    assert [(p["run"], p["cpu_minutes"]) for p in learning_curve(third)] == [
        (1, 70.0),
        (2, 102.0),
        (3, 103.0),
    ]


def test_a_source_without_history_still_offsets_the_minutes() -> None:
    curve = learning_curve({"init_from": {"cpu_minutes": 30.0}, "history": _history((100, 600.0, 0.3))})
    assert [(p["run"], p["cpu_minutes"]) for p in curve] == [(1, 40.0)]


def test_thinning_keeps_the_start_and_the_end_of_a_long_run() -> None:
    long = _history(*[(500 * (i + 1), 60.0 * i, i / 1000) for i in range(1000)])
    kept = thin(long, 400)
    assert len(kept) == 400
    assert kept[0] is long[0] and kept[-1] is long[-1]
    steps = [h["step"] for h in kept]
    assert steps == sorted(set(steps))
    gaps = {b - a for a, b in itertools.pairwise(steps)}
    assert max(gaps) <= 3 * 500  # evenly spread, not the last 400 alone
    assert thin(long[:10], 400) == long[:10]
