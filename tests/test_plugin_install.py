"""The example plugin (examples/plugins/futoshiki) installed from scratch, as a user installs it.

A temporary virtual environment gets trm-sdk and the plugin with pip, each from its folder; their
dependencies (numpy, onnxruntime, click) come from the environment running the tests, through a ``.pth``
file, so the test needs no network. Then the plugin's puzzles are generated and solved through both
``Solver("futoshiki")`` and ``trm solve``, and ``trm info`` lists the task and its model.
"""

from __future__ import annotations

import json
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "plugins" / "futoshiki"
pytestmark = pytest.mark.skipif(not PLUGIN.is_dir(), reason="no source checkout around the tests")

SOLVE = """
import json, sys
import numpy as np
from trm_sdk import Solver
from trm_sdk.tasks import get_task

task = get_task("futoshiki")
pairs = [task.generate(np.random.default_rng(seed), "hard") for seed in range(5)]
solver = Solver("futoshiki")
found = [solver.solve(task.to_string(p)) for p, _ in pairs]
print(json.dumps({
    "backend": solver.backend,
    "model": str(solver.manifest.directory),
    "solved": [s.solved for s in found],
    "right": [bool(np.array_equal(s.grid, a)) for s, (_, a) in zip(found, pairs)],
}))
"""


def test_the_example_plugin_installs_and_solves_in_a_fresh_venv(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)  # pip and setuptools: the running environment's
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    (site / "_parent_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    install = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            str(ROOT),
            str(PLUGIN),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    bin_dir = env_dir / "bin"

    info = subprocess.run(
        [bin_dir / "trm", "info"], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert info.returncode == 0, info.stderr
    assert "futoshiki  trm-futoshiki 0.1.0; levels easy, medium, hard; 16 views; search yes" in info.stdout
    assert f"futoshiki: {site}" in info.stdout  # the model shipped inside the installed plugin

    solved = subprocess.run([python, "-c", SOLVE], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert solved.returncode == 0, solved.stderr[-3000:]
    result = json.loads(solved.stdout)
    assert result["model"].startswith(str(site)) and result["backend"] == "cpu"
    assert all(result["solved"]) and all(result["right"]), result

    puzzles = tmp_path / "hard.csv"
    made = subprocess.run(
        [
            bin_dir / "trm",
            "generate",
            "--task",
            "futoshiki",
            "--level",
            "hard",
            "--count",
            "4",
            "--seed",
            "5",
            "--out",
            str(puzzles),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    cli = subprocess.run(
        [bin_dir / "trm", "solve", "--task", "futoshiki", "--json", str(puzzles)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert cli.returncode == 0, cli.stderr
    rows = [json.loads(line) for line in cli.stdout.splitlines()]
    assert len(rows) == 4 and all(row["solved"] and row["method"] == "trm" for row in rows), rows
