"""The corrupt-model-folder matrix: every broken copy of the shipped model fails at construction with a
ModelError (issue 16, defects 4 and 5), never with a raw Python error or at the first solve."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trm_sdk import ModelError, Solver
from trm_sdk.manifest import load_manifest, sha256_file
from trm_sdk.shipped import model_dir

SHIPPED = model_dir("sudoku")


def _edit(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / "manifest.json"
        body = json.loads(path.read_text())
        change(body)
        path.write_text(json.dumps(body))

    return apply


def _set(section: str, key: str, value: Any) -> Callable[[Path], None]:
    return _edit(lambda body: body[section].__setitem__(key, value))


def _rewrite(name: str, change: Callable[[bytes], bytes], rehash: bool) -> Callable[[Path], None]:
    """Change a model file's bytes; with ``rehash`` the manifest is updated to match, as an attacker or a
    careless re-export would, so only the schema and interface checks can catch it."""

    def apply(folder: Path) -> None:
        path = folder / name
        path.write_bytes(change(path.read_bytes()))
        if rehash:
            role = next(
                r
                for r, e in json.loads((folder / "manifest.json").read_text())["files"].items()
                if e["path"] == name
            )
            _edit(lambda body: body["files"][role].__setitem__("sha256", sha256_file(path)))(folder)

    return apply


def _rename_input(data: bytes) -> bytes:
    assert data.count(b"first") >= 1
    return data.replace(b"first", b"firsT")  # same length: the protobuf stays valid, the input is renamed


VARIANTS: dict[str, Callable[[Path], None]] = {
    "manifest missing": lambda f: (f / "manifest.json").unlink(),
    "manifest not json": lambda f: (f / "manifest.json").write_text("{not json"),
    "manifest a list": lambda f: (f / "manifest.json").write_text("[1, 2]"),
    "manifest not utf-8": lambda f: (f / "manifest.json").write_bytes(b"\xff\xfe{}"),
    "field missing": _edit(lambda b: b.pop("model")),
    "format wrong": _edit(lambda b: b.__setitem__("format", 99)),
    "format null": _edit(lambda b: b.__setitem__("format", None)),
    "task null": _edit(lambda b: b.__setitem__("task", None)),
    "task maze": _edit(lambda b: b.__setitem__("task", "maze")),
    "encoding null": _edit(lambda b: b.__setitem__("encoding", None)),
    "encoding list": _edit(lambda b: b.__setitem__("encoding", [81])),
    "encoding differs": _set("encoding", "blank", 7),
    "model null": _edit(lambda b: b.__setitem__("model", None)),
    "hidden huge": _set("model", "hidden", 10**9),
    "hidden string": _set("model", "hidden", "96"),
    "hidden wrong": _set("model", "hidden", 64),
    "seq_len wrong": _set("model", "seq_len", 80),
    "n_prefix wrong": _set("model", "n_prefix", 3),
    "n_prefix negative": _set("model", "n_prefix", -1),
    "vocab wrong": _edit(
        lambda b: (b["model"].__setitem__("vocab_size", 12), b["encoding"].__setitem__("vocab_size", 12))
    ),
    "N_sup zero": _set("model", "N_sup", 0),
    "halting null": _edit(lambda b: b.__setitem__("halting", None)),
    "threshold 2": _set("halting", "threshold", 2),
    "threshold string": _set("halting", "threshold", "0.5"),
    "max_steps huge": _set("halting", "max_steps", 10**18),
    "files null": _edit(lambda b: b.__setitem__("files", None)),
    "files empty": _edit(lambda b: b.__setitem__("files", {})),
    "entry not a dict": _edit(lambda b: b["files"].__setitem__("step", "step.onnx")),
    "sha256 missing": _edit(lambda b: b["files"]["step"].pop("sha256")),
    "sha256 short": _edit(lambda b: b["files"]["unrolled"].__setitem__("sha256", "abc")),
    "path missing": _edit(lambda b: b["files"]["step"].pop("path")),
    "path escapes": _edit(lambda b: b["files"]["step"].__setitem__("path", "../step.onnx")),
    "path absolute": _edit(lambda b: b["files"]["weights"].__setitem__("path", "/etc/passwd")),
    "io renamed": _edit(lambda b: b["io"]["step"]["inputs"][3].__setitem__("name", "start")),
    "step missing": lambda f: (f / "step.onnx").unlink(),
    "step truncated": _rewrite("step.onnx", lambda d: d[: len(d) // 2], rehash=False),
    "step truncated, rehashed": _rewrite("step.onnx", lambda d: d[: len(d) // 2], rehash=True),
    "step input renamed, rehashed": _rewrite("step.onnx", _rename_input, rehash=True),
    "unrolled corrupt": _rewrite("unrolled.onnx", lambda d: d[:-1] + bytes([d[-1] ^ 1]), rehash=False),
    "unrolled missing": lambda f: (f / "unrolled.onnx").unlink(),
    "weights corrupt": _rewrite("weights.npz", lambda d: d[:100] + b"x" + d[101:], rehash=False),
    "weights missing": lambda f: (f / "weights.npz").unlink(),
}


@pytest.fixture
def broken(tmp_path: Path) -> Callable[[str], Path]:
    def make(variant: str) -> Path:
        folder = tmp_path / "model"
        shutil.copytree(SHIPPED, folder)
        VARIANTS[variant](folder)
        return folder

    return make


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_corrupt_variant_fails_at_construction(broken: Callable[[str], Path], variant: str) -> None:
    folder = broken(variant)
    with pytest.raises(ModelError) as caught:
        Solver("sudoku", backend="cpu", model=folder)
    assert str(folder) in str(caught.value) or "manifest" in str(caught.value)


def test_the_intact_copy_loads_and_solves(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(SHIPPED, folder)
    solver = Solver("sudoku", backend="cpu", model=folder)
    assert solver.solve(
        "." + "34678912672195348198342567859761423426853791713924856961537284287419635345286179"
    ).solved
    assert load_manifest(folder).files.keys() == {"step", "unrolled", "weights"}
