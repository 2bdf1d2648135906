"""Maze training and export on the CPU, end to end through the commands: trm-train --task maze, trm-export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

from click.testing import CliRunner

from trm_sdk.tasks import get_task
from trm_sdk.tasks.maze import codec
from trm_sdk.train.data import CurriculumStream, StreamConfig

MAZE = get_task("maze")


def maze_stream(**values: object) -> CurriculumStream:
    return CurriculumStream(MAZE, StreamConfig.for_task(MAZE, **values))


def test_stream_batches_are_valid_augmented_pairs_and_resume_exactly() -> None:
    stream = maze_stream(seed=1, pool_size=16)
    assert (stream.cfg.refresh, stream.cfg.chunk_size) == (0.1, 8)  # the maze's tuning, not Sudoku's
    assert "files" not in stream.stages[-1]  # no --data: file sources are dropped
    q, a = stream.next_batch(6)
    assert q.shape == a.shape == (6, 900) and q.dtype == np.int64
    assert codec.are_solutions(a.reshape(-1, 30, 30), q.reshape(-1, 30, 30)).all()
    state = stream.state_dict()
    after = stream.next_batch(5)
    again = maze_stream(seed=1, pool_size=16)
    again.load_state_dict(state)
    assert all(np.array_equal(x, y) for x, y in zip(after, again.next_batch(5), strict=True))
    assert stream.report(np.ones(stream.cfg.advance_window)) and stream.stage == 1
    assert set(stream.pools) <= set(MAZE.curricula["easy-to-hard"][1])
    saved = stream.state_dict()["pools"]  # mazes only: their answers are rebuilt from them on resume
    assert all(isinstance(v, np.ndarray) and v.shape[1:] == (30, 30) for v in saved.values())


def test_a_conv_stream_draws_each_stage_in_its_own_frame_with_the_trained_paths() -> None:
    from trm_sdk.tasks.maze import training

    stream = maze_stream(seed=2, pool_size=16, frames=True)
    assert [training.frame(stage) for stage in stream.stages] == [12, 18, 24, 30, 30, 30]
    q, a = stream.next_batch(8)
    assert q.shape == a.shape == (8, 144)  # the 12x12 corner that holds every maze of stage 1
    framed = np.full((8, 30, 30), codec.WALL, np.int64)
    framed[:, :12, :12] = q.reshape(8, 12, 12)
    answers = np.full((8, 30, 30), codec.WALL, np.int64)
    answers[:, :12, :12] = a.reshape(8, 12, 12)
    assert codec.are_solutions(answers, framed).all()
    # Turned mazes get their own answer, not the turned one: always the path codec.shortest_path draws.
    relabelled = codec.encode(training.answers(framed.astype(np.int8))).reshape(8, 30, 30)
    assert np.array_equal(answers, relabelled)
    stream.report(np.ones(stream.cfg.advance_window))
    assert stream.frame() == 18 and stream.next_batch(2)[0].shape == (2, 324)


@pytest.mark.slow
def test_conv_training_moves_to_a_larger_frame_when_the_curriculum_advances(tmp_path: Path) -> None:
    from trm_sdk.network import TRMConfig
    from trm_sdk.train.config import TrainConfig
    from trm_sdk.train.trainer import Trainer

    model = TRMConfig.from_dict({**MAZE.model_defaults, "hidden": 16, "n": 1, "N_sup": 2, "multiple_of": 16})
    cfg = TrainConfig(
        task="maze", batch_size=4, max_steps=6, stage_puzzles=4, eval_every=0, eval_size=4, device="cpu"
    )
    trainer = Trainer(model, cfg, tmp_path)
    summary = trainer.train()
    assert summary["steps"] == 6
    assert trainer.data.stage >= 1  # N_sup=2: 4 puzzles finish by step 2 and the stage moves on
    assert trainer.data.frame() > 12  # and the batch moved to the larger frame with it


@pytest.mark.slow
def test_trm_train_and_trm_export_for_maze(tmp_path: Path) -> None:
    from trm_sdk import Solver
    from trm_sdk.export.cli import main as export_main
    from trm_sdk.train.cli import main as train_main

    tiny = [
        "mixer=attention",
        "hidden=16",
        "n_heads=2",
        "n_prefix=2",
        "T=1",
        "n=1",
        "N_sup=2",
        "multiple_of=16",
    ]
    train_args = ["--task", "maze", "--out", str(tmp_path / "run"), "--steps", "2", "--device", "cpu", "-q"]
    for kv in [*tiny, "batch_size=4", "eval_size=4", "eval_every=0", "warmup_steps=1"]:
        train_args += ["--set", kv]
    result = CliRunner().invoke(train_main, train_args)
    assert result.exit_code == 0, result.output
    assert '"steps": 2,' in result.output
    result = CliRunner().invoke(
        train_main, ["--task", "sudoku", "--resume", str(tmp_path / "run" / "latest.pt"), "--steps", "3"]
    )
    assert result.exit_code != 0 and "task sudoku needs vocab_size 11" in result.output

    out = tmp_path / "model"
    result = CliRunner().invoke(
        export_main,
        [
            "--task",
            "maze",
            "--checkpoint",
            str(tmp_path / "run" / "latest.pt"),
            "--out",
            str(out),
            "--n-verify",
            "1",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["mixer"] == "attention" and manifest["model"]["seq_len"] == 900
    assert set(manifest["parity"]["puzzles"]) == {
        "random",
        "generated-easy",
        "generated-medium",
        "generated-hard",
    }
    r = Solver("maze", model=out, backend="cpu").solve(["S  ", " # ", "  G"])
    assert r.grid.shape == (3,) and r.solved == (r.path is not None)  # padding cut off the answer
