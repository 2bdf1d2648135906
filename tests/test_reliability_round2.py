"""Issue 37, reliability and security round 2: one test (or more) per finding, numbered as the issue is.

The local server's probes are in test_server.py, the fuzzed inputs in test_fuzz.py and the page's own
SHA-256 in test_web.py; everything else the issue found is here.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from trm_sdk import InvalidPuzzleError, ModelError, OutOfMemoryError, Solver, limits
from trm_sdk.cli import main as trm
from trm_sdk.manifest import load_manifest, sha256_file
from trm_sdk.shipped import model_dir
from trm_sdk.tasks.maze import codec as maze_codec
from trm_sdk.tasks.sudoku import codec as sudoku_codec

# np.matrix is one of the forms tried; numpy warns that the class is discouraged, which is the point.
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

ROOT = Path(__file__).parents[1]
SOLVED = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
PUZZLE = "." + SOLVED[1:30] + "." + SOLVED[31:]


def _model_copy(tmp_path: Path, task: str = "sudoku") -> Path:
    folder = tmp_path / "model"
    shutil.copytree(model_dir(task), folder)
    return folder


def _rehash(folder: Path, role: str = "step") -> None:
    path = folder / "manifest.json"
    body = json.loads(path.read_text(encoding="utf-8"))
    name = body["files"][role]["path"]
    body["files"][role]["sha256"] = sha256_file(folder / name)
    body["files"][role]["bytes"] = (folder / name).stat().st_size
    path.write_text(json.dumps(body), encoding="utf-8")


def _edit_manifest(folder: Path, change: Any) -> None:
    path = folder / "manifest.json"
    body = json.loads(path.read_text(encoding="utf-8"))
    change(body)
    path.write_text(json.dumps(body), encoding="utf-8")


def _no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


# 1. dependency floors -------------------------------------------------------------------------------------


def _floors() -> dict[str, list[str]]:
    """Every ``name>=X`` floor in pyproject.toml, by package name (extras repeat names)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found: dict[str, list[str]] = {"python": [project["requires-python"].removeprefix(">=")]}
    requirements = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        requirements += extra
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)", requirement.strip())
        if match:
            found.setdefault(match[1].lower(), []).append(match[2])
    return found


def _documented(package: str) -> str:
    table = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    match = re.search(rf"^\| {package}\b[^|]*\| ([0-9.]+) \|", table, flags=re.MULTILINE | re.IGNORECASE)
    assert match, f"docs/security.md has no floor for {package}"
    return match[1]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_the_floors_are_the_ones_the_docs_state() -> None:
    floors = _floors()
    assert len(floors["torch"]) == 4  # train, export, cuda, tensorrt: every extra that brings torch
    for package in ("torch", "onnxruntime", "python"):
        assert set(floors[package]) == {_documented(package)}, package
    assert _version(floors["torch"][0]) >= (2, 10)
    assert _version(floors["onnxruntime"][0]) >= (1, 24)  # external-data confinement arrived in 1.24


# 4. model folders ------------------------------------------------------------------------------------------


def _external_copy(tmp_path: Path) -> Path:
    """The shipped model with its step graph's weights moved to an external data file, manifest rehashed."""
    onnx = pytest.importorskip("onnx")
    folder = _model_copy(tmp_path)
    graph = onnx.load(str(folder / "step.onnx"))
    onnx.save_model(
        graph, str(folder / "step.onnx"), save_as_external_data=True, location="step.data", size_threshold=0
    )
    _rehash(folder)
    return folder


def test_a_graph_with_external_data_is_refused(tmp_path: Path) -> None:
    folder = _external_copy(tmp_path)
    with pytest.raises(ModelError, match="external data"):
        Solver("sudoku", backend="cpu", model=folder)


def test_zeroed_external_weights_are_refused_too(tmp_path: Path) -> None:
    folder = _external_copy(tmp_path)
    data = folder / "step.data"
    data.write_bytes(bytes(data.stat().st_size))  # the hash of step.onnx cannot see this
    with pytest.raises(ModelError, match="external data"):
        Solver("sudoku", backend="cpu", model=folder)


def test_external_tensors_reads_the_protobuf(tmp_path: Path) -> None:
    from trm_sdk.manifest import external_tensors

    folder = _external_copy(tmp_path)
    names = external_tensors((folder / "step.onnx").read_bytes())
    assert names and all(isinstance(n, str) and n for n in names)
    for task in ("sudoku", "maze"):
        for name in ("step.onnx", "unrolled.onnx"):
            assert external_tensors((model_dir(task) / name).read_bytes()) == []
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        external_tensors(b"\x3a\xff\xff\xff\xff\x0f location")  # a field that runs past the end


def test_the_graph_is_hashed_and_loaded_from_the_same_bytes(tmp_path: Path, monkeypatch: Any) -> None:
    """The file is swapped for garbage right after its hash was checked: ONNX Runtime must get the
    bytes that were checked, not reopen the file."""
    import onnxruntime

    folder = _model_copy(tmp_path)
    real = onnxruntime.InferenceSession

    def swap_then_load(source: Any, *args: Any, **kwargs: Any) -> Any:
        (folder / "step.onnx").write_bytes(b"not a graph any more")
        return real(source, *args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", swap_then_load)
    solver = Solver("sudoku", backend="cpu", model=folder)
    assert solver.solve(PUZZLE).solved


def test_maximal_factors_are_bounded_by_their_product(tmp_path: Path) -> None:
    folder = _model_copy(tmp_path)
    _edit_manifest(
        folder,
        lambda b: (
            b["model"].update(seq_len=limits.MAX_SEQ_LEN, n_prefix=limits.MAX_SEQ_LEN, hidden=8192)
            or b["encoding"].update(seq_len=limits.MAX_SEQ_LEN)
        ),
    )
    with pytest.raises(ModelError, match="values a puzzle"):
        load_manifest(folder)


def test_model_files_are_read_within_a_bound(tmp_path: Path, monkeypatch: Any) -> None:
    import trm_sdk.manifest

    monkeypatch.setattr(trm_sdk.manifest, "MAX_MODEL_FILE_BYTES", 1000)
    with pytest.raises(ModelError, match="more than the 1,000 a model file may"):
        load_manifest(_model_copy(tmp_path))


def test_a_state_too_large_to_allocate_is_out_of_memory() -> None:
    solver = Solver("sudoku", backend="cpu", threads=1)
    backend = solver._backend
    backend.state_shape = (1 << 20, 1 << 16)  # 2**36 floats a puzzle: no machine allocates 1,024 of them
    with pytest.raises(OutOfMemoryError, match="smaller batch_size"):
        backend.start(np.ones((1024, 81), np.int64))


def test_a_symbolic_token_dimension_is_released_cleanly(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    folder = _model_copy(tmp_path)
    graph = onnx.load(str(folder / "step.onnx"))
    graph.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "tokens"
    onnx.save(graph, str(folder / "step.onnx"))
    _rehash(folder)
    solver = Solver("sudoku", backend="cpu", model=folder, threads=1)
    solver._backend._release()  # what runs when a batch of more than RELEASE_ROWS ends
    assert solver.solve(PUZZLE).solved


def test_split_checkpoint_names_stay_in_their_folder(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from trm_sdk.train import checkpoint

    folder = tmp_path / "ckpt"
    folder.mkdir()
    torch.save({"format": 1}, folder / "meta.pt")
    outside = tmp_path / "part-9.pt"
    torch.save({"model/w": torch.zeros(1)}, outside)
    files = {
        "meta.pt": {"sha256": checkpoint._sha256(folder / "meta.pt")},
        "../part-9.pt": {"sha256": checkpoint._sha256(outside)},
    }
    (folder / checkpoint.SPLIT_INDEX).write_text(json.dumps({"format": 1, "files": files}), encoding="utf-8")
    with pytest.raises(ValueError, match="not a part of this folder"):
        checkpoint.load(folder)
    (folder / "part-0.pt").symlink_to(outside)  # a link out of the folder under an allowed name
    del files["../part-9.pt"]
    files["part-0.pt"] = {"sha256": checkpoint._sha256(outside)}
    (folder / checkpoint.SPLIT_INDEX).write_text(json.dumps({"format": 1, "files": files}), encoding="utf-8")
    with pytest.raises(ValueError, match="not a part of this folder"):
        checkpoint.load(folder)


# 6. web builds -------------------------------------------------------------------------------------------


def _fake_npm(monkeypatch: Any, tmp_path: Path) -> None:
    """npm ci replaced by a folder holding the files it would fetch: these tests need no network."""
    from trm_sdk.export import web as web_export

    package = tmp_path / "npm" / "node_modules" / "onnxruntime-web"
    (package / "dist").mkdir(parents=True)
    for name in web_export.ORT_FILES:
        (package / "dist" / name).write_text("// ort", encoding="utf-8")

    def fake_ci(assets: Path, progress: Any) -> tuple[Path, Path, str]:
        root = tmp_path / f"npm-{len(list(tmp_path.glob('npm-*')))}"
        shutil.copytree(package.parent.parent, root)
        return root, root / "node_modules" / "onnxruntime-web", "0.0.0-test"

    monkeypatch.setattr(web_export, "_npm", lambda: "npm")
    monkeypatch.setattr(web_export, "_npm_ci", fake_ci)


def test_a_web_build_never_writes_through_links_it_finds(tmp_path: Path, monkeypatch: Any) -> None:
    from trm_sdk.export.web import build_web

    _fake_npm(monkeypatch, tmp_path)
    out = tmp_path / "site"
    build_web(model_dir("sudoku"), out)
    victim = tmp_path / "victim.txt"
    victim.write_text("mine", encoding="utf-8")
    (out / "index.html").unlink()
    (out / "index.html").symlink_to(victim)  # left in the old build, by accident or by someone else
    (out / "model" / "step.onnx").unlink()
    (out / "model" / "step.onnx").symlink_to(victim)
    build_web(model_dir("sudoku"), out)
    assert victim.read_text(encoding="utf-8") == "mine"
    assert not (out / "index.html").is_symlink() and (out / "model" / "step.onnx").is_file()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".site")) == []  # no leftovers


def test_build_json_publishes_no_local_path(tmp_path: Path, monkeypatch: Any) -> None:
    from trm_sdk.export.web import build_web

    _fake_npm(monkeypatch, tmp_path)
    out = tmp_path / "site"
    build_web(model_dir("sudoku"), out)
    record = json.loads((out / "build.json").read_text(encoding="utf-8"))
    assert record["complete"] is True and record["task"] == "sudoku"
    text = json.dumps(record)
    assert str(model_dir("sudoku")) not in text and str(Path.home()) not in text
    assert not any(isinstance(v, str) and v.startswith("/") for v in record.values())


def test_a_failed_build_leaves_the_old_one_as_it_was(tmp_path: Path, monkeypatch: Any) -> None:
    from trm_sdk.export import web as web_export

    _fake_npm(monkeypatch, tmp_path)
    out = tmp_path / "site"
    web_export.build_web(model_dir("sudoku"), out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def broken(*args: Any) -> Any:
        raise RuntimeError("the generator failed")

    monkeypatch.setattr(web_export, "_puzzles", broken)
    with pytest.raises(RuntimeError, match="generator failed"):
        web_export.build_web(model_dir("sudoku"), out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []


# 7. odd inputs and errors ----------------------------------------------------------------------------------


def test_a_9x9_matrix_is_one_grid() -> None:
    grid = sudoku_codec.parse(PUZZLE)
    solver = Solver("sudoku", backend="cpu", threads=1, views=1)
    from_matrix = solver.solve(np.asmatrix(grid))
    assert from_matrix.solved and sudoku_codec.to_string(from_matrix.grid) == SOLVED
    assert type(sudoku_codec.parse(np.asmatrix(grid))) is np.ndarray
    assert type(maze_codec.parse(np.asmatrix([[1, 3, 2, 4, 1]]))) is np.ndarray


class _Liar(list):  # type: ignore[type-arg]
    def __init__(self, items: list[Any], claimed: int) -> None:
        super().__init__(items)
        self.claimed = claimed

    def __len__(self) -> int:
        return self.claimed


@pytest.mark.parametrize(
    ("items", "claimed"),
    [([0] * 80, 81), ([0] * 82, 81), ([[0] * 9] * 8, 9), ([[0] * 9] * 10, 9), ([], 81)],
    ids=["80 as 81", "82 as 81", "8 rows as 9", "10 rows as 9", "empty as 81"],
)
def test_a_list_whose_length_lies_is_an_invalid_puzzle(items: list[Any], claimed: int) -> None:
    with pytest.raises(InvalidPuzzleError, match="9 rows of 9 cells"):
        sudoku_codec.parse(_Liar(items, claimed))


def test_a_list_whose_length_lies_is_read_by_its_items() -> None:
    grid = sudoku_codec.parse(PUZZLE)
    assert (sudoku_codec.parse(_Liar(grid.ravel().tolist(), 9)) == grid).all()


def test_maze_bytes_are_characters() -> None:
    rows = ["#####", "#S G#", "#####"]
    expected = maze_codec.parse(rows)
    assert (maze_codec.parse(np.array([r.encode() for r in rows])) == expected).all()  # 1-D, one row each
    assert (maze_codec.parse([r.encode() for r in rows]) == expected).all()
    with pytest.raises(InvalidPuzzleError, match="unknown character"):
        maze_codec.parse(np.array([[b"\xff"] * 5] * 5))
    with pytest.raises(InvalidPuzzleError, match="unknown character"):
        maze_codec.parse(np.array([b"#S\xffG#", b"#####"]))


def _solve(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(trm, ["solve", *args], input=input)


@pytest.mark.parametrize("source", ["/tmp", "/dev/null", "."])
def test_a_path_that_is_no_regular_file_is_named_as_such(source: str) -> None:
    if not Path(source).exists():
        pytest.skip(f"{source} does not exist here")
    result = _solve(source)
    _no_traceback(result)
    assert result.exit_code == 2 and "is not a regular file" in result.output


def test_standard_input_is_capped(monkeypatch: Any) -> None:
    monkeypatch.setattr(limits, "MAX_INPUT_BYTES", 1000)
    result = _solve("-", input="\x00" * 5000)
    _no_traceback(result)
    assert result.exit_code == 2 and "standard input holds more than 1,000 characters" in result.output
    assert _solve("-", input=PUZZLE + "\n").exit_code == 0  # under the cap, read as before


def test_puzzle_files_are_capped(monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.setattr(limits, "MAX_INPUT_BYTES", 1000)
    big = tmp_path / "many.txt"
    big.write_text((PUZZLE + "\n") * 20, encoding="utf-8")
    result = _solve(str(big))
    _no_traceback(result)
    assert result.exit_code == 2 and "more than the 1,000 a puzzle file may" in result.output


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_on_standard_input_ends() -> None:
    """The real stream, in a child whose cap is lowered to 1 MiB so the test reads little of it."""
    import subprocess

    code = (
        "import trm_sdk.limits as limits; limits.MAX_INPUT_BYTES = 1 << 20; "
        "from trm_sdk.cli import main; main(['solve', '-'], prog_name='trm')"
    )
    with open("/dev/zero", "rb") as zero:
        done = subprocess.run(
            [sys.executable, "-c", code], stdin=zero, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 2 and "standard input holds more than 1,048,576 characters" in done.stderr
    assert "Traceback" not in done.stderr


INFO_VARIANTS: dict[str, tuple[Any, int]] = {
    "no n_blocks": (lambda b: b["model"].pop("n_blocks"), 0),
    "no mixer, T or n": (lambda b: [b["model"].pop(k) for k in ("mixer", "T", "n")], 0),
    "no bytes": (lambda b: b["files"]["step"].pop("bytes"), 0),
    "no evaluation": (lambda b: b.pop("evaluation", None), 0),
    "threshold a string": (lambda b: b["halting"].__setitem__("threshold", "high"), 2),
    "evaluation a list": (lambda b: b.__setitem__("evaluation", [1, 2]), 2),
    "inference a number": (lambda b: b.__setitem__("inference", 3), 2),
    "evaluation sets hold a string": (lambda b: b.__setitem__("evaluation", {"sets": {"x": "y"}}), 2),
}


@pytest.mark.parametrize("variant", sorted(INFO_VARIANTS))
def test_info_model_reports_bad_fields_in_one_line(tmp_path: Path, variant: str) -> None:
    change, status = INFO_VARIANTS[variant]
    folder = _model_copy(tmp_path)
    _edit_manifest(folder, change)
    result = CliRunner().invoke(trm, ["info", "--model", str(folder)])
    _no_traceback(result)
    assert result.exit_code == status, result.output
    if status:
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "manifest.json" in errors[0], result.output
    else:
        assert f"sudoku: {folder}" in result.output
