"""`zhongshu up`: the whole embedded stack as one supervised process tree.

Each child runs in its own session/process group with its log in var/logs/<name>.log, so the
terminal's Ctrl-C reaches only the supervisor, which then stops the children in order: the
applications first, the infrastructure (Temporal, fakes) last — SIGTERM to each whole process
group, SIGKILL after a grace period, and a second Ctrl-C skips the grace. SIGTERM and SIGHUP to the
supervisor stop the stack the same way; on Linux the children also get SIGTERM if the supervisor
itself is killed outright (PR_SET_PDEATHSIG), so nothing is left orphaned.

Once the stack is up, a child that dies is started again (``supervise``/``wait``): after 1 s, then
2, 4 … at most 30 s between tries while it keeps dying soon after each start, with a log line each
time; a run of a minute or more counts as healthy and starts the count afresh. After 10 quick
deaths in a row the supervisor gives up on it, says so, and ``wait`` returns 1 (the caller stops
the stack).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import httpx

STOP_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)


class StartupError(RuntimeError):
    """A child did not come up; ``log_tail`` holds the end of its log."""

    def __init__(self, message: str, log_tail: str = ""):
        super().__init__(message)
        self.log_tail = log_tail


@dataclass(frozen=True)
class RestartPolicy:
    """When a child that died is started again, and when the supervisor stops trying."""

    initial: float = 1.0  # seconds before the first restart
    factor: float = 2.0
    cap: float = 30.0  # never more than this between tries
    healthy_after: float = 60.0  # a run this long resets the count of quick deaths
    give_up_after: int = 10  # quick deaths in a row

    def delay(self, failures: int) -> float:
        """Seconds to wait before restarting after the ``failures``-th quick death in a row (1-based)."""
        return min(self.cap, self.initial * self.factor ** max(failures - 1, 0))


@dataclass
class Child:
    name: str
    argv: list[str]
    ready_port: int | None = None  # ready once this TCP port accepts connections
    ready_url: str | None = None  # ready once this URL answers < 500
    ready_log: str | None = None  # ready once this text appears in the child's log (this run's part)
    env: dict[str, str] = field(default_factory=dict)
    stop_last: bool = False  # infrastructure: stopped after the applications that use it
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    log_offset: int = 0
    started_at: float = 0.0
    restarts: int = 0  # how often it was started again
    failures: int = 0  # quick deaths in a row
    restart_at: float | None = None  # dead, to be started again at this monotonic time
    awaiting_ready: bool = False  # restarted, not ready yet

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def _libc_prctl() -> Callable[[int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):  # pragma: no cover - exotic libc
        return None


_PRCTL = _libc_prctl()
_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:  # runs in the forked child, before exec
    # the supervisor blocks the stop signals while it forks; the child must not inherit that
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def tail(path: Path | None, lines: int = 25, offset: int = 0) -> str:
    if path is None or not path.exists():
        return ""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def exit_text(code: int) -> str:
    """'code 3', or the signal that ended it ('SIGKILL')."""
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


class Supervisor:
    def __init__(self, log_dir: Path, env: dict[str, str] | None = None, *, restart: RestartPolicy | None = None,
                 out: TextIO | None = None):
        self.log_dir = log_dir
        self.env = env or {}  # for every child, under each child's own env
        self.children: list[Child] = []
        self.restart = restart or RestartPolicy()
        self.out = out  # where the supervisor's own lines go (None: stderr)
        self.gave_up: Child | None = None
        self._hurry = False
        self._lock = threading.RLock()  # children are started and stopped under it
        self._stopping = False
        self._watcher: threading.Thread | None = None
        self._given_up = threading.Event()
        log_dir.mkdir(parents=True, exist_ok=True)

    def say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=self.out or sys.stderr, flush=True)

    # ------------------------------------------------------------------ start

    def start(self, child: Child, timeout: float = 60) -> float:
        """Start ``child`` and wait until it is ready; returns the seconds it took.

        Raises StartupError (with the end of its log) if it exits or is not ready in time."""
        self.launch(child)
        return self.wait_ready(child, timeout)

    def launch(self, child: Child) -> Child:
        """Start ``child`` without waiting (pair with wait_ready to start several at once)."""
        with self._lock:
            self._spawn(child, first=True)
        return child

    def _spawn(self, child: Child, *, first: bool) -> None:
        child.log_path = self.log_dir / f"{child.name}.log"
        env = {**os.environ, **self.env, **child.env, "PYTHONUNBUFFERED": "1"}
        with open(child.log_path, "ab") as log:
            again = "" if first else f" (restart {child.restarts})"
            log.write(f"\n----- {time.strftime('%Y-%m-%d %H:%M:%S')}{again} {' '.join(child.argv)}\n".encode())
            log.flush()
            child.log_offset = log.tell()
            # no Ctrl-C between fork and bookkeeping: a child we do not know about would be orphaned
            old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            try:
                child.proc = subprocess.Popen(
                    child.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                    start_new_session=True, preexec_fn=_child_setup,
                )
                child.started_at = time.monotonic()
                if first:
                    self.children.append(child)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)

    def _is_ready(self, child: Child) -> bool:
        if child.ready_url:
            try:
                if httpx.get(child.ready_url, timeout=1).status_code >= 500:
                    return False
            except httpx.HTTPError:
                return False
        if child.ready_port and not port_open(child.ready_port):
            return False
        if child.ready_log and child.ready_log not in tail(child.log_path, 200, child.log_offset):
            return False
        return True

    def wait_ready(self, child: Child, timeout: float = 60) -> float:
        """Wait until a launched child is ready; returns the seconds since it was launched."""
        deadline = child.started_at + timeout
        while True:
            if child.proc is not None and child.proc.poll() is not None:
                raise StartupError(
                    f"{child.name} exited with code {child.proc.returncode} while starting; log: {child.log_path}",
                    tail(child.log_path, offset=child.log_offset),
                )
            if self._is_ready(child):
                return time.monotonic() - child.started_at
            if time.monotonic() > deadline:
                raise StartupError(
                    f"{child.name} not ready after {timeout:.0f}s; log: {child.log_path}",
                    tail(child.log_path, offset=child.log_offset),
                )
            time.sleep(0.25)

    # ------------------------------------------------------------------ run

    @contextlib.contextmanager
    def stop_signals_interrupt(self) -> Iterator[None]:
        """Inside this block SIGTERM and SIGHUP behave like Ctrl-C (KeyboardInterrupt), and SIGINT
        does even if the shell started us with it ignored (``cmd &`` in a script)."""

        def interrupt(signum, _frame):
            raise KeyboardInterrupt(signal.Signals(signum).name)

        saved = {s: signal.getsignal(s) for s in STOP_SIGNALS}
        for s in saved:
            signal.signal(s, signal.default_int_handler if s == signal.SIGINT else interrupt)
        try:
            yield
        finally:
            for s, h in saved.items():
                signal.signal(s, h)

    def check(self) -> Child | None:
        """One round of supervision: note children that died, start again those whose pause is over,
        report those ready again. Returns the child given up on, if any."""
        ready_to_check: list[Child] = []
        with self._lock:
            if self._stopping or self.gave_up is not None:
                return self.gave_up
            now = time.monotonic()
            for c in self.children:
                if c.proc is None:
                    continue
                if c.restart_at is not None:
                    if now >= c.restart_at:
                        c.restart_at = None
                        c.restarts += 1
                        self._spawn(c, first=False)
                        c.awaiting_ready = True
                        self.say(f"{c.name} started again (restart {c.restarts}, pid {c.proc.pid})")
                    continue
                code = c.proc.poll()
                if code is None:
                    if c.awaiting_ready:
                        ready_to_check.append(c)
                    continue
                self._died(c, code, now)
                if self.gave_up is not None:
                    self._given_up.set()
                    return self.gave_up
        for c in ready_to_check:  # outside the lock: a readiness probe may take a second
            if c.awaiting_ready and c.running and self._is_ready(c):
                c.awaiting_ready = False
                self.say(f"{c.name} is ready again ({time.monotonic() - c.started_at:.1f} s after its restart)")
        return None

    def _died(self, c: Child, code: int, now: float) -> None:
        assert c.proc is not None
        ran = now - c.started_at
        _killpg(c.proc.pid, signal.SIGKILL)  # what is left of its group would hold its port
        c.awaiting_ready = False
        c.failures = c.failures + 1 if ran < self.restart.healthy_after else 1
        log_end = tail(c.log_path, 10, c.log_offset)
        log_end = ("; its log ends:\n" + log_end) if log_end else ""
        if c.failures >= self.restart.give_up_after:
            self.gave_up = c
            self.say(f"{c.name} exited ({exit_text(code)}) after {ran:.1f} s — {c.failures} times in a row soon after "
                     f"starting; giving up on it (log: {c.log_path}){log_end}")
            return
        delay = self.restart.delay(c.failures)
        c.restart_at = now + delay
        self.say(f"{c.name} exited ({exit_text(code)}) after {ran:.1f} s; starting it again in {delay:g} s "
                 f"(quick deaths in a row: {c.failures}, giving up at {self.restart.give_up_after}; log: {c.log_path})"
                 + log_end)

    def supervise(self, interval: float = 0.25) -> None:
        """From now on, restart children that die, in a background thread, until stop()."""
        with self._lock:
            if self._watcher is not None or self._stopping:
                return

            def watch() -> None:
                while not self._stopping and self.gave_up is None:
                    try:
                        self.check()
                    except Exception as exc:  # noqa: BLE001 - a failed round must not end supervision
                        self.say(f"supervision round failed: {exc!r}")
                    time.sleep(interval)

            self._watcher = threading.Thread(target=watch, name="supervisor", daemon=True)
            self._watcher.start()

    def wait(self) -> int:
        """Supervise until interrupted (0) or a child is given up on (1); the caller then calls stop()."""
        self.supervise()
        try:
            while not self._given_up.wait(0.5):
                pass
            return 1
        except KeyboardInterrupt:
            return 0

    # ------------------------------------------------------------------ stop

    def stop(self, grace: float = 10) -> list[str]:
        """Stop every child (applications first, then infrastructure); returns the names that had
        to be killed. Safe to call twice; a Ctrl-C while stopping skips the remaining grace."""

        def hurry(_signum, _frame):
            self._hurry = True

        saved = {s: signal.getsignal(s) for s in STOP_SIGNALS}
        for s in STOP_SIGNALS:
            signal.signal(s, hurry)
        killed: list[str] = []
        try:
            with self._lock:  # no restart from here on
                self._stopping = True
            if self._watcher is not None and self._watcher is not threading.current_thread():
                self._watcher.join(5)
            apps = [c for c in reversed(self.children) if not c.stop_last]
            infra = [c for c in reversed(self.children) if c.stop_last]
            for tier in (apps, infra):
                killed += self._stop_tier(tier, grace)
        finally:
            for s, h in saved.items():
                signal.signal(s, h)
        self.children.clear()
        return killed

    def _stop_tier(self, tier: list[Child], grace: float) -> list[str]:
        for c in tier:
            if c.proc is not None:
                _killpg(c.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        killed = []
        for c in tier:
            if c.proc is None:
                continue
            while c.proc.poll() is None and time.monotonic() < deadline and not self._hurry:
                time.sleep(0.05)
            if c.proc.poll() is None:
                killed.append(c.name)
            # the whole group, also when the leader is gone (a grandchild may linger)
            _killpg(c.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                c.proc.wait(5)
        return killed


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
