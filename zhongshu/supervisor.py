"""`zhongshu up`: the whole embedded stack as one supervised process tree.

Children run in their own process groups with logs in var/logs/; if one dies the others are
stopped, and Ctrl-C stops everything cleanly (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class Child:
    name: str
    argv: list[str]
    ready_port: int | None = None
    ready_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


class Supervisor:
    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.children: list[Child] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, child: Child, timeout: float = 60) -> Child:
        log = open(self.log_dir / f"{child.name}.log", "ab")
        env = {**os.environ, **child.env, "PYTHONUNBUFFERED": "1"}
        child.proc = subprocess.Popen(child.argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.children.append(child)
        self._wait_ready(child, timeout)
        return child

    def _wait_ready(self, child: Child, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.proc and child.proc.poll() is not None:
                raise RuntimeError(f"{child.name} exited with {child.proc.returncode}; see {self.log_dir / child.name}.log")
            if child.ready_url:
                try:
                    if httpx.get(child.ready_url, timeout=1).status_code < 500:
                        return
                except httpx.HTTPError:
                    pass
            elif child.ready_port:
                if port_open(child.ready_port):
                    return
            else:
                return
            time.sleep(0.3)
        raise RuntimeError(f"{child.name} not ready after {timeout:.0f}s; see {self.log_dir / child.name}.log")

    def wait(self) -> int:
        """Block until a child dies or we are interrupted; then stop the rest."""
        try:
            while True:
                for c in self.children:
                    if c.proc and c.proc.poll() is not None:
                        print(f"\n{c.name} exited ({c.proc.returncode}); stopping the stack", file=sys.stderr)
                        return 1
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("\nstopping …")
            return 0
        finally:
            self.stop()

    def stop(self, grace: float = 10) -> None:
        for c in reversed(self.children):
            if c.proc and c.proc.poll() is None:
                try:
                    os.killpg(c.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for c in reversed(self.children):
            if c.proc is None:
                continue
            try:
                c.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(c.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.children.clear()
