"""TRM_REQUIRE_DATA: a test that reads the shared data skips where it is absent, and fails instead in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ONE = f"{TESTS / 'test_sudoku_search.py'}::test_forum_hardest_sample"  # reads one shared CSV file


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("TRM_REQUIRE_DATA", "TRM_DATA_DIR")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "--import-mode=importlib",
            ONE,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**clean, "TRM_DATA_DIR": str(tmp_path / "nowhere"), **env},
        timeout=120,
    )


def test_missing_data_skips_naming_the_folder(tmp_path: Path) -> None:
    run = _run(tmp_path)
    assert run.returncode == 0 and "1 skipped" in run.stdout, run.stdout
    assert str(tmp_path / "nowhere") in run.stdout


def test_missing_data_fails_when_it_is_required(tmp_path: Path) -> None:
    run = _run(tmp_path, TRM_REQUIRE_DATA="1")
    assert run.returncode == 1 and "1 failed" in run.stdout, run.stdout
    assert "TRM_REQUIRE_DATA=1 says it must be there" in run.stdout
