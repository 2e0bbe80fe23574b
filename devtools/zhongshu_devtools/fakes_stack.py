"""Start the project's fake external servers (WeCom robot, …) for the embedded stack.

Fakes take consecutive ports from ``ZHONGSHU_FAKES_BASE_PORT`` (8600): the WeCom robot is base+0;
channel and carrier fakes take the next ports as they are added to ``FAKES``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from zhongshu.settings import Settings
from zhongshu_devtools.harness_settings import fakes_base_port
from zhongshu_devtools.supervisor import Child, Supervisor


@dataclass
class FakeServer:
    name: str  # child / log name
    label: str  # for the "is up" table
    app: str  # uvicorn factory import string
    offset: int  # port = ZHONGSHU_FAKES_BASE_PORT + offset
    health_path: str
    links: dict[str, str] = field(default_factory=dict)  # label → path, printed in the table
    env: dict[str, str] = field(default_factory=dict)  # env for the worker/API; "{url}" is replaced
    # env vars the user may already point at a real service: then the fake still runs but is not wired in
    overridable: tuple[str, ...] = ()


FAKES = [
    FakeServer(
        name="fake-wecom",
        label="fake WeCom robot (企业微信)",
        app="fakes.wecom:create_app",
        offset=0,
        health_path="/messages",
        links={"messages received": "/messages"},
        env={"ZHONGSHU_WECOM_WEBHOOK_URL": "{url}/cgi-bin/webhook/send?key=zhongshu-dev"},
        overridable=("ZHONGSHU_WECOM_WEBHOOK_URL",),
    ),
    FakeServer(  # issue 7: channel settlement statements + ERP receipts, mirroring the read model
        name="fake-settlement", label="fake settlements + ERP receipts (对账)", app="fakes.settlement:create_app_from_env",
        offset=5, health_path="/healthz", links={"injected discrepancies": "/_control/discrepancies?day="},
        env={"ZHONGSHU_SETTLEMENT_URL": "{url}"}, overridable=("ZHONGSHU_SETTLEMENT_URL",),
    ),
    # channels (issue 4); offsets 11+ leave 1–10 to carrier/settlement fakes
    FakeServer(
        name="fake-tmall", label="fake Tmall/Taobao open platform (TOP)", app="fakes.tmall:create_app", offset=11,
        health_path="/healthz", links={"state": "/_control/state"},
        env={"ZHONGSHU_TMALL_URL": "{url}/router/rest", "ZHONGSHU_TMALL_APP_KEY": "zs-tmall-app",
             "ZHONGSHU_TMALL_APP_SECRET": "zs-tmall-secret"},
        overridable=("ZHONGSHU_TMALL_URL",),
    ),
    FakeServer(
        name="fake-douyin", label="fake Douyin shop push (抖店)", app="fakes.douyin:create_app", offset=12,
        health_path="/healthz", links={"state": "/_control/state"},
        env={"ZHONGSHU_FAKE_DOUYIN_URL": "{url}", "ZHONGSHU_DOUYIN_APP_SECRET": "zs-douyin-secret",
             "ZHONGSHU_DOUYIN_API_URL": "{url}"},  # its open API too: ids-only pushes fetch the order detail
        overridable=("ZHONGSHU_DOUYIN_APP_SECRET", "ZHONGSHU_DOUYIN_API_URL"),
    ),
    FakeServer(
        name="fake-erp", label="fake Kingdee K3 Cloud ERP", app="fakes.erp:create_app", offset=13,
        health_path="/healthz", links={"pushed sales orders": "/_control/saved"},
        env={"ZHONGSHU_ERP_URL": "{url}", "ZHONGSHU_ERP_APP_ID": "zs-erp", "ZHONGSHU_ERP_APP_SECRET": "zs-erp-secret",
             "ZHONGSHU_ERP_IMAGES_URL": "{url}"},  # and its item image library (pick instructions)
        overridable=("ZHONGSHU_ERP_URL",),
    ),
    FakeServer(
        name="fake-miniprogram", label="fake mini-program shop backend", app="fakes.miniprogram:create_app",
        offset=14, health_path="/healthz", links={"state": "/_control/state"},
        env={"ZHONGSHU_FAKE_MINIPROGRAM_URL": "{url}", "ZHONGSHU_MINIPROGRAM_URL": "{url}"},
        overridable=("ZHONGSHU_MINIPROGRAM_URL",),
    ),
    # after the warehouse (issue 6): carriers push tracking to our API on autopilot
    FakeServer(
        name="fake-carriers", label="fake carriers SF/ZTO/JD/DEBANG (电子面单+轨迹)", app="fakes.carriers:create_app_from_env",
        offset=1, health_path="/control/state", links={"waybills": "/control/waybills", "pushes": "/control/pushes"},
        env={"ZHONGSHU_CARRIER_URL": "{url}"}, overridable=("ZHONGSHU_CARRIER_URL",),
    ),
    FakeServer(
        name="fake-technician", label="fake installation technician app", app="fakes.technician:create_app", offset=15,
        health_path="/healthz", links={"work orders": "/_control/work-orders"},
        env={"ZHONGSHU_TECHNICIAN_URL": "{url}"}, overridable=("ZHONGSHU_TECHNICIAN_URL",),
    ),
    FakeServer(
        name="fake-supplier", label="fake supplier warehouses (博世区域仓)", app="fakes.supplier:create_app", offset=16,
        health_path="/healthz", links={"reservations": "/_control/reservations"},
        env={"ZHONGSHU_SUPPLIER_URL": "{url}"}, overridable=("ZHONGSHU_SUPPLIER_URL",),
    ),
]


@dataclass
class StartedFake:
    fake: FakeServer
    url: str
    wired: bool  # False when the user configured the real service instead


def fake_ports(settings: Settings, base_port: int | None = None) -> list[int]:
    base = base_port or fakes_base_port()
    return [base + f.offset for f in FAKES]


def start_fakes(sup: Supervisor, settings: Settings, on_ready=None, base_port: int | None = None,
                ) -> tuple[dict[str, str], list[StartedFake]]:
    """Start each fake as a child process (from ``base_port``, default ZHONGSHU_FAKES_BASE_PORT); return
    (env for the worker/API, what was started)."""
    base = base_port or fakes_base_port()
    env: dict[str, str] = {}
    started: list[StartedFake] = []
    configured = {"ZHONGSHU_WECOM_WEBHOOK_URL": settings.wecom_webhook_url, "ZHONGSHU_TMALL_URL": settings.tmall_url,
                  "ZHONGSHU_DOUYIN_APP_SECRET": settings.douyin_app_secret, "ZHONGSHU_ERP_URL": settings.erp_url,
                  "ZHONGSHU_DOUYIN_API_URL": settings.douyin_api_url}
    configured["ZHONGSHU_SETTLEMENT_URL"] = settings.settlement_url  # issue 7
    configured.update({"ZHONGSHU_MINIPROGRAM_URL": settings.miniprogram_url, "ZHONGSHU_CARRIER_URL": settings.carrier_url,
                       "ZHONGSHU_TECHNICIAN_URL": settings.technician_url, "ZHONGSHU_SUPPLIER_URL": settings.supplier_url})
    launched = []
    for fake in FAKES:  # all at once: each is a python + uvicorn start of a second or two
        port = base + fake.offset
        url = f"http://127.0.0.1:{port}"
        child = sup.launch(
            Child(fake.name, [sys.executable, "-m", "uvicorn", fake.app, "--factory", "--host", "127.0.0.1",
                              "--port", str(port), "--log-level", "warning"],
                  ready_url=url + fake.health_path, stop_last=True),
        )
        launched.append((fake, url, child))
    for fake, url, child in launched:
        took = sup.wait_ready(child, timeout=60)
        wired = not any(configured.get(k) for k in fake.overridable)
        if wired:
            env.update({k: v.replace("{url}", url) for k, v in fake.env.items()})
        started.append(StartedFake(fake, url, wired))
        if on_ready:
            on_ready(fake.label, took)
    return env, started
