"""The layout rules of the docs' Architecture page, checked on the source itself.

Task knowledge lives in ``trm_sdk/tasks/`` alone: nothing else compares a task's name. The runtime sits at
the bottom: nothing under ``trm_sdk/`` imports the training or export packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from trm_sdk.tasks import task_names

TASKS = tuple(task_names())

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not (ROOT / "trm_sdk").is_dir(), reason="no source checkout around the tests")


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py") if ".venv" not in p.parts)


def _names_a_task(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in TASKS
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_names_a_task(e) for e in node.elts)
    return False


def task_name_branches(path: Path, tables: bool = True) -> list[str]:
    """Comparisons with a task name, and (``tables``) tables keyed by task names, in one file."""
    found = []
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare) and any(_names_a_task(n) for n in [node.left, *node.comparators]):
            found.append(f"{where}:{node.lineno}: comparison with a task name")
        if (
            tables
            and isinstance(node, ast.Dict)
            and any(k is not None and _names_a_task(k) for k in node.keys)
        ):
            found.append(f"{where}:{node.lineno}: table keyed by task names")
        if isinstance(node, ast.match_case) and _names_a_task(getattr(node.pattern, "value", None) or node):
            found.append(f"{where}:{node.lineno}: match on a task name")
    return found


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    bad = tmp_path / "_layout_probe.py"
    bad.write_text('if task == "maze":\n    pass\nx = t in ("sudoku", "other")\nd = {"maze": 1}\n')
    assert len(task_name_branches(bad)) == 3


def test_no_task_name_is_compared_outside_the_tasks_package() -> None:
    files = [
        p
        for p in _sources("trm_sdk", "train", "export", "tools", "experiments")
        if "tasks" not in p.relative_to(ROOT).parts
    ]
    assert len(files) > 30
    # Tools and experiments may keep tables per task (a GPU window's data files); they never branch.
    scripts = ("tools", "experiments")
    found = [
        line for path in files for line in task_name_branches(path, tables=path.parts[-2] not in scripts)
    ]
    assert not found, "\n".join(found)


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            out.append((node.lineno, module))
            out.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return out


def test_the_runtime_never_imports_training_or_export() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: imports {module}"
        for path in _sources("trm_sdk")
        for line, module in _imported_modules(path)
        if module.split(".")[:2] in (["trm_sdk", "train"], ["trm_sdk", "export"])
    ]
    assert not found, "\n".join(found)


def test_tasks_are_numpy_only() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: imports {module}"
        for path in _sources("trm_sdk/tasks")
        for line, module in _imported_modules(path)
        if module.split(".")[0] in ("torch", "onnx", "tensorrt")
    ]
    assert not found, "\n".join(found)
