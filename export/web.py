"""``trm-export --format web``: a static folder that plays an exported model in a web page.

The folder is self-contained, so any static file server can host it (``trm web serve`` does, locally):
the task's page (``web/<task>.html`` and ``web/<task>-app.js`` in the source tree, ``trm_sdk/web/``
installed, written as ``index.html`` and ``app.js``), the trm-web library it runs on (``web/lib/``, into
``lib/``: the runtime contract, the view generator, the task modules and the Web Worker), the model's
``manifest.json`` and step graph, the onnxruntime-web files the worker imports, and a list of puzzles
made by the task's generator at build time. onnxruntime-web comes from ``npm ci --omit=dev`` on the
committed lockfile, so every build fetches the same, integrity-checked version; nothing is fetched at
run time. The same library, packed with ``npm pack web/lib``, is what a game embeds.

Only the step graph travels: the page drives it step by step like the CPU backend, so the unrolled
graph and ``weights.npz`` would be megabytes nobody loads. The manifest is copied unchanged, so the
page checks the step graph's sha256 against it as the Python runtime does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from trm_sdk import __version__
from trm_sdk.cli.web import BUILD_FILE
from trm_sdk.errors import TRMError
from trm_sdk.manifest import MANIFEST_NAME, Manifest, load_manifest
from trm_sdk.tasks import get_task

__all__ = ["LIB_FILES", "WebBuild", "WebBuildError", "assets_dir", "build_web", "page_files"]

SHARED_FILES = ("style.css",)
# The trm-web library (web/lib/), copied whole into lib/: the worker imports the task modules by name.
LIB_FILES = ("index.js", "worker.js", "trm.js", "views.js", "sudoku.js", "maze.js")
LOCK_FILES = ("package.json", "package-lock.json")
ORT_PACKAGE = "onnxruntime-web"
# The single-threaded wasm build and what it loads: ES module, its emscripten glue, the wasm binary.
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
# build.json (BUILD_FILE) records what made the folder: a rebuild may replace such a folder, and
# trm web serve serves nothing else. It is the server's name, imported so the two cannot drift.
PUZZLES_FILE = "puzzles.json"
NPM_TIMEOUT_S = 600
NEEDS_NODE = (
    "trm-export --format web needs Node.js and npm to fetch onnxruntime-web "
    "(Debian/Ubuntu: apt-get install nodejs npm; elsewhere: https://nodejs.org)"
)


class WebBuildError(TRMError):
    """The web folder cannot be built; the message says what to install or change."""


@dataclass(frozen=True)
class WebBuild:
    """What :func:`build_web` wrote."""

    out: Path
    task: str
    onnxruntime_web: str  # the version npm installed from the lockfile
    puzzles: int
    bytes: int  # the whole folder
    seconds: float


def assets_dir() -> Path:
    """The page's source files: the package data of ``trm_sdk.web`` (the top-level ``web/`` folder, which
    ``pyproject.toml`` installs under that name in a wheel and in an editable install alike)."""
    folder = files("trm_sdk.web")
    if not isinstance(folder, Path) or not all((folder / "lib" / name).is_file() for name in LIB_FILES):
        raise WebBuildError(f"the web page's files are missing from {folder}: reinstall trm-sdk")
    return folder


def page_files(assets: Path, task: str) -> dict[str, Path]:
    """The page for ``task``'s models: built name -> source file. Refused if the task has no page."""
    pages = {
        "index.html": assets / f"{task}.html",
        "app.js": assets / f"{task}-app.js",
        **{name: assets / name for name in SHARED_FILES},
    }
    if not all(path.is_file() for path in pages.values()):
        have = sorted(p.stem for p in assets.glob("*.html") if (assets / f"{p.stem}-app.js").is_file())
        raise WebBuildError(
            f"there is no web page for {task} models yet (pages exist for: {', '.join(have)})"
        )
    return pages


def _npm() -> str:
    """npm's path; node must be on PATH too, since npm runs on it."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise WebBuildError(NEEDS_NODE)
    return npm


def _npm_ci(assets: Path, progress: Callable[[str], None]) -> tuple[Path, Path, str]:
    """Install the lockfile's onnxruntime-web into a fresh temporary folder: (temp root, dist, version)."""
    npm = _npm()
    root = Path(tempfile.mkdtemp(prefix="trm-web-npm-"))
    for name in LOCK_FILES:
        shutil.copyfile(assets / name, root / name)
    progress(f"npm ci: {ORT_PACKAGE} from {assets / 'package-lock.json'}")
    command = [npm, "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        done = subprocess.run(
            command, cwd=root, capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise WebBuildError(f"npm ci failed to run: {exc}") from exc
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise WebBuildError(f"npm ci failed (exit {done.returncode}); is the npm registry reachable?\n{tail}")
    package = root / "node_modules" / ORT_PACKAGE
    version = json.loads((package / "package.json").read_text(encoding="utf-8"))["version"]
    return root, package, version


def _puzzles(task_name: str, per_level: int, seed: int) -> dict[str, Any]:
    """``per_level`` generated puzzles of each level, easiest first, as ``trm generate`` makes them."""
    task = get_task(task_name)
    entries, commands = [], []
    for k, level in enumerate(task.levels):
        rng = np.random.default_rng(seed + k)
        commands.append(
            f"trm generate --task {task_name} --level {level} --count {per_level} --seed {seed + k}"
        )
        for n in range(per_level):
            puzzle, _ = task.generate(rng, level)
            entries.append({"name": f"{level} {n + 1}", "level": level, "puzzle": task.to_string(puzzle)})
    return {"task": task_name, "commands": commands, "puzzles": entries}


def _prepare_out(out: Path) -> Path:
    """A fresh temporary folder beside ``out`` to build in. ``out`` itself must be new, empty, or a
    previous web build (replaced whole at the end); anything else is refused before a byte is written.

    Building beside and renaming means nothing is ever written through a file or link an earlier
    build folder holds, and a failed build leaves the old folder as it was.
    """
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise WebBuildError(f"{out} is a file or a link, not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / BUILD_FILE).is_file():
        raise WebBuildError(
            f"{out} is not empty and holds no earlier web build; choose a new or empty folder"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the page from a web server running as another user
    return staging


def _put_in_place(staging: Path, out: Path) -> None:
    """Replace ``out`` (if any) by the finished ``staging`` folder: two renames on one file system."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        out.rename(old / out.name)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)  # rmtree unlinks links, never follows them


def build_web(
    model_dir: Path,
    out: Path,
    *,
    puzzles_per_level: int = 3,
    seed: int = 2026,
    progress: Callable[[str], None] = lambda message: None,
) -> WebBuild:
    """Write the static web folder for the model in ``model_dir`` into ``out``.

    The model is checked as a Solver would check it (schema and every file's sha256) before anything is
    written, and the page must exist for its task (``web/<task>.html`` and ``web/<task>-app.js``).
    """
    started = time.perf_counter()
    manifest = load_manifest(model_dir)
    assets = assets_dir()
    pages = page_files(assets, manifest.task)
    _npm()  # before anything is written
    final, out = out, _prepare_out(out)
    try:
        built = _fill(out, manifest, assets, pages, puzzles_per_level, seed, progress)
        _put_in_place(out, final)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    size = sum(p.stat().st_size for p in final.rglob("*") if p.is_file())
    return WebBuild(final, manifest.task, built[0], built[1], size, time.perf_counter() - started)


def _fill(
    out: Path,
    manifest: Manifest,
    assets: Path,
    pages: dict[str, Path],
    puzzles_per_level: int,
    seed: int,
    progress: Callable[[str], None],
) -> tuple[str, int]:
    """Write the web folder's files into ``out`` (a new, empty folder): (onnxruntime-web version, puzzles)."""
    npm_root, package, version = _npm_ci(assets, progress)
    try:
        ort_out = out / "ort"
        ort_out.mkdir(exist_ok=True)
        for name in ORT_FILES:  # each carries its MIT licence header
            shutil.copyfile(package / "dist" / name, ort_out / name)
    finally:
        shutil.rmtree(npm_root, ignore_errors=True)
    for name, source in pages.items():
        shutil.copyfile(source, out / name)
    (out / "lib").mkdir()
    for name in LIB_FILES:
        shutil.copyfile(assets / "lib" / name, out / "lib" / name)
    model_out = out / "model"
    model_out.mkdir(exist_ok=True)
    shutil.copyfile(manifest.directory / MANIFEST_NAME, model_out / MANIFEST_NAME)
    step = model_out / manifest.files["step"]["path"]  # the manifest's own relative path, kept
    step.parent.mkdir(parents=True, exist_ok=True)
    step.write_bytes(manifest.read("step"))  # the bytes whose sha256 was just checked, not a second read
    progress(f"generating {puzzles_per_level} puzzles per level")
    puzzles = _puzzles(manifest.task, puzzles_per_level, seed)
    (out / PUZZLES_FILE).write_text(json.dumps(puzzles, indent=1) + "\n", encoding="utf-8")
    record = {
        "complete": True,
        "trm_sdk": __version__,
        "onnxruntime_web": version,
        "task": manifest.task,
        "model": manifest.directory.name,  # the folder's name only: no local path is published
        "step_sha256": manifest.files["step"]["sha256"],
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (out / BUILD_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return version, len(puzzles["puzzles"])
