"""trm bench's library side (samples, per-backend measurements), and what guidance saves the search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trm_sdk import Solver, bench
from trm_sdk.shipped import available
from trm_sdk.tasks import get_task

SUDOKU = get_task("sudoku")


def test_generated_sample_is_reproducible() -> None:
    a = bench.generated_sample(SUDOKU, "easy", "easy", 3, seed=5)
    b = bench.generated_sample(SUDOKU, "easy", "easy", 3, seed=5)
    assert a.puzzles.shape == (3, 9, 9) and np.array_equal(a.puzzles, b.puzzles)


@pytest.mark.skipif("sudoku" not in available(), reason="needs the shipped sudoku model")
def test_all_steps_runs_every_step_of_a_model_that_stops_when_verified() -> None:
    # The shipped model stops at its first verified answer; "all steps" must not, or it measures nothing.
    assert Solver("sudoku", backend="cpu").stop_on_verified
    easy = [bench.generated_sample(SUDOKU, "easy", "easy", 2, 1)]
    out = bench.measure_backend("cpu", easy, [2], 2, views=(0, 0))
    latency = out["latency"]["easy"]
    assert latency["all_steps"]["mean_steps"] == out["max_steps"] == 16
    assert latency["halting"]["mean_steps"] < 4  # easy puzzles verify within a step or two


def test_measure_backend_reports_latency_and_throughput(tiny_model_dir: Path) -> None:
    samples = [
        bench.generated_sample(SUDOKU, "easy", "easy", 3, 1),
        bench.generated_sample(SUDOKU, "hard", "hard", 3, 2),
    ]
    seen: list[int] = []
    out = bench.measure_backend("cpu", samples, [2, 5], 4, seen.append, model=tiny_model_dir)
    assert out["available"] and out["backend"] == "cpu"
    n_sup = out["max_steps"]
    assert (
        n_sup == Solver(backend="cpu", model=tiny_model_dir).manifest.N_sup
    )  # all steps = the model's N_sup
    for name in ("easy", "hard"):
        for mode in ("halting", "all_steps"):
            lat = out["latency"][name][mode]
            assert 0 < lat["p50_ms"] <= lat["p95_ms"] and lat["runs"] == 4 and lat["mean_ms"] > 0
    assert out["latency"]["easy"]["all_steps"]["mean_steps"] == n_sup
    for size, batches in (("2", 1), ("5", 1)):
        for name in ("easy", "hard"):  # timed apart, never mixed
            row = out["throughput"][size][name]
            assert row["halting"]["puzzles_per_s"] > 0 and row["all_steps"]["mean_steps"] == n_sup
            assert (
                0 < row["halting"]["mean_ms"] <= row["halting"]["p95_ms"]
                and row["halting"]["batches"] == batches
            )
            # batch_ms is rounded to 0.1 ms and mean_ms to 0.01 ms: the tolerance is the rounding
            assert row["halting"]["batch_ms"] == pytest.approx(
                int(size) * row["halting"]["mean_ms"], abs=0.05 + int(size) * 0.005 + 1e-9
            )
            assert 0 <= row["halting"]["solved"] <= 1
    # every puzzle run is reported to the progress bar: latency, then each sample at each batch size
    assert sum(seen) == 2 * 2 * 4 + 2 * 2 * (2 + 5)
    assert sum(seen) == 2 * 2 * 4 + 2 * sum(bench.batch_puzzles(3, b) for b in (2, 5) for _ in samples)


def test_a_sample_fills_as_many_batches_as_it_can() -> None:
    assert bench.batch_puzzles(512, 256) == 512  # two batches, for a p95 over batches
    assert bench.batch_puzzles(100, 256) == 256  # one batch, the sample cycled to fill it
    assert bench.batch_puzzles(3, 1) == 3


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
    pred = Solver("sudoku", backend="cpu", model=tiny_model_dir).predict(puzzles)
    gain = SUDOKU.search_gain(puzzles, pred.logits, pred.solved)
    assert gain is not None
    unguided = search.solve(hard, limit=1).nodes
    assert gain["all"]["puzzles"] == 2
    assert gain["all"]["mean_nodes_unguided"] == unguided  # the baseline is the plain search, exactly
    assert gain["all"]["mean_nodes_guided"] > 0
    assert gain["network_failed"]["puzzles"] in (0, 1, 2)


def test_search_gain_is_zero_when_propagation_alone_solves(tiny_model_dir: Path) -> None:
    from trm_sdk.tasks.sudoku import codec

    classic = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
    puzzles = codec.parse(classic)[None]
    pred = Solver("sudoku", backend="cpu", model=tiny_model_dir).predict(puzzles)
    gain = SUDOKU.search_gain(puzzles, pred.logits, pred.solved)
    assert gain is not None
    assert gain["all"]["mean_nodes_unguided"] == 0 and gain["all"]["nodes_saved"] == 0.0


def test_a_maze_search_never_branches_so_it_reports_no_gain() -> None:
    maze = get_task("maze")
    puzzles, _ = maze.generate(np.random.default_rng(0), "easy")
    logits = np.zeros((1, maze.seq_len, maze.vocab_size), np.float32)
    assert maze.search_gain(puzzles[None], logits, np.zeros(1, bool)) is None


def test_measure_backend_reports_accuracy_against_views(tiny_model_dir: Path) -> None:
    samples = [bench.generated_sample(SUDOKU, "hard", "hard", 3, 4)]
    seen: list[int] = []
    out = bench.measure_backend("cpu", samples, [2], 1, seen.append, views=(16, 2), model=tiny_model_dir)
    table = out["views_table"]["hard"]
    assert list(table) == ["1", "4", "16"] and out["views"] == 1
    assert all(0 <= row["solved"] <= 1 and 1 <= row["mean_views"] <= int(n) for n, row in table.items())
    assert table["1"]["mean_views"] == 1
    # Views only ever add verified answers: a puzzle solved with n views is solved with more.
    assert table["1"]["solved"] <= table["4"]["solved"] <= table["16"]["solved"]
    assert sum(seen) == 2 * 1 + 2 * 2 + 3 * 2  # latency, batch of 2, views table


def test_benchmark_reports_the_work_it_announced(tiny_model_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "hard.txt"
    hard = bench.generated_sample(SUDOKU, "hard", "hard", 3, 2)
    path.write_text("".join("".join(str(d) for d in p.ravel()) + "\n" for p in hard.puzzles))
    loaded: list[int] = []
    samples = [
        bench.sample(SUDOKU, "easy", "easy", 2, 1, loaded.append),
        bench.sample(SUDOKU, "hard", str(path), 5, 0),
    ]
    assert sum(loaded) == 2 and samples[1].source == str(path) and len(samples[1].puzzles) == 3
    with pytest.raises(ValueError, match="neither a sudoku level"):
        bench.sample(SUDOKU, "hard", str(tmp_path / "missing.csv"), 3, 0)
    seen: list[int] = []
    names = ["cpu", "tensorrt"] if bench.backends.availability("tensorrt") else ["cpu"]
    report = bench.benchmark(names, samples, [2], 2, seen.append, views=(4, 2), model=tiny_model_dir)
    assert sum(seen) == bench.backend_work(samples, [2], 2, (4, 2), SUDOKU.max_views)
    assert report["samples"] == {
        "easy": {"source": "easy", "puzzles": 2},
        "hard": {"source": str(path), "puzzles": 3},
    }
    assert [b["backend"] for b in report["backends"]] == names and report["backends"][0]["available"]
    assert all(not b["available"] and b["reason"] for b in report["backends"][1:])


def test_the_cpu_backend_is_measured_once_per_engine_side_by_side(tiny_model_dir: Path) -> None:
    from trm_sdk.backends import cpu_engines

    samples = [bench.generated_sample(SUDOKU, "easy", "easy", 2, 1)]
    assert bench.configurations(["tensorrt", "cpu"], ["auto", "onnxruntime"]) == [
        ("tensorrt", None),
        ("cpu", "auto"),
        ("cpu", "onnxruntime"),
    ]
    report = bench.benchmark(
        ["cpu"], samples, [2], 1, views=(0, 0), engines=bench.CPU_ENGINES, model=tiny_model_dir
    )
    rows = {b["engine"]: b for b in report["backends"]}
    assert list(rows) == ["auto", "onnxruntime", "openvino"]
    assert rows["onnxruntime"]["available"] and rows["onnxruntime"]["engines"] == "onnxruntime fp32"
    assert rows["auto"]["engines"].startswith("onnxruntime fp32")  # the summary of what auto runs here
    if cpu_engines.openvino_version() is None:
        assert not rows["openvino"]["available"] and "trm-sdk[openvino]" in rows["openvino"]["reason"]
    else:
        assert rows["openvino"]["available"] and rows["openvino"]["engines"].startswith("openvino ")
    with pytest.raises(ValueError, match="engine must be one of"):
        bench.benchmark(["cpu"], samples, [2], 1, engines=["tvm"], model=tiny_model_dir)


def test_trm_bench_names_each_cpu_engine_it_measures(tiny_model_dir: Path) -> None:
    from click.testing import CliRunner

    from trm_sdk.cli import main

    args = ["bench", "--backend", "cpu", "--engine", "onnxruntime", "--engine", "auto", "--model"]
    args += [str(tiny_model_dir), "--count", "2", "--latency-runs", "1", "--batch-sizes", "2"]
    result = CliRunner().invoke(main, [*args, "--views-table", "0", "-q"])
    assert result.exit_code == 0, result.output
    assert "cpu/onnxruntime  runs onnxruntime fp32" in result.output and "cpu/auto" in result.output
