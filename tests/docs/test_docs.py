"""The docs run: the site builds strictly, and every Python block of the README and docs/ runs as written."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from types import CodeType

import pytest

from errands.settings import Settings

from .blocks import PAGES, ROOT, Block, blocks


def test_the_site_builds_without_a_warning(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "index.html").read_text().count("Quick start") >= 1


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_blocks_run_in_order(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page's blocks share one namespace, as a reader follows the page; each runs in an empty folder
    with its own SQLite store. A block that names a file on its first line (`# jobs.py`) is also saved there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ERRANDS_URL", f"sqlite:///{tmp_path / 'errands.db'}")
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    (tmp_path / "jobs.py").write_text(QUICK_START.code)  # the pages build on the README's quick start
    for block in blocks(page, "python"):
        compiled = compile(block.code, block.where, "exec")
        if block.check_only:
            continue
        first = block.code.splitlines()[0]
        if first.startswith("# ") and first.endswith(".py") and "/" not in first:
            (tmp_path / first[2:]).write_text(block.code)
        run(block, compiled, namespace)
    app = namespace.get("app")
    close = getattr(app, "close", None)
    if callable(close):
        close()


QUICK_START = next(b for b in blocks(PAGES[0], "python") if b.code.startswith("# jobs.py"))


def run(block: Block, compiled: CodeType, namespace: dict[str, object]) -> None:
    try:
        exec(compiled, namespace)  # noqa: S102 - the docs' own examples
    except Exception as exc:
        pytest.fail(f"{block.where}: the block raised {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_bash_blocks_are_valid_bash(page: Path) -> None:
    for block in blocks(page, "bash"):
        done = subprocess.run(["bash", "-n"], input=block.code, capture_output=True, text=True)
        assert done.returncode == 0, f"{block.where}: {done.stderr}"


def test_every_setting_is_in_the_configuration_page() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    missing = [f.name for f in fields(Settings) if f"`ERRANDS_{f.name.upper()}`" not in page]
    assert not missing, f"docs/configuration.md does not list: {missing}"
