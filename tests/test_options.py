"""``SolveOptions``: the one list of per-call choices, its checks, its merge, the defaults a manifest records,
and the Solver keywords and ``trm`` flags made from it."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
from click.testing import CliRunner

from trm_sdk import ModelError, Solver
from trm_sdk.cli import main
from trm_sdk.limits import MAX_SEARCH_SECONDS, MAX_STEPS, MAX_VIEWS
from trm_sdk.manifest import load_manifest
from trm_sdk.options import EVERY_STEP, LIBRARY_DEFAULTS, SolveOptions

PUZZLE = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
FIELDS = [f.name for f in dataclasses.fields(SolveOptions)]


def test_the_fields_are_the_per_call_choices_and_default_to_none() -> None:
    assert FIELDS == [
        "max_steps",
        "halt_threshold",
        "stop_on_verified",
        "views",
        "seed",
        "fallback",
        "search_time_limit",
        "time_budget",
    ]
    assert all(v is None for v in dataclasses.asdict(SolveOptions()).values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        SolveOptions().max_steps = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        SolveOptions(3)  # type: ignore[misc]  # keywords only: a bare number names nothing


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        ({"max_steps": 0}, f"max_steps must be an integer from 1 to {MAX_STEPS}, got 0"),
        ({"max_steps": 2.5}, "max_steps must be an integer from 1 to"),
        ({"max_steps": True}, "max_steps must be an integer from 1 to"),
        ({"max_steps": MAX_STEPS + 1}, "max_steps must be an integer from 1 to"),
        ({"halt_threshold": 1.5}, r"halt_threshold must be a number in \[0, 1\], got 1.5"),
        ({"halt_threshold": "high"}, r"halt_threshold must be a number in \[0, 1\]"),
        ({"halt_threshold": float("nan")}, r"halt_threshold must be a number in \[0, 1\]"),
        ({"stop_on_verified": 1}, "stop_on_verified must be None, True or False, got 1"),
        ({"views": 0}, f"views must be an integer from 1 to {MAX_VIEWS}"),
        ({"views": "4"}, "views must be an integer from 1 to"),
        ({"seed": -1}, "seed must be a non-negative integer, got -1"),
        ({"seed": 1.0}, "seed must be a non-negative integer"),
        ({"fallback": "guess"}, "fallback must be None, 'none' or 'search', got 'guess'"),
        ({"fallback": ["search"]}, "fallback must be None, 'none' or 'search'"),
        ({"search_time_limit": 0}, "search_time_limit must be a number of seconds above 0 and at most"),
        ({"search_time_limit": float("inf")}, "search_time_limit must be a number of seconds above 0"),
        ({"search_time_limit": MAX_SEARCH_SECONDS * 2}, "search_time_limit must be a number of seconds"),
    ],
)
def test_bad_values_are_refused_with_the_solvers_messages(choice: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SolveOptions(**choice)


def test_numpy_values_are_stored_as_pythons() -> None:
    opts = SolveOptions(
        max_steps=np.int64(3), halt_threshold=np.float32(0.5), views=np.uint8(4), seed=np.int32(0)
    )
    assert (opts.max_steps, opts.halt_threshold, opts.views, opts.seed) == (3, 0.5, 4, 0)
    assert [type(v) for v in (opts.max_steps, opts.halt_threshold, opts.views, opts.seed)] == [
        int,
        float,
        int,
        int,
    ]
    assert (
        SolveOptions(halt_threshold=1).halt_threshold == 1.0
        and SolveOptions(fallback="none").fallback == "none"
    )


def test_merged_over_fills_only_what_is_unset() -> None:
    call = SolveOptions(max_steps=2, fallback="none")
    defaults = SolveOptions(max_steps=16, halt_threshold=0.5, fallback="search", views=8)
    merged = call.merged_over(defaults)
    assert merged == SolveOptions(max_steps=2, halt_threshold=0.5, fallback="none", views=8)
    assert SolveOptions().merged_over(defaults) == defaults
    assert call.merged_over(SolveOptions()) == call
    assert call.chosen() == {"max_steps": 2, "fallback": "none"} and SolveOptions().chosen() == {}
    everything = SolveOptions(max_steps=1).merged_over(EVERY_STEP).merged_over(LIBRARY_DEFAULTS)
    assert everything.chosen() == {
        "max_steps": 1,
        "halt_threshold": 1.0,
        "stop_on_verified": False,
        "seed": 0,
        "fallback": "none",
        "search_time_limit": 10.0,
        "time_budget": float("inf"),
    }


def test_every_step_is_the_papers_evaluation() -> None:
    assert EVERY_STEP.chosen() == {"halt_threshold": 1.0, "stop_on_verified": False}


def test_unknown_keywords_are_type_errors_naming_the_choices() -> None:
    with pytest.raises(
        TypeError, match=r"solve\(\) got an unexpected keyword argument 'max_step'; .*max_steps"
    ):
        SolveOptions.from_keywords({"max_step": 2}, "solve()")
    with pytest.raises(TypeError, match="'fallback'") as refused:
        SolveOptions.from_keywords(
            {"fallback": "search"}, "predict()", refused=("fallback", "search_time_limit")
        )
    assert "search_time_limit" not in str(refused.value).split("are ")[-1]
    assert SolveOptions.from_keywords({"views": 4}, "solve()") == SolveOptions(views=4)


# --- the defaults a model records ------------------------------------------------------------------------


def _model_copy(tiny_model_dir: Path, tmp_path: Path, edit: Any = None) -> Path:
    model = tmp_path / "m"
    shutil.copytree(tiny_model_dir, model)
    if edit is not None:
        body = json.loads((model / "manifest.json").read_text())
        edit(body)
        (model / "manifest.json").write_text(json.dumps(body))
    return model


def test_manifest_defaults(tiny_model_dir: Path, tmp_path: Path) -> None:
    manifest = load_manifest(tiny_model_dir)
    read = SolveOptions.from_manifest(manifest)
    assert read == SolveOptions(
        max_steps=manifest.halting["max_steps"],
        halt_threshold=manifest.halting["threshold"],
        stop_on_verified=False,  # the tiny model records no rule: the halting head alone
        views=1,  # and no views: the single pass
    )

    def recorded(body: dict[str, Any]) -> None:
        del body["halting"]["max_steps"], body["halting"]["threshold"]
        body["halting"]["stop_on_verified"] = True
        body["inference"] = {"views": 8}

    other = SolveOptions.from_manifest(load_manifest(_model_copy(tiny_model_dir, tmp_path, recorded)))
    assert other == SolveOptions(
        max_steps=manifest.N_sup, halt_threshold=0.5, stop_on_verified=True, views=8
    )  # N_sup and 0.5 where the manifest records neither


@pytest.mark.parametrize(
    ("section", "key", "value", "field"),
    [
        ("halting", "threshold", 7, r"halting\.threshold"),
        ("halting", "max_steps", "many", r"halting\.max_steps"),
        ("halting", "stop_on_verified", "yes", r"halting\.stop_on_verified must be true or false"),
        ("inference", "views", 0, r"inference\.views"),
        ("inference", None, [8], r"inference must be an object"),
    ],
)
def test_bad_manifest_defaults_are_model_errors(
    tiny_model_dir: Path, tmp_path: Path, section: str, key: str | None, value: Any, field: str
) -> None:
    def spoil(body: dict[str, Any]) -> None:
        if key is None:
            body[section] = value
        else:
            body.setdefault(section, {})[key] = value

    model = _model_copy(tiny_model_dir, tmp_path, spoil)
    with pytest.raises(ModelError, match=rf"manifest\.json: .*{field}"):
        SolveOptions.from_manifest(load_manifest(model))
    with pytest.raises(ModelError, match=field):
        Solver("sudoku", backend="cpu", model=model)


# --- the Solver takes them as keywords or as one object --------------------------------------------------


@pytest.fixture(scope="module")
def tiny_solver(tiny_model_dir: Path) -> Solver:
    return Solver("sudoku", backend="cpu", model=tiny_model_dir)


def test_solver_options_are_resolved_and_read_as_attributes(
    tiny_model_dir: Path, tiny_solver: Solver
) -> None:
    opts = tiny_solver.options
    assert None not in dataclasses.asdict(opts).values()
    assert opts == SolveOptions.from_manifest(tiny_solver.manifest).merged_over(LIBRARY_DEFAULTS)
    for name in FIELDS:
        expected = getattr(opts, name)
        assert getattr(tiny_solver, name) == (None if expected == "none" else expected), name
    with pytest.raises(AttributeError, match="max_step"):
        tiny_solver.max_step  # noqa: B018
    given = Solver("sudoku", backend="cpu", model=tiny_model_dir, options=EVERY_STEP, max_steps=2, seed=3)
    assert (given.max_steps, given.halt_threshold, given.stop_on_verified, given.seed) == (2, 1.0, False, 3)
    keyword_wins = Solver(
        "sudoku", backend="cpu", model=tiny_model_dir, options=EVERY_STEP, halt_threshold=0.0
    )
    assert keyword_wins.halt_threshold == 0.0 and keyword_wins.solve(PUZZLE).steps == 1


def test_a_call_takes_options_and_keywords_and_keywords_win(tiny_solver: Solver) -> None:
    n_sup = tiny_solver.manifest.N_sup
    assert tiny_solver.solve(PUZZLE, SolveOptions(halt_threshold=0.0)).steps == 1  # the head halts at once
    assert tiny_solver.solve(PUZZLE, EVERY_STEP).steps == n_sup
    assert tiny_solver.solve(PUZZLE, options=EVERY_STEP, max_steps=2).steps == 2
    assert tiny_solver.solve(PUZZLE, SolveOptions(halt_threshold=0.0), halt_threshold=1.0).steps == n_sup
    assert [
        r.steps for r in tiny_solver.solve_batch([PUZZLE] * 3, EVERY_STEP, batch_size=2, max_steps=3)
    ] == [3] * 3
    assert tiny_solver.predict([PUZZLE], EVERY_STEP, max_steps=2).steps.tolist() == [2]
    assert tiny_solver.rate(PUZZLE, EVERY_STEP, max_steps=1).steps == 1
    assert tiny_solver.hint(PUZZLE, EVERY_STEP).digit in range(1, 10)
    # rate never searches: an options object's fallback is not used (a search would solve this puzzle)
    assert tiny_solver.rate(PUZZLE, SolveOptions(fallback="search")) == tiny_solver.rate(PUZZLE)
    assert not tiny_solver.rate(PUZZLE, SolveOptions(fallback="search")).solved


@pytest.mark.parametrize("method", ["solve", "solve_batch", "predict", "hint", "rate", "constructor"])
def test_an_unknown_keyword_is_a_type_error_naming_the_choices(
    tiny_model_dir: Path, tiny_solver: Solver, method: str
) -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'threshold'; .*halt_threshold"):
        if method == "constructor":
            Solver("sudoku", backend="cpu", model=tiny_model_dir, threshold=0.5)
        else:
            puzzle: Any = [PUZZLE] if method in ("solve_batch", "predict") else PUZZLE
            getattr(tiny_solver, method)(puzzle, threshold=0.5)


def test_predict_and_rate_refuse_search_keywords_and_options_must_be_solve_options(
    tiny_solver: Solver,
) -> None:
    for call in (
        lambda **kw: tiny_solver.predict([PUZZLE], **kw),
        lambda **kw: tiny_solver.rate(PUZZLE, **kw),
    ):
        with pytest.raises(TypeError, match="unexpected keyword argument 'fallback'"):
            call(fallback="search")
        with pytest.raises(TypeError, match="unexpected keyword argument 'search_time_limit'"):
            call(search_time_limit=1.0)
    with pytest.raises(TypeError, match="options must be a SolveOptions, got dict"):
        tiny_solver.solve(PUZZLE, {"max_steps": 2})  # type: ignore[arg-type]


# --- the command line's flags are made from the fields --------------------------------------------------


@pytest.mark.parametrize("command", ["solve", "eval"])
def test_every_field_has_a_flag_with_its_name_and_help(command: str) -> None:
    params = {p.name: p for p in main.commands[command].params if isinstance(p, click.Option)}
    for f in dataclasses.fields(SolveOptions):
        option = params.get(f.name)
        assert option is not None, f"trm {command} has no flag for {f.name}"
        flag = "--" + f.name.replace("_", "-")
        assert option.opts == [flag] and option.help and option.default is None
        assert option.secondary_opts == ([f"--no-{flag[2:]}"] if option.is_bool_flag else [])
    assert params["stop_on_verified"].is_bool_flag
    help_text = CliRunner().invoke(main, [command, "--help"]).output
    assert "--halt-threshold" in help_text and "--search-time-limit" in help_text
    assert "--threshold " not in help_text and "--time-limit" not in help_text.replace(
        "--search-time-limit", ""
    )


def test_flags_reach_the_solver_and_the_old_names_are_gone(tiny_model_dir: Path) -> None:
    def steps(*flags: str) -> int:
        result = CliRunner().invoke(main, ["solve", PUZZLE, "--model", str(tiny_model_dir), "--json", *flags])
        assert result.exit_code in (0, 1), result.output
        return json.loads(result.stdout.splitlines()[0])["steps"]

    n_sup = load_manifest(tiny_model_dir).N_sup
    assert steps() == n_sup  # the tiny model's head never passes its threshold
    assert steps("--halt-threshold", "0") == 1
    assert steps("--halt-threshold", "1", "--max-steps", "2") == 2
    for old in ("--threshold", "--time-limit"):
        result = CliRunner().invoke(main, ["solve", PUZZLE, "--model", str(tiny_model_dir), old, "1"])
        assert result.exit_code == 2 and "No such option" in result.output, old
    bad = CliRunner().invoke(
        main, ["solve", PUZZLE, "--model", str(tiny_model_dir), "--search-time-limit", "0"]
    )
    assert bad.exit_code == 2 and "--search-time-limit" in bad.output
