"""How the package imports: no cycle between its modules, a clean top-level namespace, one version.

The cycle check reads the source, not the running interpreter: every import statement of every module
under ``trm_sdk/``, ``train/`` and ``export/`` (named as installed: ``trm_sdk.train.*``,
``trm_sdk.export.*``), including those inside functions and under ``TYPE_CHECKING``, since a cycle that
Python tolerates today through a late import is still two modules that cannot be understood apart.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import trm_sdk

ROOT = Path(__file__).resolve().parents[1]
# The source folders and the package each one installs as (pyproject.toml's package-dir).
FOLDERS = {"trm_sdk": "trm_sdk", "train": "trm_sdk.train", "export": "trm_sdk.export"}

checkout = pytest.mark.skipif(not (ROOT / "trm_sdk").is_dir(), reason="no source checkout around the tests")


def module_files(folders: Mapping[Path, str]) -> dict[str, Path]:
    """Every module under each folder, by its installed name: {"pkg.sub.mod": path}."""
    out = {}
    for folder, package in folders.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def _resolve(module: str, name: str, modules: Mapping[str, Path]) -> str | None:
    """The module that ``from module import name`` depends on: ``module.name`` where that is a module
    itself (a sub-module imported by name), else ``module``; None for what lies outside ``modules``."""
    if f"{module}.{name}" in modules:
        return f"{module}.{name}"
    return module if module in modules else None


def imports_of(name: str, path: Path, modules: Mapping[str, Path]) -> set[str]:
    """The modules among ``modules`` that the module ``name`` (its source at ``path``) imports.

    A parent package that Python imports on the way to a sub-module is not counted: importing
    ``a.b.c`` runs ``a/__init__`` first, but ``a`` is only a dependency where a name is taken from it.
    """
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name
                while target and target not in modules:  # "import a.b.c" of a module not in the set
                    target = target.rpartition(".")[0]
                if target:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                target = _resolve(module, alias.name, modules)
                if target:
                    found.add(target)
    found.discard(name)
    return found


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Each group of modules that import one another (Tarjan's strongly connected components), as one
    shortest cycle through the group's first module, so the report names an import to remove."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return [_shortest_cycle(graph, set(group), group[0]) for group in sorted(groups)]


def _shortest_cycle(graph: Mapping[str, set[str]], group: set[str], start: str) -> list[str]:
    """Breadth-first from ``start`` back to it inside ``group``: [start, ..., start]."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph[v] & group):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if w not in came_from:
                    came_from[w] = v
                    following.append(w)
        frontier = following
    raise AssertionError(f"{start} is in a cycle that cannot be walked")  # Tarjan's groups always can


def _report(found: list[list[str]]) -> str:
    return "\n".join(" -> ".join(cycle) for cycle in found)


def _write(root: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


# -- the check itself, on small made-up packages -----------------------------------------------------------


def test_the_cycle_check_finds_a_cycle_through_a_late_import(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from .a import A\n",
            "pkg/a.py": "from . import b\nA = 1\n",
            "pkg/b.py": "def f():\n    from .c import C\n    return C\n",  # inside a function still counts
            "pkg/c.py": "import pkg.a\nC = 2\n",
            "pkg/d.py": "from pkg import a\n",  # imports into the cycle, not part of it
        },
    )
    graph = import_graph(module_files({tmp_path / "pkg": "pkg"}))
    assert graph["pkg.b"] == {"pkg.c"} and graph["pkg.d"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_the_cycle_check_sees_a_package_and_its_module_importing_each_other(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from .solver import Solver\nVERSION = '1'\n",
            "pkg/solver.py": "from . import VERSION\nclass Solver: ...\n",
            "pkg/sub/__init__.py": "",
            # solver is a module of pkg, so this is no import of pkg itself
            "pkg/sub/x.py": "from .. import solver\nfrom ..sub import y\n",
            "pkg/sub/y.py": "",
        },
    )
    graph = import_graph(module_files({tmp_path / "pkg": "pkg"}))
    assert graph["pkg.sub.x"] == {"pkg.solver", "pkg.sub.y"}
    assert cycles(graph) == [["pkg", "pkg.solver", "pkg"]]


def test_the_cycle_check_maps_folders_to_their_installed_names(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "core/__init__.py": "",
            "core/model.py": "from core.extra.loop import run\n",
            "extra/__init__.py": "",
            "extra/loop.py": "from core import model\ndef run(): ...\n",
        },
    )
    modules = module_files({tmp_path / "core": "core", tmp_path / "extra": "core.extra"})
    assert set(modules) == {"core", "core.model", "core.extra", "core.extra.loop"}
    assert cycles(import_graph(modules)) == [["core.extra.loop", "core.model", "core.extra.loop"]]


def test_an_acyclic_package_passes(tmp_path: Path) -> None:
    _write(
        tmp_path, {"pkg/__init__.py": "from .a import A\n", "pkg/a.py": "import os\nfrom . import b\nA = 1\n"}
    )
    _write(tmp_path, {"pkg/b.py": "import json\n"})
    assert cycles(import_graph(module_files({tmp_path / "pkg": "pkg"}))) == []


# -- this package ------------------------------------------------------------------------------------------


@checkout
def test_no_import_cycle_inside_trm_sdk() -> None:
    modules = module_files({ROOT / folder: package for folder, package in FOLDERS.items()})
    assert {"trm_sdk.solution", "trm_sdk.tasks", "trm_sdk.train.trainer", "trm_sdk.export.web"} <= set(
        modules
    )
    graph = import_graph(modules)
    assert "trm_sdk.network" in graph["trm_sdk.train.trainer"]  # the graph does see the package's imports
    found = cycles(graph)
    assert not found, "import cycles:\n" + _report(found)


def test_the_top_level_namespace_is_the_public_api() -> None:
    """``dir(trm_sdk)`` holds the names of ``__all__``, the package's own sub-modules and dunders alone:
    no helper of the package's ``__init__`` (importlib, ModuleSpec, ``annotations``) leaks out."""
    assert all(hasattr(trm_sdk, name) for name in trm_sdk.__all__)
    assert {"Solver", "Solution", "Prediction", "Hint", "Rating", "TRMError", "__version__"} <= set(
        trm_sdk.__all__
    )
    stray = [
        name
        for name in dir(trm_sdk)
        if not (name.startswith("__") and name.endswith("__"))
        and name not in trm_sdk.__all__
        and f"trm_sdk.{name}" not in sys.modules  # a sub-module the package imported, e.g. trm_sdk.tasks
    ]
    assert not stray, f"names in trm_sdk that are neither public nor sub-modules: {stray}"
    for name in ("importlib", "annotations", "ModuleSpec", "Path", "sys"):
        assert not hasattr(trm_sdk, name), name


def test_importing_trm_sdk_never_imports_torch() -> None:
    """The runtime is numpy and ONNX Runtime: PyTorch (the network module's, the CUDA backend's) loads only
    when a GPU backend or training asks for it. Run in a fresh interpreter, where nothing loaded it yet."""
    import subprocess

    code = (
        "import sys, trm_sdk, trm_sdk.shipped, trm_sdk.tasks, trm_sdk.backends\n"
        "trm_sdk.tasks.get_task('sudoku'); trm_sdk.tasks.get_task('maze')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx', 'tensorrt')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_solution_prints_as_its_task_draws_it_with_no_task_registry(tiny_model_dir: Path) -> None:
    """What replaced the solution <-> tasks cycle: the Solver, which holds the task, hands each Solution
    its grid as the task draws it; a Solution made by hand prints plain rows."""
    import dataclasses

    from trm_sdk.tasks import get_task

    task = get_task("sudoku")
    solution = trm_sdk.Solver("sudoku", backend="cpu", model=tiny_model_dir).solve("0" * 81)
    assert solution.grid_text == task.format(solution.grid)
    assert str(solution).splitlines()[1:] == task.format(solution.grid).splitlines()
    by_hand = dataclasses.replace(solution, grid_text="")
    assert str(by_hand).splitlines()[1] == " ".join(str(v) for v in solution.grid[0])
    assert by_hand == solution  # the drawing is presentation, not part of the answer


# -- package data and the version --------------------------------------------------------------------------


def test_package_data_is_found_through_the_installed_package_names() -> None:
    """``trm_sdk.models`` and ``trm_sdk.web`` are packages (wheel or editable install alike), so the
    shipped models and the web page are found by ``importlib.resources``, never by walking up folders."""
    from importlib.resources import files

    from trm_sdk import shipped
    from trm_sdk.export.web import LIB_FILES, assets_dir, page_files

    models = Path(str(files("trm_sdk.models")))
    assert {"sudoku", "maze"} <= set(shipped.available())
    assert all(shipped.model_dir(task) == models / task for task in ("sudoku", "maze"))
    assert all((assets_dir() / "lib" / name).is_file() for name in LIB_FILES)
    assert all(page_files(assets_dir(), task) for task in ("sudoku", "maze"))  # raises where one is missing


@checkout
def test_an_installed_checkout_maps_only_what_pyproject_installs() -> None:
    """The install (editable here) maps train/, export/, models/ and web/ to trm_sdk.*; scripts, tools,
    tests and examples never become part of the package."""
    import importlib.util

    for name, folder in {"train": "train", "export": "export", "models": "models", "web": "web"}.items():
        spec = importlib.util.find_spec(f"trm_sdk.{name}")
        assert spec is not None and spec.origin is not None, name
        installed = Path(spec.origin).resolve().parent
        if "site-packages" in installed.parts:  # a wheel: inside the installed package
            assert installed == Path(trm_sdk.__file__).resolve().parent / name, name
        else:  # an editable install of this checkout: its own folder
            assert installed == ROOT / folder, name
    for name in ("scripts", "tools", "tests", "examples", "experiments", "docs"):
        assert importlib.util.find_spec(f"trm_sdk.{name}") is None, name


def _pyproject() -> str:
    return (ROOT / "pyproject.toml").read_text(encoding="utf-8")


@checkout
def test_the_version_is_written_once() -> None:
    """``trm_sdk/version.py`` holds it; pyproject reads it from there, the installed metadata and the
    package re-export it, and the web page's package.json (which npm needs) must agree with it."""
    from trm_sdk.version import __version__

    project = _pyproject()
    assert re.search(r'^dynamic = \["version"\]', project, re.M), "pyproject must not write the version"
    assert not re.search(r"^version = \"", project, re.M)
    assert re.search(r'^version = \{ ?attr = "trm_sdk\.version\.__version__" ?\}', project, re.M)
    assert trm_sdk.__version__ == __version__
    assert importlib.metadata.version("trm-sdk") == __version__, "reinstall: pip install -e ."
    for name in ("package.json", "package-lock.json"):
        web = json.loads((ROOT / "web" / name).read_text(encoding="utf-8"))
        assert web["version"] == __version__, f"web/{name} says {web['version']}, trm_sdk {__version__}"


def _sources() -> Iterator[Path]:
    for folder in FOLDERS:
        yield from (ROOT / folder).rglob("*.py")


@checkout
def test_no_module_looks_for_a_checkout_beside_the_package() -> None:
    """A checkout is used through an (editable) install: no module guesses where the repository's
    folders are from its own file's location, nor installs an import hook."""
    found = [
        f"{path.relative_to(ROOT)}: {needle}"
        for path in _sources()
        for needle in ("meta_path", "MetaPathFinder", "spec_from_file_location", 'parent / "pyproject.toml"')
        if needle in path.read_text(encoding="utf-8")
    ]
    assert not found, "\n".join(found)
