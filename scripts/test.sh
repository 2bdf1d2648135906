#!/usr/bin/env bash
# Install trm-sdk with every CPU extra and run lint, types and the test suite.
# torch is pinned to the CPU build first so the unpinned extras do not pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.13.0"
python -m pip install -q ".[train,export,dev]"
ruff check .
ruff format --check .
mypy
# Run against the installed package, as users get it: plain `pytest` (not `python -m pytest`)
# keeps the source tree off sys.path.
pytest -q -p no:cacheprovider --import-mode=importlib "$@"
