"""The training log beside a model's manifest: what moves there, and that nothing is lost on the way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trm_sdk import ModelError, Solver, training_log
from trm_sdk.manifest import load_manifest
from trm_sdk.shipped import available, model_dir

RECORD = {
    "step": 500,
    "elapsed_s": 90.0,
    "hardware": "CPU",
    "history": [{"step": 250, "elapsed_s": 45.0, "exact_all_steps": 0.1}],
    "learning_curve": [{"run": 1, "cpu_minutes": 0.8, "step": 250}],
    "last_window": {"minutes": 1.5},
    "summary": {"data": "generated", "commands": ["trm-train ..."], "optimizer_steps_by_period": [500]},
}


def test_split_moves_the_curve_and_the_run_records_out_and_loses_nothing() -> None:
    card, log = training_log.split(RECORD)
    assert card == {"step": 500, "elapsed_s": 90.0, "hardware": "CPU", "summary": {"data": "generated"}}
    assert set(log) == {"history", "learning_curve", "last_window", "summary"}
    assert log["summary"] == {"commands": ["trm-train ..."], "optimizer_steps_by_period": [500]}
    assert training_log.full_record(card, log) == RECORD


def test_read_is_empty_without_a_log_and_a_model_error_for_a_bad_one(tmp_path: Path) -> None:
    assert training_log.read(tmp_path) == {}
    path = training_log.write(tmp_path, {"learning_curve": []})
    assert (
        json.loads(path.read_text()) == {"learning_curve": []} and not path.with_suffix(".json.tmp").exists()
    )
    path.write_text("{not json")
    with pytest.raises(ModelError, match="not a readable training log"):
        training_log.read(tmp_path)
    path.write_text("[1]")
    with pytest.raises(ModelError, match="JSON object"):
        training_log.read(tmp_path)


def test_total_minutes_counts_the_runs_before_and_a_hand_kept_total_wins() -> None:
    assert training_log.total_minutes({"elapsed_s": 600.0, "init_from": {"cpu_minutes": 20}}) == 30.0
    assert training_log.total_minutes({"elapsed_s": 600.0, "summary": {"wall_minutes": 7.5}}) == 7.5


@pytest.mark.parametrize("task", available())
def test_shipped_manifests_are_a_contract_and_a_card(task: str, tmp_path: Path) -> None:
    """The runtime needs nothing from the log: a shipped model without it still loads and solves."""
    raw = load_manifest(model_dir(task)).raw
    assert not set(training_log.LOG_KEYS) & set(raw["training"])
    assert training_log.read(model_dir(task))["history"]  # the in-training evaluations live beside it
    assert len(json.dumps(raw)) < 40_000  # a card, not a log
    import shutil

    copy = tmp_path / task
    shutil.copytree(model_dir(task), copy)
    (copy / training_log.TRAINING_LOG_NAME).unlink()
    Solver(task, model=copy, backend="cpu")
