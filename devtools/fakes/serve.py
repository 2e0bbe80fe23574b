"""Run any ASGI app (a fake server, the API …) on 127.0.0.1 in a background thread via uvicorn.

    with serve_in_thread(create_app()) as srv:
        httpx.post(f"{srv.url}/cgi-bin/webhook/send?key=k", json=...)

``port=0`` picks a free port. The listening socket is bound *before* the thread starts, so the port
is known immediately and no other process can take it between choosing and binding.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

__all__ = ["RunningServer", "serve_in_thread"]


class RunningServer:
    """A uvicorn server running in a daemon thread with its own event loop."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, sock: socket.socket, host: str, port: int):
        self._server = server
        self._thread = thread
        self._sock = sock
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and self._server.started and not self._server.should_exit

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to shut down gracefully and wait for the thread (idempotent)."""
        self._server.should_exit = True
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():  # pragma: no cover - a handler that never returns
                self._server.force_exit = True
                self._thread.join(timeout)
        try:
            self._sock.close()
        except OSError:  # pragma: no cover
            pass

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningServer({self.url}, running={self.running})"


def serve_in_thread(
    app: Any,
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    log_level: str = "warning",
    startup_timeout: float = 30.0,
    **config: Any,
) -> RunningServer:
    """Start ``app`` (an ASGI app, or an import string such as ``"fakes.wecom:create_app"`` with
    ``factory=True``) and return once it accepts connections. Extra keyword arguments go to
    ``uvicorn.Config``. Raises RuntimeError if the server does not come up."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    bound_port = sock.getsockname()[1]

    cfg = uvicorn.Config(app, host=host, port=bound_port, log_level=log_level, **config)
    server = uvicorn.Server(cfg)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"uvicorn-{bound_port}", daemon=True)
    running = RunningServer(server, thread, sock, host, bound_port)
    thread.start()

    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            running.stop(timeout=2)
            detail = f": {errors[0]!r}" if errors else ""
            raise RuntimeError(f"server on {host}:{bound_port} did not start{detail}")
        time.sleep(0.02)
    return running
