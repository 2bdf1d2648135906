"""README stays the front door, and the docs site stays whole.

README is meant to be read in a minute: a length bound keeps lab notes from growing back into it. Its two
commands are the ones a new user and CI run, so they must not drift from ``tools/test.sh`` and ``.ci/run``.
``mkdocs build --strict`` (run by ``tools/test.sh``) checks the site's own links; these checks are the
cheap ones that need no MkDocs: README's links, and every page reachable from the nav.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(
    not (ROOT / "README.md").is_file(), reason="no source checkout around the tests"
)

README_MAX_LINES = 250
QUICKSTART = "python3 -m venv .venv && . .venv/bin/activate && pip install . && trm solve examples/puzzle.txt"
TEST_COMMAND = "python3 -m venv .venv && . .venv/bin/activate && bash tools/test.sh"

_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def local_links(markdown: str) -> list[str]:
    """The link targets of a Markdown text that point into the repository (no URL, no bare anchor)."""
    targets = [m.group(1) for m in _LINK.finditer(markdown)]
    return [t.split("#")[0] for t in targets if "://" not in t and not t.startswith(("#", "mailto:"))]


def nav_pages(mkdocs_yml: str) -> set[str]:
    """The pages mkdocs.yml's nav names (paths relative to docs/)."""
    nav = mkdocs_yml.split("\nnav:", 1)[1]
    return set(re.findall(r"([\w./-]+\.md)\s*$", nav, flags=re.MULTILINE))


def test_readme_is_short() -> None:
    lines = _readme().count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines; move detail into docs/ (at most {README_MAX_LINES})"
    )


def test_readme_gives_the_quickstart_and_the_test_command() -> None:
    readme = _readme()
    assert QUICKSTART in readme
    assert TEST_COMMAND in readme


def test_ci_runs_the_readme_test_command() -> None:
    assert (ROOT / "tools" / "test.sh").is_file()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert TEST_COMMAND.rsplit("&& ", 1)[1] in ci  # "bash tools/test.sh"


def test_the_test_command_builds_the_docs_strictly() -> None:
    script = (ROOT / "tools" / "test.sh").read_text(encoding="utf-8")
    assert re.search(r"^[^#\n]*\bmkdocs build --strict", script, flags=re.MULTILINE)


def test_readme_links_point_at_files_that_exist() -> None:
    links = local_links(_readme())
    assert links, "README.md links into the docs"
    missing = [t for t in links if not (ROOT / t).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


def test_every_docs_page_is_in_the_nav() -> None:
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    listed = nav_pages((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert pages - listed == set(), f"pages missing from mkdocs.yml's nav: {sorted(pages - listed)}"
    assert listed - pages == set(), f"nav entries with no page: {sorted(listed - pages)}"


def test_the_helpers_find_what_they_look_for() -> None:
    text = "see [a](docs/a.md#x), [b](https://example.org/b.md), [c](#here) and [d](CHANGELOG.md)"
    assert local_links(text) == ["docs/a.md", "CHANGELOG.md"]
    yml = (
        "site_name: x\nnav:\n  - Home: index.md\n  - Notes:\n      - notes/index.md\n      - A: notes/a.md\n"
    )
    assert nav_pages(yml) == {"index.md", "notes/index.md", "notes/a.md"}
