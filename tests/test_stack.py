"""Smoke test of `zhongshu up` (what `make up` runs): the whole embedded stack on random ports comes
up, answers, takes an order, starts the worker again after a SIGKILL (the next order goes through),
and Ctrl-C leaves no process and no open port behind."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from zhongshu_devtools.demo import demo_orders
from zhongshu_devtools.fakes_stack import FAKES
from zhongshu_devtools.stack import UP_BANNER

pytestmark = pytest.mark.integration

ROW = re.compile(r"^\W*(?P<label>[^│|]+?)\s*[│|]\s*(?P<value>\S+)\s*[│|]\s*$")


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _fakes_base() -> int:
    """A base port whose fake offsets are all free."""
    offsets = [f.offset for f in FAKES]
    for _ in range(200):
        base = _free_ports(1)[0]
        if base + max(offsets) < 65000 and not any(_port_open(base + o) for o in offsets):
            return base
    raise RuntimeError("no free port range for the fakes")


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _table_printed(lines: list[str]) -> bool:
    text = "".join(lines)
    at = text.find(UP_BANNER)
    return at >= 0 and re.search(r"^[└+]", text[at:], re.M) is not None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def _worker_pid(root: int) -> int | None:
    return next((p for p in _descendants(root) if "zhongshu.cli worker" in _cmdline(p) and _alive(p)), None)


def _routed(api_url: str, key: str, payload: dict, timeout: float = 20) -> dict:
    """Post an order; its state once the worker took it to routing (or later)."""
    r = httpx.post(f"{api_url}/v1/orders", json=payload, headers={"X-API-Key": key}, timeout=30)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["created"] is True and body["order_id"] == f"order-miniprogram-{payload['channel_order_id']}"
    deadline = time.monotonic() + timeout
    while True:
        state = httpx.get(f"{api_url}/v1/orders/{body['order_id']}", headers={"X-API-Key": key}, timeout=10).json()
        if state["status"] in ROUTED_OR_LATER or time.monotonic() > deadline:
            return state
        time.sleep(0.3)


ROUTED_OR_LATER = ("routed", "picking", "packed", "completed")  # an order older than its release window goes on


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _up(tmp_path: Path) -> tuple[subprocess.Popen, list[str], threading.Thread, dict[str, int], float, Path]:
    """`zhongshu up --no-demo` on free ports, once its table is printed. Another process on this machine
    may take one of the ports between our check and the stack's bind: then again on new ports."""
    for attempt in range(3):
        grpc, ui, api, console = _free_ports(4)
        fakes = _fakes_base()
        var = tmp_path / f"var{attempt}"
        env = {k: v for k, v in os.environ.items() if not (k.startswith("ZHONGSHU_") or k == "DATABASE_URL")}
        env.update(
            ZHONGSHU_TEMPORAL_ADDRESS=f"127.0.0.1:{grpc}",
            ZHONGSHU_TEMPORAL_UI_PORT=str(ui),
            ZHONGSHU_API_PORT=str(api),
            ZHONGSHU_CONSOLE_PORT=str(console),
            ZHONGSHU_FAKES_BASE_PORT=str(fakes),
            ZHONGSHU_VAR_DIR=str(var),
            PYTHONIOENCODING="utf-8",
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "zhongshu.cli", "up", "--no-demo"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda p=proc, out=lines: out.extend(p.stdout), daemon=True)
        reader.start()
        t0 = time.monotonic()
        while not _table_printed(lines) and proc.poll() is None:
            if time.monotonic() - t0 > 60:
                proc.kill()
                raise AssertionError("not up after 60 s:\n" + "".join(lines))
            time.sleep(0.2)
        if _table_printed(lines):
            return proc, lines, reader, dict(grpc=grpc, ui=ui, api=api, console=console, fakes=fakes), t0, var
        reader.join(5)
        text = "".join(lines)
        assert "address already in use" in text and attempt < 2, "zhongshu up exited early:\n" + text
    raise AssertionError("unreachable")


@pytest.mark.timeout(240)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="walks /proc for the process tree")
def test_up_serves_and_ctrl_c_stops_everything(tmp_path):
    proc, lines, reader, p, t0, var = _up(tmp_path)
    grpc, ui, api, console, fakes = p["grpc"], p["ui"], p["api"], p["console"], p["fakes"]
    ports = [grpc, ui, api, console] + [fakes + f.offset for f in FAKES]
    tree: set[int] = set()
    try:
        # ------------------------------------------------------------ up, and says where
        startup = time.monotonic() - t0
        printed = {m["label"].strip(): m["value"] for ln in lines if (m := ROW.match(ln.rstrip("\n")))}
        assert printed["API"] == f"http://127.0.0.1:{api}", printed
        assert printed["Console (审核台)"] == f"http://127.0.0.1:{console}"
        assert printed["API docs (OpenAPI)"] == f"http://127.0.0.1:{api}/docs"
        assert printed["Temporal Web UI"].startswith(f"http://127.0.0.1:{ui}/")
        assert printed["Temporal gRPC"] == f"127.0.0.1:{grpc}"
        key = printed["API key (X-API-Key)"]
        assert key.startswith("zs-dev-") and key == (var / "dev-api-key").read_text().strip()

        # ------------------------------------------------------------ every part answers
        api_url = printed["API"]
        assert httpx.get(f"{api_url}/healthz", timeout=5).json() == {"ok": True}
        assert httpx.get(f"{api_url}/docs", timeout=5).status_code == 200
        assert httpx.get(f"{printed['Console (审核台)']}/_stcore/health", timeout=5).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ui}/", timeout=5).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{fakes}/messages", timeout=5).status_code == 200
        assert httpx.post(f"{api_url}/v1/orders", json={}, timeout=5).status_code == 401  # key required
        # development mode, said so; the first admin is printed and signs in (issue 13)
        assert printed["Mode"] == "development"
        user, password = printed["Console sign-in"], printed["password"]
        assert password == (var / "dev-admin-password").read_text().strip()
        signed = httpx.post(f"{api_url}/v1/auth/login", json={"username": user, "password": password}, timeout=10)
        assert signed.status_code == 200 and signed.json()["user"]["role"] == "admin", signed.text

        everyday = [o.payload for o in demo_orders(40, "SMOKE-", "SMOKE") if o.kind.startswith("everyday")]
        state = _routed(api_url, key, everyday[0])  # the worker takes it through to routing
        assert state["status"] in ROUTED_OR_LATER, state["status"]
        assert state["warehouse"] and state["carrier"]

        # ------------------------------------------------------------ a killed worker is started again
        worker = _worker_pid(proc.pid)
        assert worker is not None, "no worker process in the tree"
        seen = len(lines)
        os.kill(worker, signal.SIGKILL)
        t2 = time.monotonic()
        while not any("worker is ready again" in ln for ln in lines[seen:]):
            assert proc.poll() is None, "zhongshu up stopped after the worker was killed:\n" + "".join(lines[-20:])
            assert time.monotonic() - t2 < 60, "worker not back after 60 s:\n" + "".join(lines[seen:])
            time.sleep(0.2)
        restart = time.monotonic() - t2
        said = "".join(lines[seen:])
        assert "worker exited (SIGKILL)" in said and "starting it again in 1 s" in said, said
        again = _worker_pid(proc.pid)
        assert again is not None and again != worker
        state = _routed(api_url, key, everyday[1])  # the new worker does the work
        assert state["status"] in ROUTED_OR_LATER, state["status"]

        # ------------------------------------------------------------ Ctrl-C stops the whole tree
        tree = _descendants(proc.pid)
        assert len(tree) >= 4 + len(FAKES), f"expected temporal, fakes, worker, API, console; got {tree}"
        t1 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=20)
        stop = time.monotonic() - t1
        reader.join(5)
        assert rc == 0, "".join(lines[-20:])
        time.sleep(0.3)
        assert not [p for p in tree if _alive(p)], "orphans left: " + ", ".join(
            Path(f"/proc/{p}/cmdline").read_text().replace("\0", " ") for p in tree if _alive(p))
        assert not [p for p in ports if _port_open(p)], "ports still open"
        assert any("ports are free" in ln for ln in lines), "".join(lines[-5:])
        print(f"stack up in {startup:.1f} s, worker back {restart:.1f} s after a SIGKILL, stopped in {stop:.1f} s")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for p in tree:  # only the ones this test started
            if _alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
