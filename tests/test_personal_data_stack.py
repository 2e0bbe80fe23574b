"""Personal data encrypted in Temporal, on the real stack (issue 13): a dev server with its Web UI, the
worker and the API as processes (`zhongshu worker`, uvicorn) in production mode with real codec keys,
PostgreSQL. An order with a known phone and address goes through; then the phone and the address are
found 0 times in its raw history (fetched by a client without the codec, and as the Temporal UI's HTTP
API serves it), in every file under the var dir (JSON logs, stderr logs, trace files). The codec
server decodes the very same payloads for a signed-in reviewer (bearer token or the console's session
cookie) and refuses no credential, a readonly and a device key; every attempt is in the audit log."""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.api.history.v1 import History
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from zhongshu_devtools.binaries import DEV_SERVER_SQLITE_ARGS, temporal_cli
from zhongshu_devtools.stack import codec_endpoint

from domain.policy import OrderWorkflowInput
from tests.support import free_port, fresh_pg_database, order_payload, pg_available, random_mobile
from workflows.search_attributes import ALL
from zhongshu.payload_codec import ENCODING, encrypted_data_converter, new_key
from zhongshu.settings import Settings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
KEY = "pd-service-key-0123456789"
READONLY, DEVICE = "pd-readonly-key", "pd-device-key"
PASSWORD = "pd-reviewer-password"
NAME = "钱多多"


class Secured:
    def __init__(self, **kw: Any):
        self.__dict__.update(kw)

    def api(self, key: str | None = KEY) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, headers={"X-API-Key": key} if key else {}, timeout=30)


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait(what: str, check, timeout: float = 90, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (httpx.HTTPError, OSError):
            value = None
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process ended ({proc.returncode}): {log.read_text()[-2000:] if log else ''}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not in {timeout:.0f} s {log.read_text()[-2000:] if log else ''}")
        time.sleep(0.3)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def secured(tmp_path_factory, fake_wecom) -> Iterator[Secured]:
    if not pg_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (.ci/run starts it)")
    tmp = tmp_path_factory.mktemp("personal-data")
    var = tmp / "var"
    (var / "logs").mkdir(parents=True)
    codec_keys = f"k2:{new_key()},k1:{new_key()}"
    api_port, ui_port = free_port(), free_port()
    settings = Settings(api_port=api_port, temporal_ui_port=ui_port)
    env_server = await WorkflowEnvironment.start_local(
        dev_server_startup_timeout=timedelta(seconds=60),  # a busy 2-core machine: the default 5 s is not always enough
        data_converter=encrypted_data_converter(codec_keys), dev_server_existing_path=temporal_cli(),
        search_attributes=ALL, ui=True, ui_port=ui_port, dev_server_log_level="error",
        dev_server_database_filename=str(tmp / "temporal.db"),
        dev_server_extra_args=["--ui-codec-endpoint", codec_endpoint(settings), *DEV_SERVER_SQLITE_ARGS])  # as `make up` points its UI
    address = env_server.client.service_client.config.target_host
    procs: list[subprocess.Popen] = []
    try:
        with fresh_pg_database("zs_personal") as url:
            env = {k: v for k, v in os.environ.items() if not k.startswith("ZHONGSHU_")}
            env.update(
                ZHONGSHU_DATABASE_URL=url, ZHONGSHU_TEMPORAL_ADDRESS=address, ZHONGSHU_TASK_QUEUE=f"pd-{uuid.uuid4().hex[:6]}",
                ZHONGSHU_VAR_DIR=str(var), ZHONGSHU_API_PORT=str(api_port), ZHONGSHU_TEMPORAL_UI_PORT=str(ui_port),
                ZHONGSHU_API_KEY=KEY, ZHONGSHU_EXTRA_API_KEYS=f"{READONLY}:readonly,{DEVICE}:device",
                ZHONGSHU_CODEC_KEYS=codec_keys, ZHONGSHU_DEV_MODE="0",  # production: no development secret at all
                ZHONGSHU_CARRIER_APP_SECRET="pd-carrier-secret", ZHONGSHU_CONFIRM_SECRET="pd-confirm-secret",
                # no WeCom robot: the review to-do (with the order's reason) is logged instead — masked
                ZHONGSHU_OTEL_EXPORTER="file", ZHONGSHU_WECOM_WEBHOOK_URL="",
                ZHONGSHU_FULFILMENT="false", ZHONGSHU_WORKER_METRICS_PORT="0", ZHONGSHU_LOG_LEVEL="DEBUG",
                PYTHONIOENCODING="utf-8")
            worker_log, api_log = var / "logs" / "worker.stderr.log", var / "logs" / "api.stderr.log"
            worker = _spawn([sys.executable, "-m", "zhongshu.cli", "worker"], env, worker_log)
            procs.append(worker)
            _wait("worker polling", lambda: "worker polling" in worker_log.read_text(encoding="utf-8"), proc=worker,
                  log=worker_log)
            api = _spawn([sys.executable, "-m", "uvicorn", "api.app:app_from_env", "--factory", "--host", "127.0.0.1",
                          "--port", str(api_port)], env, api_log)
            procs.append(api)
            api_url = f"http://127.0.0.1:{api_port}"
            _wait("API", lambda: httpx.get(f"{api_url}/healthz", timeout=2).status_code == 200, proc=api, log=api_log)

            phone = random_mobile()
            street = f"金城路{random.randint(100, 999)}号"
            payload = order_payload(ordered_at=(datetime.now(UTC) - timedelta(minutes=40)).isoformat(),
                                    address={"raw": f"杭州萧山区北干街道{street}"})
            payload["customer"].update(phone=phone, name=NAME)
            s = Secured(api_url=api_url, ui_url=f"http://127.0.0.1:{ui_port}", address=address, var=var,
                        phone=phone, street=street, codec_keys=codec_keys, env=env_server)
            with s.api() as http:
                r = http.post("/v1/orders", json=payload)
                assert r.status_code == 202, r.text
                s.order_id = r.json()["order_id"]
                # a second customer whose address does not resolve: held for an address review (a to-do)
                held = order_payload(address={"raw": f"火星基地{street}"})
                held["customer"].update(phone=random_mobile(), name=NAME)
                s.held_phone = held["customer"]["phone"]
                r = http.post("/v1/orders", json=held)
                assert r.status_code == 202, r.text
                s.held_id = r.json()["order_id"]
                _wait("order completed", lambda: http.get(f"/v1/orders/{s.order_id}").json().get("status") == "completed")
                _wait("address review", lambda: http.get("/v1/reviews", params={"order_id": s.held_id}).json()["total"])
                r = http.post("/v1/users", json={"username": "pd-reviewer", "role": "reviewer", "password": PASSWORD})
                assert r.status_code == 201, r.text
            s.token = httpx.post(f"{api_url}/v1/auth/login", json={"username": "pd-reviewer", "password": PASSWORD},
                                 timeout=30).json()["token"]
            yield s
            for p in procs:
                _stop(p)
    finally:
        for p in procs:
            _stop(p)
        await env_server.shutdown()


def _secrets(s: Secured) -> dict[str, bytes]:
    return {"phone": s.phone.encode(), "held phone": s.held_phone.encode(), "address": s.street.encode(),
            "name": NAME.encode()}


def _found(blob: bytes, s: Secured, which=("phone", "held phone", "address")) -> dict[str, int]:
    return {k: blob.count(v) for k, v in _secrets(s).items() if k in which and blob.count(v)}


def _strings(value: Any) -> Iterator[str]:
    """Every string of a JSON document, and what every base64 ``data`` field decodes to."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "data" and isinstance(v, str):
                try:
                    yield base64.b64decode(v, validate=True).decode("utf-8", "replace")
                except ValueError:
                    pass
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


async def test_the_raw_history_holds_no_phone_no_address_no_name(secured):
    s = secured
    plain = await Client.connect(s.address)  # no codec: what the Temporal server itself holds
    history = await plain.get_workflow_handle(s.order_id).fetch_history()
    raw = History(events=history.events).SerializeToString()
    assert raw.count(ENCODING) > 10, "its payloads are encrypted"
    assert _found(raw, s, which=("phone", "held phone", "address", "name")) == {}
    as_json = "\n".join(_strings(json.loads(history.to_json()))).encode()
    assert _found(as_json, s, which=("phone", "held phone", "address", "name")) == {}
    # the Temporal UI's HTTP API (no credentials): ciphertext only
    r = httpx.get(f"{s.ui_url}/api/v1/namespaces/default/workflows/{s.order_id}/history", timeout=30)
    assert r.status_code == 200 and r.json()["history"]["events"], r.text[:300]
    served = "\n".join(_strings(r.json())).encode()
    assert len(served) > 1000 and _found(served, s, which=("phone", "held phone", "address", "name")) == {}
    # the summary the UI lists (decoded with the codec) names the customer masked
    desc = await s.env.client.get_workflow_handle(s.order_id).describe()
    summary = await desc.static_summary()
    assert summary and "钱**" in summary and NAME not in summary  # search attributes: in the raw check above


def test_logs_and_traces_under_the_var_dir_hold_no_phone_and_no_address(secured):
    s = secured
    files = [p for p in s.var.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"worker.jsonl", "api.jsonl"} <= names and any(n.startswith("traces-") for n in names), names
    hits = {}
    for path in files:
        blob = path.read_bytes()
        texts = [blob]
        if path.suffix == ".jsonl":  # JSON may escape non-ASCII: compare what it says, not how it is written
            for line in blob.decode("utf-8", "replace").splitlines():
                try:
                    texts.append(json.dumps(json.loads(line), ensure_ascii=False).encode())
                except ValueError:
                    pass
        found = _found(b"\n".join(texts), s)
        if found:
            hits[str(path.relative_to(s.var))] = found
    assert hits == {}, f"personal data in plain text under the var dir: {hits}"
    records = [json.loads(line) for line in (s.var / "logs" / "worker.jsonl").read_text(encoding="utf-8").splitlines()]
    assert any(r.get("order_id") == s.order_id for r in records), "the worker's JSON logs are about these orders"
    # the held order's review to-do is logged (no WeCom robot here) with its reason's address masked
    todo = [r["message"] for r in records if r.get("order_id") == s.held_id and "to-do" in r["message"]]
    assert todo and "地址无法解析到区县: ***" in todo[0], todo


@pytest_asyncio.fixture(loop_scope="session")
async def encrypted(secured) -> dict[str, Any]:
    plain = await Client.connect(secured.address)
    history = await plain.get_workflow_handle(secured.order_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.input.payloads[0].metadata["encoding"] == ENCODING
    return json_format.MessageToDict(Payloads(payloads=list(started.input.payloads)))


def _decoded_input(body: dict[str, Any]) -> OrderWorkflowInput:
    payloads = json_format.ParseDict(body, Payloads()).payloads
    return pydantic_data_converter.payload_converter.from_payloads(list(payloads), [OrderWorkflowInput])[0]


def test_the_codec_server_decodes_for_a_signed_in_reviewer_only(secured, encrypted):
    s = secured
    url = f"{s.api_url}/v1/codec/decode"
    headers = {"X-Namespace": "default"}
    bearer = httpx.post(url, json=encrypted, headers=headers | {"Authorization": f"Bearer {s.token}"}, timeout=30)
    assert bearer.status_code == 200, bearer.text
    assert _decoded_input(bearer.json()).submission.customer.phone.endswith(s.phone[-8:])
    assert s.street in "\n".join(_strings(bearer.json()))
    cookie = httpx.post(url, json=encrypted, headers=headers, cookies={"zhongshu_session": s.token}, timeout=30)
    assert cookie.status_code == 200 and cookie.json() == bearer.json()

    refused = {
        "none": httpx.post(url, json=encrypted, headers=headers, timeout=30),
        "expired": httpx.post(url, json=encrypted, headers=headers | {"Authorization": "Bearer zsus-expired"}, timeout=30),
        "readonly": httpx.post(url, json=encrypted, headers=headers | {"X-API-Key": READONLY}, timeout=30),
        "device": httpx.post(url, json=encrypted, headers=headers | {"Authorization": f"Bearer {DEVICE}"}, timeout=30),
        "key in the cookie": httpx.post(url, json=encrypted, headers=headers, cookies={"zhongshu_session": DEVICE},
                                        timeout=30),
    }
    assert {k: r.status_code for k, r in refused.items()} == {
        "none": 401, "expired": 401, "readonly": 403, "device": 403, "key in the cookie": 401}
    assert all(s.phone not in r.text and s.street not in r.text for r in refused.values())
    other = httpx.post(url, json=encrypted, headers={"X-Namespace": "elsewhere", "Authorization": f"Bearer {s.token}"},
                       timeout=30)
    assert other.status_code == 400 and "default" in other.json()["detail"]

    expected = {("pd-reviewer", 200), ("anonymous", 401), ("key:readonly", 403), ("key:device", 403)}
    with s.api() as http:
        for _ in range(50):  # the audit row is written once the answer is out: a moment after it
            audit = http.get("/v1/audit", params={"action": "codec/decode", "limit": 50}).json()["items"]
            seen = sorted((a["actor"], a["status"]) for a in audit)
            if expected <= set(seen):
                break
            time.sleep(0.1)
    assert expected <= set(seen), seen
    assert any("namespace default" in (a.get("detail") or "") for a in audit if a["status"] == 200)


def test_the_codec_server_encodes_under_the_current_key_and_answers_cors_for_the_ui(secured, encrypted):
    s = secured
    auth = {"Authorization": f"Bearer {s.token}"}
    decoded = httpx.post(f"{s.api_url}/v1/codec/decode", json=encrypted, headers=auth, timeout=30).json()
    again = httpx.post(f"{s.api_url}/v1/codec/encode", json=decoded, headers=auth, timeout=30)
    assert again.status_code == 200, again.text
    [p] = again.json()["payloads"]
    assert base64.b64decode(p["metadata"]["encryption-key-id"]) == b"k2", "the first configured key encrypts"
    assert httpx.post(f"{s.api_url}/v1/codec/decode", json=again.json(), headers=auth, timeout=30).json() == decoded
    empty = httpx.post(f"{s.api_url}/v1/codec/decode", json={"payloads": []}, headers=auth, timeout=30)
    assert empty.status_code == 200 and empty.json() == {"payloads": []}
    bad = httpx.post(f"{s.api_url}/v1/codec/decode", json={"payloads": [{"data": "not base64!"}]}, headers=auth, timeout=30)
    assert bad.status_code == 422 and "payloads:" in bad.json()["detail"]
    forged = {"payloads": [{"metadata": {"encoding": base64.b64encode(ENCODING).decode(),
                                         "encryption-key-id": base64.b64encode(b"k0").decode()}, "data": "AAAA"}]}
    unknown = httpx.post(f"{s.api_url}/v1/codec/decode", json=forged, headers=auth, timeout=30)
    assert unknown.status_code == 422 and "'k0'" in unknown.json()["detail"]

    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"}
    ok = httpx.options(f"{s.api_url}/v1/codec/decode", headers=preflight | {"Origin": s.ui_url}, timeout=30)
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == s.ui_url
    assert ok.headers["access-control-allow-credentials"] == "true"
    evil = httpx.options(f"{s.api_url}/v1/codec/decode", headers=preflight | {"Origin": "http://evil.example"}, timeout=30)
    assert evil.status_code == 400 and "access-control-allow-origin" not in evil.headers
    elsewhere = httpx.get(f"{s.api_url}/healthz", headers={"Origin": s.ui_url}, timeout=30)
    assert "access-control-allow-origin" not in elsewhere.headers, "CORS for the codec paths only"
    # the embedded UI is pointed at this codec server
    ui = httpx.get(f"{s.ui_url}/api/v1/settings", timeout=30).json()
    assert ui["Codec"]["Endpoint"] == f"{s.api_url}/v1/codec"
