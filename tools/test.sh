#!/usr/bin/env bash
# Install trm-sdk with every CPU extra and run lint, types, the test suite and the docs build.
# torch is pinned to the CPU build first so the unpinned extras do not pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.13.0"
# [openvino] too, so the CPU backend's OpenVINO engine is checked in CI (f32 answers on any CPU; bf16 where
# the runner's CPU has it natively).
python -m pip install -q ".[train,export,dev,docs,openvino]"
# The example puzzle plugin (docs/plugins.md), so its tests and a third registered task run too.
python -m pip install -q ./examples/plugins/futoshiki
ruff check .
ruff format --check .
mypy
# The web library's JavaScript, type-checked (tsc --checkJs with web/tsconfig.json; TypeScript from the
# lockfile). Where npm is missing this is skipped, as the browser tests are; .ci/run installs it.
if command -v npm >/dev/null; then
    (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent check)
fi
# Run against the installed package, as users get it: plain `pytest` (not `python -m pytest`)
# keeps the source tree off sys.path.
pytest -q -p no:cacheprovider --import-mode=importlib "$@"
# The docs site, strict: a broken link, a page missing from the nav or an API reference that no longer
# matches the code fails CI. Built into a temporary folder; nothing is left in the tree.
site_dir="$(mktemp -d)"
NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet --site-dir "$site_dir"  # without the theme's banner
rm -rf "$site_dir"
