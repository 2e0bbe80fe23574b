"""Start the project's fake external servers (WeCom robot, …) for the embedded stack."""

from __future__ import annotations

import sys

from zhongshu.settings import Settings
from zhongshu.supervisor import Child, Supervisor


def start_fakes(sup: Supervisor, settings: Settings) -> dict[str, str]:
    """Start each fake as a child process; return env vars pointing the worker at them."""
    env: dict[str, str] = {}
    port = settings.fakes_base_port
    try:
        import fakes.wecom  # noqa: F401
    except ImportError:
        return env
    sup.start(
        Child("fake-wecom", [sys.executable, "-m", "uvicorn", "fakes.wecom:create_app", "--factory",
                             "--host", "127.0.0.1", "--port", str(port)],
              ready_url=f"http://127.0.0.1:{port}/messages"),
        timeout=30,
    )
    env["ZHONGSHU_WECOM_WEBHOOK_URL"] = f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key=demo"
    env["ZHONGSHU_FAKE_WECOM_URL"] = f"http://127.0.0.1:{port}/messages"
    return env
