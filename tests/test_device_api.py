"""End to end on the floor: orders join their warehouse's wave, a device worker reading a serial
scanner (loop://) picks through the real API with the device key, the WaveWorkflow (time-skipping
server) decrements stock, raises the reprint-label task, and tells the orders when the wave is packed.
Plus the warehouse API's lists, pick lists and roles."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC

import httpx
import pytest
import pytest_asyncio
import serial
from temporalio.worker import Worker

from activities import warehouse as wh
from activities.warehouse import WarehouseActivities
from devices.backend import BackendRefused, HttpBackend
from devices.scanner import ScannerLink
from devices.voice import LogVoice
from devices.worker import DeviceWorker
from domain.warehouse import WavePolicy
from tests.support import ThreadedServer
from tests.test_wave_workflow import WaveTestOrder, far_cutoff, join, new_warehouse, until, wave_of, wave_order
from workflows.wave import WaveWorkflow

DEVICE_KEY, READ_KEY, SERVICE_KEY = "test-device-key", "test-ro-key", "test-svc-key"


@pytest.fixture(scope="module")
def engine(sqlite_session_url):
    from tests.test_warehouse_store import warehouse_engine

    return warehouse_engine(sqlite_session_url)


@pytest_asyncio.fixture
async def floor(ts_env, task_queue, engine, sqlite_session_url, fake_wecom, tmp_path):
    from api.app import create_app
    from zhongshu.settings import Settings

    settings = Settings(
        database_url=sqlite_session_url, temporal_address=ts_env.client.service_client.config.target_host,
        task_queue=task_queue, api_key=SERVICE_KEY, extra_api_keys=f"{DEVICE_KEY}:device,{READ_KEY}:readonly",
        var_dir=tmp_path, wecom_webhook_url=fake_wecom.webhook_url,
    )
    acts = WarehouseActivities(engine, wecom_webhook_url=fake_wecom.webhook_url)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[WaveWorkflow, WaveTestOrder],
                      activities=acts.all(), activity_executor=ThreadPoolExecutor(8)):
        with ThreadedServer(create_app(settings)) as api:
            yield ts_env, api.url


async def wait(pred, timeout: float = 15.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not await asyncio.to_thread(pred):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_device_picks_a_wave_through_the_api(floor, task_queue, engine, fake_wecom):
    env, url = floor
    warehouse = new_warehouse(engine)
    policy = WavePolicy(size=2, cutoffs=await far_cutoff(env))
    o1 = wave_order(warehouse, "dev1", lines=[("BOSCH-BP-COROLLA18", 3)])
    o2 = wave_order(warehouse, "dev2", lines=[("MANN-OF-W712", 2)])
    wave = wave_of(env, warehouse)
    h1 = await join(env, task_queue, o1, policy)
    await until(wave, lambda s: bool(s.open))
    h2 = await join(env, task_queue, o2, policy)
    (aw,) = (await until(wave, lambda s: bool(s.active))).active
    await wait(lambda: wh.get_wave(engine, aw.wave_id) is not None)

    http = httpx.Client(base_url=url, headers={"X-API-Key": READ_KEY}, timeout=10)
    waves = http.get("/v1/waves", params={"warehouse": warehouse, "open_only": True}).json()["items"]
    assert [w["wave_no"] for w in waves] == [aw.wave_no] and waves[0]["task_count"] == 2
    plist = http.get(f"/v1/waves/{aw.wave_id}/picklist.json").json()
    assert [(i["bin"], i["quantity"]) for i in plist["instructions"]] == [("A-01-02", 2), ("A-03-12", 3)]
    page = http.get(f"/v1/waves/{aw.wave_id}/picklist.html")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"] and "易碎品轻拿" in page.text
    assert http.post(f"/v1/warehouse/{warehouse}/claim", json={"device_id": "x"}).status_code == 403
    assert httpx.get(f"{url}/v1/waves").status_code == 401

    port = serial.serial_for_url("loop://", timeout=0.05)
    backend = HttpBackend(url, DEVICE_KEY, warehouse)
    device = DeviceWorker(ScannerLink("loop://", opener=lambda: port), backend, warehouse=warehouse,
                          device_id="MC33-01", picker="小张", voice=LogVoice(), idle_poll=0.1)
    stop = threading.Event()
    thread = threading.Thread(target=device.run, args=(stop,), daemon=True)
    thread.start()
    try:
        await wait(lambda: device.state.session is not None)
        assert device.state.session.task.bin == "A-01-02"  # walking order
        assert any(s.startswith(f"波次{aw.wave_no},目标库位A-01-02,数量2件") for s in device.voice.spoken)
        port.write(b"A-01-02\nMANN-OF-W712\nQTY:2\n")
        await wait(lambda: device.state.confirmed == 1 and device.state.session is not None)
        # second task: three bad labels → reprint task to the lead, then the new label
        port.write(b"A-03-11\nNOREAD\nA-03-10\n")
        await wait(lambda: device.state.reprints == 1 and not device.state.outbox)
        await wait(lambda: any(e["kind"] == "reprint_label" for e in wh.list_exceptions(engine, warehouse=warehouse)))
        port.write(b"LOC:A-03-12\n6909999999999\n6901234567890\n3\n")  # one wrong item on the way
        await wait(lambda: device.state.confirmed == 2 and not device.state.outbox)
    finally:
        stop.set()
        thread.join(5)

    expected = [{"picker": "小张", "mis_scans": 4, "picks": 2, "wrong_bin": 2, "unreadable": 1, "wrong_item": 1}]
    await wait(lambda: http.get("/v1/warehouse/pickers", params={"warehouse": warehouse}).json()["items"] == expected)
    stats = http.get("/v1/warehouse/pickers", params={"warehouse": warehouse}).json()["items"]
    assert stats == [{"picker": "小张", "mis_scans": 4, "picks": 2, "wrong_bin": 2, "unreadable": 1, "wrong_item": 1}]
    excs = http.get("/v1/warehouse/exceptions", params={"warehouse": warehouse, "state": "open"}).json()["items"]
    assert [e["kind"] for e in excs] == ["reprint_label"] and excs[0]["device_id"] == "MC33-01"
    await wait(lambda: any("补打标签" in str(m) and warehouse in str(m) for m in fake_wecom.messages()))

    packer = httpx.Client(base_url=url, headers={"X-API-Key": DEVICE_KEY}, timeout=10)
    r = await asyncio.to_thread(packer.post, f"/v1/waves/{aw.wave_id}/pack", json={"packer": "老李"})
    assert r.status_code == 200 and r.json()["state"] == "done"
    r1, r2 = await h1.result(), await h2.result()
    assert (r1.outcome, r2.outcome) == ("packed", "packed") and r1.wave_no == aw.wave_no
    stock = {(s.bin, s.sku): s.quantity for s in wh.stock_rows(engine, warehouse)}
    assert stock[("A-03-12", "BOSCH-BP-COROLLA18")] == 7 and stock[("A-01-02", "MANN-OF-W712")] == 48
    await until(wave, lambda s: not s.active)
    again = await asyncio.to_thread(packer.post, f"/v1/waves/{aw.wave_id}/pack", json={})
    assert again.status_code == 409 and "not open" in again.json()["detail"]  # done and gone
    with pytest.raises(BackendRefused, match="409"):
        await asyncio.to_thread(backend.confirm, plist_task(plist), 1, "MC33-01", "小张")
    backend.close()


def plist_task(plist):
    from domain.warehouse import PickTask

    i = plist["instructions"][0]
    return PickTask(task_id=i["task_id"], wave_id=plist["wave_id"], wave_no=plist["wave_no"], warehouse=plist["warehouse"],
                    seq=i["seq"], bin=i["bin"], sku=i["sku"], quantity=i["quantity"])


async def test_claim_without_a_wave_workflow_is_404(floor):
    _, url = floor
    r = await asyncio.to_thread(httpx.post, f"{url}/v1/warehouse/NOWHERE-{uuid.uuid4().hex[:4]}/claim",
                                json={"device_id": "MC33-09"}, headers={"X-API-Key": DEVICE_KEY})
    assert r.status_code == 404 and "no running wave workflow" in r.json()["detail"]


async def test_console_warehouse_page_shows_waves_states_and_exceptions(floor, engine, monkeypatch):
    from datetime import datetime
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from domain.warehouse import ExceptionKind, TaskState, WarehouseException
    from tests.test_warehouse_store import snapshot

    _, url = floor
    snap = snapshot(1, task_state=TaskState.QC_PENDING)
    warehouse = f"CON-{uuid.uuid4().hex[:4].upper()}"
    snap = snap.model_copy(update={"warehouse": warehouse, "wave_id": f"{warehouse}-20261126-07",
                                   "tasks": [t.model_copy(update={"warehouse": warehouse, "wave_id": f"{warehouse}-20261126-07",
                                                                  "task_id": f"{warehouse}-T1", "picker": "小张"}) for t in snap.tasks]})
    wh.project_wave(engine, snap)
    wh.WarehouseActivities(engine).record_warehouse_exception(WarehouseException(
        exception_id=f"WX-{warehouse}", kind=ExceptionKind.REPRINT_LABEL, warehouse=warehouse, bin="A-03-12",
        picker="小张", device_id="MC33-01", reason="库位A-03-12标签连续3次无法识别或不符,请补打", created_at=datetime.now(UTC)))
    wh.record_scan_event(engine, wh.ScanEventIn(event_id=f"{warehouse}-e1", warehouse=warehouse, picker="小张",
                                                device_id="MC33-01", kind="wrong_item"))
    monkeypatch.setenv("ZHONGSHU_CONSOLE_API_URL", url)
    from tests.console_support import SESSION_KEY, console_session

    app = str(Path(__file__).resolve().parent.parent / "console" / "app.py")
    at = AppTest.from_file(app, default_timeout=30)
    at.session_state[SESSION_KEY] = console_session(url, SERVICE_KEY, "warehouse_lead")
    at.run()
    at.switch_page("pages_/warehouse.py").run()
    at.text_input(key="wh_warehouse").set_value(warehouse).run()
    assert not at.exception, [e.value for e in at.exception]
    text = " ".join(m.value for m in at.markdown)
    assert "波次 B26-07" in text and "红色齿轮" in text and "蓝色货架" in text
    assert any("(满单截单)" in c.value for c in at.caption), "the close reason in Chinese, not its code"
    assert any("待质检 1" in p.proto.text for p in at.get("progress"))
    frames = [d.value for d in at.dataframe]
    held = next(f for f in frames if "状态" in f.columns)
    assert list(held["状态"]) == ["⚙️⚠️ 待质检"]
    exc = next(f for f in frames if "类型" in f.columns)
    assert list(exc["类型"]) == ["🏷️ 补打标签"]
    pick = next(f for f in frames if "误扫" in f.columns)
    assert pick.iloc[0]["商品错误"] == 1

    # the reprint-label task prints its label (one thermal label) and is resolved from the page
    at.button(key=f"make-reprint-WX-{warehouse}").click().run()
    assert not at.error, [e.value for e in at.error]
    import io

    from pypdf import PdfReader

    data, name = at.session_state[f"pdf-reprint-WX-{warehouse}"]
    assert name == "bin-label-A-03-12.pdf" and "A-03-12" in PdfReader(io.BytesIO(data)).pages[0].extract_text()
    at.button(key=f"resolve-WX-{warehouse}").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    import httpx

    left = httpx.get(f"{url}/v1/warehouse/exceptions", params={"warehouse": warehouse, "state": "open"},
                     headers={"X-API-Key": SERVICE_KEY}).json()["items"]
    assert left == []
    again = httpx.post(f"{url}/v1/warehouse/exceptions/WX-{warehouse}/resolve", headers={"X-API-Key": SERVICE_KEY})
    nobody = httpx.post(f"{url}/v1/warehouse/exceptions/WX-NO-SUCH/resolve", headers={"X-API-Key": SERVICE_KEY})
    assert again.status_code == 409 and "该异常已处理" in again.json()["detail"]
    assert nobody.status_code == 404 and "仓库异常不存在" in nobody.json()["detail"]  # not "already resolved"
