"""Shared fixtures: tiny exported models, built once per session when torch is present, and the shared
data and fixture folders, found one way.

Tests that read ``../shared/data`` or ``../shared/fixtures`` skip where the folder is absent, naming it;
``TRM_REQUIRE_DATA=1`` (CI sets it) turns that skip into a failure, so a CI run can never pass by
skipping the tests that measure real puzzles.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"

# Tests start Python subprocesses in the test run's working directory. In the checkout's root that
# directory holds the trm_sdk/ source folder, which Python would import ahead of the installed package
# (the folder lacks the models and the train/export sub-packages that the install maps in). Python 3.11's
# PYTHONSAFEPATH keeps the working directory off their sys.path, as it is for a user of the package.
os.environ.setdefault("PYTHONSAFEPATH", "1")


def _missing(what: str) -> None:
    if os.environ.get("TRM_REQUIRE_DATA") == "1":
        pytest.fail(f"{what}, and TRM_REQUIRE_DATA=1 says it must be there")
    pytest.skip(what)


def _data_root() -> Path:
    env = os.environ.get("TRM_DATA_DIR")
    return Path(env) if env else SHARED / "data"


@pytest.fixture(scope="session")
def shared_data() -> Callable[[str], Path]:
    """``shared_data("sudoku/norvig/top95.csv")``: that file of the shared data folder ($TRM_DATA_DIR,
    else ../shared/data beside the repository), or a skip (a failure under TRM_REQUIRE_DATA=1)."""

    def find(relative: str) -> Path:
        root = _data_root()
        if not root.is_dir():
            _missing(f"shared data folder {root} not found")
        path = root / relative
        if not path.exists():
            _missing(f"shared data file {relative} not found under {root}")
        return path

    return find


@pytest.fixture(scope="session")
def shared_fixtures() -> Callable[[str], Path]:
    """``shared_fixtures("reference_trm/sudoku_mlp")``: that path under ../shared/fixtures, or a skip (a
    failure under TRM_REQUIRE_DATA=1)."""

    def find(relative: str) -> Path:
        path = SHARED / "fixtures" / relative
        if not path.exists():
            _missing(f"shared fixture {path} not found")
        return path

    return find


def _train_and_export(root: Path, task: str, model: dict[str, Any], batch_size: int) -> Path:
    """Two optimizer steps of a tiny TRM, exported through the real export path; returns the model folder."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from trm_sdk.export.exporter import export_onnx
    from trm_sdk.network import TRMConfig
    from trm_sdk.tasks import get_task
    from trm_sdk.train.config import TrainConfig
    from trm_sdk.train.trainer import Trainer

    cfg = TrainConfig(
        task=task,
        batch_size=batch_size,
        lr=1e-3,
        warmup_steps=1,
        eval_every=0,
        eval_size=batch_size,
        device="cpu",
        max_steps=2,
        save_every_s=1e9,
    )
    Trainer(TRMConfig(**model), cfg, root / "run").train()
    manifest = export_onnx(
        root / "run" / "latest.pt", root / "model", n_verify=2, levels=("easy",), progress=False
    )
    assert manifest.task == task and manifest.encoding == get_task(task).encoding()
    return root / "model"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Sudoku TRM-MLP. Its answers are mostly wrong; tests use it for mechanics (shapes, halting,
    checksums, errors), and the shipped model for answers."""
    tiny = {"hidden": 16, "n_prefix": 2, "T": 1, "n": 1, "N_sup": 4, "multiple_of": 16}
    return _train_and_export(tmp_path_factory.mktemp("tiny"), "sudoku", tiny, batch_size=8)


@pytest.fixture(scope="session")
def maze_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny maze model of the shipped kind (conv mixer): it cannot solve mazes (mechanics only)."""
    pytest.importorskip("torch")
    from trm_sdk.tasks import get_task

    tiny = {"hidden": 16, "T": 1, "n": 1, "N_sup": 3, "multiple_of": 16}
    model = {**get_task("maze").model_defaults, **tiny}
    assert model["mixer"] == "conv" and model["seq_len"] == 900
    return _train_and_export(tmp_path_factory.mktemp("maze"), "maze", model, batch_size=4)


@pytest.fixture(scope="session")
def generated_csv() -> Callable[..., Path]:
    """``generated_csv(path, "sudoku", "easy", n, seed)``: ``n`` generated puzzles of a task's level with
    their answers, written to ``path`` as the task's CSV (a seed gives the same file every time)."""

    def write(path: Path, task: str, level: str, n: int, seed: int) -> Path:
        import numpy as np

        from trm_sdk.tasks import get_task

        t = get_task(task)
        rng = np.random.default_rng(seed)
        pairs = [t.generate(rng, level) for _ in range(n)]
        path.write_text(t.to_csv(np.stack([p for p, _ in pairs]), np.stack([a for _, a in pairs])))
        return path

    return write


@pytest.fixture
def run_node(tmp_path: Path) -> Callable[..., Any]:
    """``run_node(script, payload)``: the web runtime's modules under node, as the page loads them.

    ``script`` is an ES module that imports from the URL of the web assets folder (``process.argv[2]``)
    and reads ``payload`` as JSON from the file named by ``process.argv[3]``; it prints one JSON value,
    which comes back parsed. Skips, naming the fix, where node is missing."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("needs node (apt-get install nodejs) to run the web runtime's modules")
    from trm_sdk.export.web import assets_dir

    def run(script: str, payload: Any, timeout: float = 120) -> Any:
        probe, data = tmp_path / "probe.mjs", tmp_path / "input.json"
        probe.write_text(script, encoding="utf-8")
        data.write_text(json.dumps(payload), encoding="utf-8")
        done = subprocess.run(
            [node, str(probe), assets_dir().as_uri() + "/", str(data)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return run
