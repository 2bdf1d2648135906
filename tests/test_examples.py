"""The bundled examples run as a user would run them, against the installed package and shipped model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from trm_sdk.models import available

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
pytestmark = pytest.mark.skipif(
    "sudoku" not in available() or not EXAMPLES.is_dir(), reason="needs the shipped model and examples/"
)


def test_quickstart_script_solves_and_checks() -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "independent check: True; SDK says solved: True" in out.stdout


def test_trm_solve_on_the_bundled_puzzle() -> None:
    from click.testing import CliRunner

    from trm_sdk.cli import main

    result = CliRunner().invoke(main, ["solve", str(EXAMPLES / "puzzle.txt")])
    assert result.exit_code == 0, result.output
    assert "sudoku: solved" in result.stdout
