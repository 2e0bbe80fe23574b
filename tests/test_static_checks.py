"""The static checks are part of the suite: mypy (every product package, strict on domain/ and
workflows/) and ruff find nothing. Their configuration is in pyproject.toml ([tool.mypy], [tool.ruff]); run them by hand with
`.venv/bin/mypy` and `.venv/bin/ruff check`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's own mypy and ruff


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_mypy_finds_nothing() -> None:
    # no cache: a cache written by an older run (other branch, other stubs) can hide an error
    out = run(str(BIN / "mypy"), "--no-incremental", "--cache-dir", "/dev/null")
    assert out.returncode == 0, f"mypy found problems:\n{out.stdout}{out.stderr}"


def test_ruff_finds_nothing() -> None:
    out = run(str(BIN / "ruff"), "check", "--no-cache", "--output-format", "concise", ".")
    assert out.returncode == 0, f"ruff found problems (`ruff check --fix` fixes the safe ones):\n{out.stdout}{out.stderr}"
