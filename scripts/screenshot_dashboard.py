"""Take a screenshot of the 数据看板 (dashboard) page in headless Chromium.

    .venv/bin/python scripts/screenshot_dashboard.py                 # seeded demo data, no stack needed
    .venv/bin/python scripts/screenshot_dashboard.py --api-url http://127.0.0.1:8000 --api-key KEY
    .venv/bin/python scripts/screenshot_dashboard.py --out /tmp/dash.png

Without ``--api-url`` it seeds a throw-away SQLite read model with the test fixtures' orders (health
and reconciliation days) and serves the API from it in-process. It then starts the Streamlit console
headless on a free port pointed at that API, and runs Debian's ``chromium`` (``apt-get install
chromium``) with ``--headless --no-sandbox --disable-gpu --disable-background-networking
--no-first-run`` and drives it over the DevTools protocol (Streamlit draws the page over a websocket
after the load event, so ``--screenshot`` alone would capture a blank page). The PNG goes to ``var/screenshots/`` (git-ignored with ``var/``),
never into the repository.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("chromium not found: apt-get install chromium")


def demo_api(stack: ExitStack) -> tuple[str, str]:
    """Seed a temporary read model and serve the API from it (no Temporal needed to read)."""
    from activities.finance import FinanceActivities
    from api.app import create_app
    from fakes.serve import serve_in_thread
    from fakes.settlement import create_app as settlement_app
    from store.db import engine_for, migrate
    from tests import test_health, test_reconciliation
    from tests.support import ThreadedServer
    from zhongshu.settings import Settings

    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zs-shot-")))
    url = f"sqlite:///{tmp / 'demo.db'}"
    migrate(url)
    engine = engine_for(url)
    test_health._seed(engine, datetime.now(UTC))
    test_reconciliation._seed(engine)
    with serve_in_thread(settlement_app()) as fake:
        test_reconciliation._prime_fake(fake.url)
        test_reconciliation._run(FinanceActivities(engine, fake.url))
    key = "screenshot-key"
    api = stack.enter_context(ThreadedServer(create_app(Settings(database_url=url, api_key=key, var_dir=tmp), client=object())))
    return api.url, key


def shoot(chromium: str, profile: str, url: str, out: Path, size: str, wait: float, stack: ExitStack) -> None:
    """Drive headless Chromium over the DevTools protocol: Streamlit draws the page over a websocket
    after the load event, so wait until the script has finished running, then capture."""
    import base64
    import json

    from websockets.sync.client import connect

    from tests.support import free_port

    port = free_port()
    browser = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={size}", f"--remote-debugging-port={port}",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    stack.callback(lambda: (browser.terminate(), browser.wait(10)))
    deadline = time.monotonic() + 30
    while True:
        try:
            targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
            page = next(t for t in targets if t.get("type") == "page")
            break
        except (httpx.HTTPError, StopIteration, ValueError):
            if time.monotonic() > deadline:
                raise SystemExit("chromium did not start") from None
            time.sleep(0.3)
    width, height = (int(x) for x in size.split(","))
    with connect(page["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024) as ws:
        seq = iter(range(1, 10**6))

        def call(method: str, **params):
            msg_id = next(seq)
            ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
            while True:
                msg = json.loads(ws.recv())
                if msg.get("id") == msg_id:
                    if "error" in msg:
                        raise RuntimeError(f"{method}: {msg['error']}")
                    return msg.get("result", {})

        call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        call("Page.enable")
        call("Page.navigate", url=url)
        # ready: the page title is drawn, charts are on the page, and no script run is in progress
        probe = (
            "(() => { const t = document.body.innerText || '';"
            " const running = document.querySelector('[data-testid=stStatusWidget]');"
            " return t.includes('数据看板') || t.includes('财务对账') ? (running ? 'running' : 'ready') : 'loading'; })()"
        )
        deadline = time.monotonic() + wait
        state = "loading"
        while time.monotonic() < deadline:
            state = call("Runtime.evaluate", expression=probe, returnByValue=True)["result"].get("value")
            if state == "ready":
                break
            time.sleep(0.5)
        time.sleep(2.0)  # let vega finish drawing the charts
        shot = call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    out.write_bytes(base64.b64decode(shot["data"]))
    if state != "ready":
        print(f"warning: page state was {state!r} when the screenshot was taken", file=sys.stderr)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--api-url", default="")
    p.add_argument("--api-key", default="")
    p.add_argument("--page", default="dashboard", help="console url path: dashboard | reconciliation | …")
    p.add_argument("--out", default=str(ROOT / "var" / "screenshots" / "dashboard.png"))
    p.add_argument("--size", default="1400,2600")
    p.add_argument("--wait", type=float, default=30.0, help="at most this long for the page to render, seconds")
    args = p.parse_args()

    from tests.support import free_port

    chromium = find_chromium()
    out = Path(args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        api_url, api_key = (args.api_url, args.api_key) if args.api_url else demo_api(stack)
        port = free_port()
        env = dict(os.environ, ZHONGSHU_CONSOLE_API_URL=api_url, ZHONGSHU_CONSOLE_API_KEY=api_key)
        console = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "console" / "app.py"), "--server.port", str(port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.address", "127.0.0.1"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        stack.callback(lambda: (console.terminate(), console.wait(10)))
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or console.poll() is not None:
                raise SystemExit("the console did not start")
            time.sleep(0.3)
        profile = stack.enter_context(tempfile.TemporaryDirectory(prefix="zs-chromium-", ignore_cleanup_errors=True))
        shoot(chromium, profile, f"http://127.0.0.1:{port}/{args.page}", out, args.size, args.wait, stack)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
