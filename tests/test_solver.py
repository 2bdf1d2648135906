"""The public API of section 2 of the design: Solver, Solution, errors, halting, backends, no torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import trm_sdk
from trm_sdk import BackendUnavailableError, InvalidPuzzleError, ModelError, Solver, TRMError
from trm_sdk.shipped import available, model_dir

# A classic puzzle with a unique solution, typed in so no test depends on the shared data folder.
CLASSIC = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
CLASSIC_SOLUTION = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
SHIPPED = "sudoku" in available()
needs_shipped = pytest.mark.skipif(not SHIPPED, reason="no shipped sudoku model in this checkout")


def _grid(text: str) -> np.ndarray:
    return np.array([int(c) for c in text]).reshape(9, 9)


def test_public_names() -> None:
    for name in (
        "Solver",
        "SolveOptions",
        "Solution",
        "InvalidPuzzleError",
        "BackendUnavailableError",
        "ModelError",
        "TRMError",
        "__version__",
    ):
        assert name in trm_sdk.__all__ and hasattr(trm_sdk, name)
    assert issubclass(InvalidPuzzleError, ValueError) and issubclass(InvalidPuzzleError, TRMError)
    assert issubclass(BackendUnavailableError, TRMError)


def test_import_and_cpu_solve_never_import_torch(tiny_model_dir: Path) -> None:
    code = (
        "import sys, trm_sdk\n"
        f"s = trm_sdk.Solver('sudoku', backend='cpu', model={str(tiny_model_dir)!r})\n"
        f"s.solve({CLASSIC!r})\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_solution_fields_and_types(tiny_model_dir: Path) -> None:
    r = Solver("sudoku", backend="cpu", model=tiny_model_dir).solve(CLASSIC)
    assert isinstance(r.grid, np.ndarray) and r.grid.shape == (9, 9)
    assert np.issubdtype(r.grid.dtype, np.integer)
    assert r.grid.min() >= 1 and r.grid.max() <= 9
    assert isinstance(r.solved, bool)
    assert isinstance(r.steps, int) and 1 <= r.steps <= 16
    assert isinstance(r.confidence, float) and 0.0 <= r.confidence <= 1.0
    assert r.backend == "cpu"
    text = str(r)
    assert "step" in text and len(text.splitlines()) >= 10


def test_solution_to_dict_is_json_ready() -> None:
    grid = np.arange(1, 10, dtype=np.int8)[None].repeat(9, axis=0)
    path = [(np.int64(0), np.int64(1)), (1, 1)]
    r = trm_sdk.Solution(grid, True, np.int64(3), 0.25, "cpu", puzzle=grid, path=path, search_nodes=7)
    row = r.to_dict()
    assert row == {
        "grid": grid.tolist(),
        "solved": True,
        "steps": 3,
        "confidence": 0.25,
        "backend": "cpu",
        "task": "sudoku",
        "method": "trm",
        "path": [[0, 1], [1, 1]],
        "status": "solved",
        "search_nodes": 7,
        "views": 1,
    }  # puzzle, the caller's own input, is left out as in the repr
    assert json.loads(json.dumps(row)) == row and type(row["steps"]) is int


def test_solved_is_the_verifiers_word_not_the_networks(tiny_model_dir: Path) -> None:
    # The tiny model's answers are wrong: solved must say so, however confident it is.
    r = Solver("sudoku", backend="cpu", model=tiny_model_dir).solve(CLASSIC)
    assert r.solved == (r.grid.tolist() == _grid(CLASSIC_SOLUTION).tolist())


@pytest.mark.parametrize(
    "form",
    [
        CLASSIC,
        CLASSIC.replace(".", "0"),
        "\n".join(CLASSIC[i : i + 9] for i in range(0, 81, 9)),
        " ".join(CLASSIC),
        _grid(CLASSIC.replace(".", "0")).tolist(),
        _grid(CLASSIC.replace(".", "0")),
        _grid(CLASSIC.replace(".", "0")).ravel().tolist(),
        _grid(CLASSIC.replace(".", "0")).ravel(),
    ],
    ids=["string", "zeros", "nine-lines", "spaced", "nested-list", "array", "flat-list", "flat-array"],
)
def test_every_accepted_form_gives_the_same_answer(tiny_model_dir: Path, form: object) -> None:
    solver = Solver("sudoku", backend="cpu", model=tiny_model_dir)
    assert solver.solve(form).grid.tolist() == solver.solve(CLASSIC).grid.tolist()


@pytest.mark.parametrize(
    "bad,pattern",
    [
        ("123", r"81"),
        (CLASSIC[:40] + "x" + CLASSIC[41:], r"'x'.*41.*r5c5"),
        ("55" + "." * 79, r"digit 5 .*row 1.*r1c1.*r1c2"),
        ("5" + "." * 8 + "5" + "." * 71, r"column 1.*r1c1.*r2c1"),
        ("5" + "." * 9 + "5" + "." * 70, r"box 1.*r1c1.*r2c2"),
        ([[1] * 9] * 8, r"shape|9x9|8"),
        (list(range(10, 91)), r"r1c1|range|10"),
        (None, r"NoneType.*81-character"),
        (3.5, r"float.*81-character"),
    ],
)
def test_bad_input_raises_invalid_puzzle_with_what_and_where(
    tiny_model_dir: Path, bad: object, pattern: str
) -> None:
    solver = Solver("sudoku", backend="cpu", model=tiny_model_dir)
    with pytest.raises(InvalidPuzzleError, match=pattern):
        solver.solve(bad)


def test_solve_batch_keeps_order_and_names_the_bad_entry(tiny_model_dir: Path) -> None:
    # One engine for every batch size: on a CPU with native bf16, auto runs larger steps in bf16 (and the
    # tiny model's unverified answers depend on rounding).
    solver = Solver("sudoku", backend="cpu", model=tiny_model_dir, batch_size=2, engine="onnxruntime")
    puzzles = [CLASSIC, CLASSIC[::-1], CLASSIC, "." * 81, CLASSIC[::-1]]
    batch = solver.solve_batch(puzzles)
    singles = [solver.solve(p) for p in puzzles]
    assert [r.grid.tolist() for r in batch] == [r.grid.tolist() for r in singles]
    assert [r.steps for r in batch] == [r.steps for r in singles]
    assert solver.solve_batch([]) == []
    with pytest.raises(InvalidPuzzleError, match="puzzle #2"):
        solver.solve_batch([CLASSIC, CLASSIC, "bad"])
    with pytest.raises(InvalidPuzzleError, match="list of puzzles"):
        solver.solve_batch(CLASSIC)


def test_halting_options(tiny_model_dir: Path) -> None:
    # The tiny model never reaches sigmoid(q) > 0.5 (its halting head starts at sigmoid(-5)), so every
    # puzzle runs to max_steps; threshold 0 halts everything after one step.
    assert Solver("sudoku", backend="cpu", model=tiny_model_dir, max_steps=3).solve(CLASSIC).steps == 3
    assert Solver("sudoku", backend="cpu", model=tiny_model_dir, halt_threshold=0.0).solve(CLASSIC).steps == 1
    all_steps = Solver("sudoku", backend="cpu", model=tiny_model_dir, halt_threshold=1.0).solve(CLASSIC)
    assert all_steps.steps == 4  # the tiny model's N_sup
    for bad in (
        {"max_steps": 0},
        {"max_steps": 2.5},
        {"halt_threshold": 1.5},
        {"halt_threshold": "x"},
        {"threads": 0},
        {"batch_size": True},
    ):
        with pytest.raises(ValueError):
            Solver("sudoku", backend="cpu", model=tiny_model_dir, **bad)


def test_default_threshold_is_the_models_calibrated_one(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = tmp_path / "m"
    shutil.copytree(tiny_model_dir, model)
    body = json.loads((model / "manifest.json").read_text())
    body["halting"]["threshold"] = 0.0
    (model / "manifest.json").write_text(json.dumps(body))
    calibrated = Solver("sudoku", backend="cpu", model=model)
    assert calibrated.halt_threshold == 0.0 and calibrated.solve(CLASSIC).steps == 1
    assert Solver("sudoku", backend="cpu", model=model, halt_threshold=1.0).solve(CLASSIC).steps == 4  # N_sup
    body["halting"]["threshold"] = 7
    (model / "manifest.json").write_text(json.dumps(body))
    with pytest.raises(ModelError, match=r"halting\.threshold"):
        Solver("sudoku", backend="cpu", model=model)
    del body["halting"]["threshold"]
    (model / "manifest.json").write_text(json.dumps(body))
    assert Solver("sudoku", backend="cpu", model=model).halt_threshold == 0.5  # older manifests
    body["halting"]["max_steps"] = "many"
    (model / "manifest.json").write_text(json.dumps(body))
    with pytest.raises(ModelError, match=r"halting\.max_steps"):
        Solver("sudoku", backend="cpu", model=model)


def test_backend_choice_and_errors(tiny_model_dir: Path) -> None:
    assert Solver("sudoku", model=tiny_model_dir).backend == "cpu"  # auto falls back to the CPU here
    for name in ("cuda", "tensorrt"):
        with pytest.raises(BackendUnavailableError, match=name):
            Solver("sudoku", backend=name, model=tiny_model_dir)
    with pytest.raises(TRMError, match="unknown backend 'gpu'"):
        Solver("sudoku", backend="gpu", model=tiny_model_dir)
    with pytest.raises(TRMError, match="unknown task 'chess'"):
        Solver("chess", model=tiny_model_dir)


def test_model_errors(tiny_model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "m"
    shutil.copytree(tiny_model_dir, broken)
    with open(broken / "step.onnx", "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02")
    with pytest.raises(ModelError, match="corrupt"):
        Solver("sudoku", backend="cpu", model=broken)
    (broken / "step.onnx").unlink()
    with pytest.raises(ModelError, match="missing"):
        Solver("sudoku", backend="cpu", model=broken)
    with pytest.raises(ModelError, match=r"no manifest\.json"):
        Solver("sudoku", backend="cpu", model=tmp_path)
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["task"] = "maze"
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="task 'maze'"):
        Solver("sudoku", backend="cpu", model=other)


@needs_shipped
def test_shipped_model_loads_and_verifies_its_answers() -> None:
    solver = Solver("sudoku")
    assert solver.manifest.directory == model_dir("sudoku")
    r = solver.solve(CLASSIC)
    assert r.solved == (r.grid.tolist() == _grid(CLASSIC_SOLUTION).tolist())


# --- game features: fallback search, hints, ratings -------------------------------------------------

HARD = "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......"
HARD_SOLUTION = "417369825632158947958724316825437169791586432346912758289643571573291684164875293"


def test_default_solver_is_the_pure_network(tiny_model_dir: Path) -> None:
    r = Solver("sudoku", backend="cpu", model=tiny_model_dir).solve(HARD)
    assert r.method == "trm" and r.search_nodes is None
    assert r.status == ("solved" if r.solved else "unsolved")


def test_fallback_search_makes_every_answer_exact(tiny_model_dir: Path) -> None:
    pure = Solver("sudoku", backend="cpu", model=tiny_model_dir)
    exact = Solver("sudoku", backend="cpu", model=tiny_model_dir, fallback="search")
    for puzzle, answer in ((HARD, HARD_SOLUTION), (CLASSIC, CLASSIC_SOLUTION)):
        plain, r = pure.solve(puzzle), exact.solve(puzzle)
        assert r.solved and r.status == "solved" and r.grid.tolist() == _grid(answer).tolist()
        assert r.method == ("trm" if plain.solved else "trm+search")
        assert (r.steps, r.confidence) == (plain.steps, plain.confidence)  # the network's own figures
        # the branch points are the search's own count on the network's probabilities
        logits = pure.predict([puzzle]).logits[0]
        assert r.search_nodes == exact.task.search(exact.task.parse(puzzle), logits, 10.0).nodes
        assert ("+ exact search" in str(r)) == (r.method == "trm+search")


def test_fallback_reports_no_solution_several_and_timeouts(tiny_model_dir: Path) -> None:
    exact = Solver("sudoku", backend="cpu", model=tiny_model_dir, fallback="search")
    broken = _grid(CLASSIC.replace(".", "0"))
    broken[0, 2] = 1  # no visible clash, but no solution any more
    r = exact.solve(broken)
    assert (r.status, r.solved, r.method) == ("no_solution", False, "trm+search")
    assert "NO solution" in str(r)
    several = exact.solve("." * 81)
    assert several.status == "multiple_solutions" and several.solved
    assert several.grid.tolist() != [[0] * 9] * 9 and "SEVERAL" in str(several)
    hasty = Solver("sudoku", backend="cpu", model=tiny_model_dir, fallback="search", search_time_limit=1e-9)
    assert not hasty.solve(HARD, fallback="none").solved  # the tiny network alone cannot solve it
    r = hasty.solve(HARD)
    assert (r.status, r.solved, r.method) == ("search_timeout", False, "trm+search")
    batch = exact.solve_batch([HARD, broken, CLASSIC])
    assert [b.status for b in batch] == ["solved", "no_solution", "solved"]


def test_fallback_options_are_checked(tiny_model_dir: Path) -> None:
    with pytest.raises(ValueError, match="fallback"):
        Solver("sudoku", backend="cpu", model=tiny_model_dir, fallback="guess")
    with pytest.raises(ValueError, match="search_time_limit"):
        Solver("sudoku", backend="cpu", model=tiny_model_dir, fallback="search", search_time_limit=0)
    assert "fallback='search'" in repr(
        Solver("sudoku", backend="cpu", model=tiny_model_dir, fallback="search")
    )


def test_hint_names_an_empty_cell_with_a_fitting_digit(tiny_model_dir: Path) -> None:
    from trm_sdk import Hint
    from trm_sdk.tasks.sudoku import assist

    grid = _grid(HARD.replace(".", "0"))
    h = Solver("sudoku", backend="cpu", model=tiny_model_dir).hint(HARD)
    assert isinstance(h, Hint) and grid[h.row, h.col] == 0 and 0.0 <= h.confidence <= 1.0
    assert assist.candidates(grid)[h.row, h.col, h.digit - 1]
    sure = Solver("sudoku", backend="cpu", model=tiny_model_dir, fallback="search").hint(HARD)
    assert sure.verified and sure.digit == int(HARD_SOLUTION[9 * sure.row + sure.col])
    with pytest.raises(InvalidPuzzleError, match="no empty cell"):
        Solver("sudoku", backend="cpu", model=tiny_model_dir).hint(CLASSIC_SOLUTION)


def test_rate_is_the_networks_own_view(tiny_model_dir: Path) -> None:
    from trm_sdk import Rating

    solver = Solver("sudoku", backend="cpu", model=tiny_model_dir)
    r, plain = solver.rate(HARD), solver.solve(HARD)
    assert isinstance(r, Rating) and r.steps == plain.steps and r.solved == plain.solved
    assert 0.0 <= r.score <= 1.0 and r.level in ("easy", "medium", "hard", "extreme")
    searching = Solver("sudoku", backend="cpu", model=tiny_model_dir, fallback="search")
    assert searching.rate(HARD) == r  # the search never flatters the rating


@needs_shipped
def test_shipped_model_rates_easy_below_hard_and_hints_correctly() -> None:
    solver = Solver("sudoku", backend="cpu")
    easy, hard = solver.rate(CLASSIC), solver.rate(HARD)
    assert easy.score < hard.score
    h = solver.hint(CLASSIC)
    assert h.digit == int(CLASSIC_SOLUTION[9 * h.row + h.col])


def test_precision_is_checked_and_gpu_only(tiny_model_dir: Path) -> None:
    with pytest.raises(ValueError, match="precision"):
        Solver("sudoku", backend="cpu", model=tiny_model_dir, precision="int4")
    with pytest.raises(ValueError, match="fp16 is for the GPUs"):
        Solver("sudoku", backend="cpu", model=tiny_model_dir, precision="fp16")
    assert Solver("sudoku", backend="cpu", model=tiny_model_dir, precision="fp32").backend == "cpu"
    auto = Solver("sudoku", backend="auto", model=tiny_model_dir, precision="fp16")
    assert auto.backend in ("cpu", "cuda", "tensorrt")  # fp16 goes to a GPU backend, never to the CPU


@needs_shipped
def test_choices_are_made_per_call_on_one_loaded_solver() -> None:
    solver = Solver("sudoku", backend="cpu")
    every = {"halt_threshold": 1.0, "stop_on_verified": False}  # neither the head nor the verifier ends it
    assert solver.solve(CLASSIC, max_steps=2, **every).steps == 2
    assert solver.solve(CLASSIC, **every).steps == solver.manifest.N_sup  # default: the model's N_sup
    assert solver.solve_batch([CLASSIC] * 3, max_steps=3, batch_size=2, **every)[2].steps == 3
    assert solver.rate(CLASSIC, max_steps=1, **every).steps == 1
    # The verifier alone ends it: at the first step whose answer verifies, well before N_sup.
    first = solver.solve(CLASSIC, halt_threshold=1.0, stop_on_verified=True)
    assert first.solved and first.steps < solver.manifest.N_sup
    assert solver.predict([CLASSIC], halt_threshold=1.0, stop_on_verified=True).steps[0] == first.steps
    # A call's choices do not stick: the next call is back on the Solver's defaults.
    assert solver.solve(CLASSIC).steps == solver.solve(CLASSIC, halt_threshold=solver.halt_threshold).steps
    with pytest.raises(ValueError, match="stop_on_verified must be None, True or False"):
        solver.solve(CLASSIC, stop_on_verified=1)  # type: ignore[arg-type]


def test_max_steps_defaults_to_the_models_n_sup(tiny_model_dir: Path) -> None:
    solver = Solver("sudoku", backend="cpu", model=tiny_model_dir)
    n_sup = solver.manifest.N_sup
    assert n_sup != 16 and solver.max_steps == n_sup  # the tiny model is trained with N_sup 4
    assert solver.solve(CLASSIC, halt_threshold=1.0).steps == n_sup
    assert (
        Solver("sudoku", backend="cpu", model=tiny_model_dir, max_steps=7)
        .solve(CLASSIC, halt_threshold=1.0)
        .steps
        == 7
    )


def test_constructor_choices_are_the_calls_defaults(tiny_model_dir: Path) -> None:
    solver = Solver("sudoku", backend="cpu", model=tiny_model_dir, max_steps=3, halt_threshold=1.0)
    assert solver.solve(CLASSIC).steps == 3
    assert solver.solve(CLASSIC, max_steps=1).steps == 1
    searching = Solver("sudoku", backend="cpu", model=tiny_model_dir, fallback="search")
    assert searching.solve(CLASSIC).solved  # the search finishes what the tiny network cannot
    pure = searching.solve(CLASSIC, fallback="none")
    assert pure.method == "trm" and pure.search_nodes is None
    assert Solver("sudoku", backend="cpu", model=tiny_model_dir).solve(CLASSIC, fallback="search").solved


@pytest.mark.parametrize(
    "choice",
    [
        {"max_steps": 0},
        {"max_steps": 2.5},
        {"max_steps": True},
        {"halt_threshold": 1.5},
        {"halt_threshold": "high"},
        {"fallback": "guess"},
        {"search_time_limit": 0},
    ],
)
def test_bad_per_call_choices_are_refused(tiny_model_dir: Path, choice: dict) -> None:
    solver = Solver("sudoku", backend="cpu", model=tiny_model_dir)
    with pytest.raises(ValueError):
        solver.solve(CLASSIC, **choice)
    with pytest.raises(ValueError):
        solver.solve_batch([CLASSIC], **choice)


def test_predict_gives_the_networks_probabilities(tiny_model_dir: Path) -> None:
    solver = Solver("sudoku", backend="cpu", model=tiny_model_dir)
    pred = solver.predict([CLASSIC, CLASSIC_SOLUTION], halt_threshold=1.0)
    assert len(pred) == 2 and pred.answers.shape == (2, 9, 9)
    assert pred.logits.shape == (2, 81, 11) and pred.probabilities.shape == (2, 81, 11)
    np.testing.assert_allclose(pred.probabilities.sum(-1), 1.0, rtol=1e-5)
    assert pred.steps.tolist() == [solver.max_steps] * 2
    solved = solver.solve_batch([CLASSIC, CLASSIC_SOLUTION], halt_threshold=1.0)
    for i, r in enumerate(solved):  # the same network run as solving
        assert np.array_equal(r.grid, pred.answers[i]) and r.solved == bool(pred.solved[i])
        assert r.confidence == pytest.approx(float(pred.confidence[i]))
    with pytest.raises(InvalidPuzzleError):
        solver.predict([])
    with pytest.raises(InvalidPuzzleError, match="#1"):
        solver.predict([CLASSIC, "123"])
