"""Logistics: signature, waybill requests from an order, the shipment's pure helpers, the fake
carriers' idempotency, the create_waybill activity over real HTTP, the read-model columns and the
health index's signed-within-48h fact (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.logistics import CarrierUnavailable, LogisticsActivities, get_waybill, record_waybill
from domain.cleansing import cleanse
from domain.logistics import (
    CarrierCode,
    Shipment,
    TrackingCode,
    TrackingEvent,
    Waybill,
    WaybillError,
    WaybillRequest,
    check_signature,
    sign,
    signed_headers,
    valid_waybill_no,
    verify,
    waybill_request_for,
)
from domain.order import OrderSubmission
from domain.state import OrderState
from domain.status import OrderStatus
from fakes import carriers as fake
from fakes.serve import serve_in_thread
from store import metrics, read_model
from store.db import engine_for
from tests.support import order_payload

UTC = UTC


# ---------------------------------------------------------------- signature


def test_sign_and_verify_round_trip():
    body = json.dumps({"运单": "SF1"}, ensure_ascii=False).encode()
    ts = "1764208800"
    s = sign("sec", "zhongshu", ts, body)
    assert len(s) == 64 and s == sign("sec", "zhongshu", int(ts), body)
    assert verify("sec", "zhongshu", ts, body, s, now=1764208800 + 10)
    assert verify("sec", "zhongshu", ts, body, s.upper(), now=1764208800)
    assert not verify("other", "zhongshu", ts, body, s, now=1764208800)
    assert not verify("sec", "other-key", ts, body, s, now=1764208800)
    assert not verify("sec", "zhongshu", ts, body + b" ", s, now=1764208800)
    assert not verify("sec", "zhongshu", ts, body, None, now=1764208800)


def test_stale_or_missing_timestamp_is_refused_with_a_reason():
    body = b"{}"
    ts = "1764208800"
    s = sign("sec", "k", ts, body)
    assert "stale" in check_signature("sec", "k", ts, body, s, now=1764208800 + 301)
    assert "stale" in check_signature("sec", "k", ts, body, s, now=1764208800 - 301)  # from the future, too
    assert check_signature("sec", "k", ts, body, s, now=1764208800 + 299) is None
    assert "Timestamp" in check_signature("sec", "k", None, body, s)
    assert "Timestamp" in check_signature("sec", "k", "yesterday", body, s)
    assert "not configured" in check_signature("", "k", ts, body, s)


def test_signed_headers_verify_now():
    body = b'{"a": 1}'
    h = signed_headers("sec", "k", body)
    assert verify("sec", h["X-Carrier-AppKey"], h["X-Carrier-Timestamp"], body, h["X-Carrier-Sign"])


# ---------------------------------------------------------------- waybill request from an order


def order_state(carrier: str | None = "ZTO", warehouse: str | None = "HZ-CLOUD", **payload) -> OrderState:
    sub = OrderSubmission.model_validate(order_payload(**payload))
    clean = cleanse(sub)
    assert clean.ok, clean.errors
    now = datetime.now(UTC)
    return OrderState(order_id=sub.order_id, status=OrderStatus.PACKED, submission=sub, order=clean.order,
                      warehouse=warehouse, carrier=carrier, created_at=now, updated_at=now)


def test_waybill_request_for_a_realistic_order():
    lines = [
        {"sku": "BOSCH-BP-COROLLA18", "name": "博世刹车片(前)", "category": "刹车片", "quantity": 2,
         "unit_price": "268.00", "vehicle_model": "卡罗拉18款", "weight_kg": "1.250"},
        {"sku": "FILTER-OIL-01", "name": "机油滤清器", "category": "机油滤清器", "quantity": 3, "unit_price": "35.50"},
    ]
    st = order_state(lines=lines, paid_amount="642.50")
    req = waybill_request_for(st)
    assert req.order_id == st.order_id and req.carrier == CarrierCode.ZTO and req.direction == "outbound"
    assert req.sender.name.startswith("杭州云仓") and req.sender.address.startswith("浙江省杭州市")
    assert req.receiver.name == "王建国" and req.receiver.phone.startswith("+86")
    assert req.receiver.address.startswith("浙江省杭州市萧山区")  # the full official form, never '杭州萧山区'
    assert req.receiver.adcode == "330109"
    assert req.weight_kg == Decimal("2.500")  # 2 × 1.25; the filter has no weight
    assert req.declared_value == Decimal("642.50")
    assert "博世刹车片(前)×2" in req.items and "机油滤清器×3" in req.items
    ret = waybill_request_for(st, direction="return", order_id="as-" + st.order_id)
    assert ret.order_id.startswith("as-") and ret.sender == req.receiver and ret.receiver == req.sender


def test_waybill_request_defaults_and_clear_errors():
    st = order_state(carrier="sf", warehouse="GZ-DIRECT")
    with pytest.raises(WaybillError, match="warehouse.*GZ-DIRECT.*known: "):
        waybill_request_for(st)
    st = order_state(carrier="UPS")
    with pytest.raises(WaybillError, match="carrier.*unknown carrier 'UPS'"):
        waybill_request_for(st)
    with pytest.raises(WaybillError, match="no carrier chosen"):
        waybill_request_for(order_state(carrier=None))
    req = waybill_request_for(order_state(carrier="sf", warehouse="GZ-CLOUD"))
    assert req.carrier == CarrierCode.SF and req.weight_kg == Decimal("1.000")  # no weights: 1 kg
    assert req.sender.address.startswith("广东省广州市")


# ---------------------------------------------------------------- shipment helpers


def shipment(shipped_at: datetime) -> Shipment:
    wb = Waybill(order_id="order-x", carrier="SF", waybill_no="SF123456789012", created_at=shipped_at)
    return Shipment(waybill=wb, shipped_at=shipped_at)


def ev(event_id: str, code: str, at: datetime, waybill_no: str = "SF123456789012", **kw) -> TrackingEvent:
    return TrackingEvent(event_id=event_id, carrier="sf", waybill_no=waybill_no, order_id="order-x", code=code, at=at, **kw)


def test_shipment_applies_events_idempotently_and_delivers():
    t0 = datetime(2026, 11, 27, 10, tzinfo=UTC)
    s = shipment(t0)
    assert s.stalled_deadline(24) == t0 + timedelta(hours=24)
    assert s.apply(ev("e1", "collected", t0 + timedelta(hours=1)))
    assert not s.apply(ev("e1", "collected", t0 + timedelta(hours=1)))  # re-sent
    assert not s.apply(ev("x9", "collected", t0, waybill_no="SF999999999999"))  # another parcel
    assert s.apply(ev("e3", "out_for_delivery", t0 + timedelta(hours=20)))
    assert s.apply(ev("e2", "in_transit", t0 + timedelta(hours=5)))  # late arrival: sorted in
    assert [e.event_id for e in s.events] == ["e1", "e2", "e3"]
    assert s.last_event_at == t0 + timedelta(hours=20) and s.latest.code == TrackingCode.OUT_FOR_DELIVERY
    assert s.stalled_deadline(24) == t0 + timedelta(hours=44)
    assert not s.is_delivered and not s.signed_within_48h
    assert s.apply(ev("e4", "signed", t0 + timedelta(hours=30), location="杭州萧山"))
    assert s.is_delivered and s.delivered_at == t0 + timedelta(hours=30) and s.signed_within_48h
    assert s.stalled_deadline(24) is None


def test_signed_after_48h_and_alerts():
    t0 = datetime(2026, 11, 27, 10, tzinfo=UTC)
    s = shipment(t0)
    fail = ev("f1", "delivery_failed", t0 + timedelta(hours=30), location="萧山区网点", description="收件人电话无人接听")
    s.apply(fail)
    alert = s.alert_for(fail)
    assert alert.kind == "delivery_failed" and "派送失败" in alert.reason and "无人接听" in alert.reason
    assert s.alert_for(ev("c1", "collected", t0)) is None
    stall = s.stall_alert(t0 + timedelta(hours=54), 24)
    assert stall.kind == "stalled" and "24" in stall.reason and "派送失败" in stall.reason
    s.apply(ev("s1", "signed", t0 + timedelta(hours=49)))
    assert s.is_delivered and not s.signed_within_48h
    with pytest.raises(ValueError, match="timezone"):
        TrackingEvent(event_id="n", carrier="SF", waybill_no="x", order_id="o", code="signed", at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="unknown carrier"):
        TrackingEvent(event_id="n", carrier="EMS", waybill_no="x", order_id="o", code="signed", at=t0)


# ---------------------------------------------------------------- the fake carriers


@pytest.fixture(scope="module")
def carriers():
    srv = serve_in_thread(fake.create_app())
    yield srv
    srv.stop()


def req_for(carrier: str = "SF", order_id: str | None = None, weight: str = "2.5") -> WaybillRequest:
    return WaybillRequest(
        order_id=order_id or f"order-miniprogram-T{uuid.uuid4().hex[:10]}", carrier=carrier, warehouse="HZ-CLOUD",
        sender={"name": "杭州云仓", "phone": "0571-82805678", "address": "浙江省杭州市萧山区建设三路733号"},
        receiver={"name": "王建国", "phone": "+8613900001111", "address": "浙江省杭州市西湖区文三路90号", "adcode": "330106"},
        weight_kg=Decimal(weight), items="博世刹车片(前)×2", declared_value=Decimal("536.00"))


def post_waybill(url: str, req: WaybillRequest, secret: str = fake.SECRET) -> httpx.Response:
    body = json.dumps(req.model_dump(mode="json"), ensure_ascii=False).encode()
    return httpx.post(f"{url}/{req.carrier.value}/waybills", content=body,
                      headers=signed_headers(secret, fake.APP_KEY, body), timeout=10)


@pytest.mark.parametrize("carrier", ["SF", "ZTO", "JD", "DEBANG"])
def test_fake_carrier_same_order_id_is_one_waybill(carriers, carrier):
    req = req_for(carrier)
    a, b = post_waybill(carriers.url, req), post_waybill(carriers.url, req)
    assert a.status_code == b.status_code == 200, a.text
    assert a.json()["waybill_no"] == b.json()["waybill_no"]
    assert not a.json()["reused"] and b.json()["reused"]
    assert valid_waybill_no(carrier, a.json()["waybill_no"]), a.json()["waybill_no"]
    listed = httpx.get(f"{carriers.url}/control/waybills", params={"order_id": req.order_id}).json()
    assert listed["total"] == 1
    label = httpx.get(a.json()["label_url"])
    assert label.status_code == 200 and "王建国" in label.text and a.json()["waybill_no"] in label.text
    assert a.json()["label_zpl"].startswith("^XA")


def test_fake_carrier_checks_signature_and_body(carriers):
    r = post_waybill(carriers.url, req_for(), secret="wrong")
    assert r.status_code == 401 and "signature" in r.json()["message"]
    assert httpx.post(f"{carriers.url}/UPS/waybills", content=b"{}").status_code == 404
    body = b'{"order_id": "x"}'
    r = httpx.post(f"{carriers.url}/SF/waybills", content=body, headers=signed_headers(fake.SECRET, fake.APP_KEY, body))
    assert r.status_code == 400 and "carrier" in r.json()["message"]
    r = post_waybill(carriers.url, req_for("ZTO", weight="35"))
    assert r.status_code == 400 and "30kg" in r.json()["message"]


def test_fake_carrier_retry_after_injected_5xx_is_still_one_waybill(carriers):
    req = req_for("JD")
    httpx.post(f"{carriers.url}/control/fail_after_create", params={"count": 1})
    lost = post_waybill(carriers.url, req)
    assert lost.status_code == 503
    httpx.post(f"{carriers.url}/_control/fail_next", params={"count": 1, "status": 502})
    assert post_waybill(carriers.url, req).status_code == 502
    ok = post_waybill(carriers.url, req)
    assert ok.status_code == 200 and ok.json()["reused"]
    assert httpx.get(f"{carriers.url}/control/waybills", params={"order_id": req.order_id}).json()["total"] == 1


# ---------------------------------------------------------------- the activity over real HTTP


@pytest.fixture
def acts(carriers, db_url):
    return LogisticsActivities(engine_for(db_url), carriers.url, fake.APP_KEY, fake.SECRET)


async def test_create_waybill_records_once_and_retries_reuse(acts, carriers):
    env = ActivityEnvironment()
    req = req_for("SF")
    httpx.post(f"{carriers.url}/control/fail_after_create", params={"count": 1})
    with pytest.raises(CarrierUnavailable, match="503"):  # retryable: a plain exception
        await env.run(acts.create_waybill, req)
    wb = await env.run(acts.create_waybill, req)  # Temporal's retry
    assert valid_waybill_no("SF", wb.waybill_no) and wb.label_url and wb.label_zpl.startswith("^XA")
    calls = httpx.get(f"{carriers.url}/control/state").json()["create_calls"]
    again = await env.run(acts.create_waybill, req)  # a replayed activity: answered from our table
    assert again == wb
    assert httpx.get(f"{carriers.url}/control/state").json()["create_calls"] == calls
    assert httpx.get(f"{carriers.url}/control/waybills", params={"order_id": req.order_id}).json()["total"] == 1
    assert get_waybill(acts.engine, req.order_id) == wb
    # a second record of another number for the same order never replaces the first
    other = wb.model_copy(update={"waybill_no": "SF000000000001"})
    assert record_waybill(acts.engine, other) == wb


async def test_create_waybill_errors(acts, carriers):
    env = ActivityEnvironment()
    httpx.post(f"{carriers.url}/_control/fail_next", params={"count": 1, "status": 500})
    with pytest.raises(CarrierUnavailable, match="500"):
        await env.run(acts.create_waybill, req_for("ZTO"))
    with pytest.raises(ApplicationError, match="30kg") as refused:
        await env.run(acts.create_waybill, req_for("ZTO", weight="35"))
    assert refused.value.non_retryable and refused.value.type == "CarrierRefused"
    bad = LogisticsActivities(acts.engine, carriers.url, fake.APP_KEY, "wrong-secret")
    with pytest.raises(ApplicationError, match="signature") as unsigned:
        await env.run(bad.create_waybill, req_for("JD"))
    assert unsigned.value.non_retryable
    none = LogisticsActivities(acts.engine, "", fake.APP_KEY, fake.SECRET)
    with pytest.raises(ApplicationError, match=r"no carrier gateway configured \(ZHONGSHU_CARRIER_URL\)") as nc:
        await env.run(none.create_waybill, req_for("JD"))
    assert nc.value.non_retryable
    down = LogisticsActivities(acts.engine, "http://127.0.0.1:9", fake.APP_KEY, fake.SECRET, timeout=2)
    with pytest.raises(CarrierUnavailable, match="unreachable"):
        await env.run(down.create_waybill, req_for("JD"))


# ---------------------------------------------------------------- read model and health index


def shipped_state(ordered_at: datetime, signed_after: timedelta | None) -> OrderState:
    st = order_state(ordered_at=ordered_at.isoformat())
    shipped = ordered_at + timedelta(hours=3)
    wb = Waybill(order_id=st.order_id, carrier="ZTO", waybill_no=f"7{uuid.uuid4().int % 10**11:011d}",
                 created_at=shipped)
    s = Shipment(waybill=wb, shipped_at=shipped)
    if signed_after is not None:
        s.apply(TrackingEvent(event_id="s", carrier="ZTO", waybill_no=wb.waybill_no, order_id=st.order_id,
                              code="signed", at=shipped + signed_after))
    return st.model_copy(update={"shipment": s})


def test_read_model_projects_shipment_columns(engine):
    t = datetime.now(UTC) - timedelta(days=3)
    st = shipped_state(t, timedelta(hours=20))
    read_model.project_order(engine, st)
    row = read_model.get_order(engine, st.order_id)
    assert row["waybill_no"] == st.shipment.waybill.waybill_no
    assert row["shipped_at"] == st.shipment.shipped_at and row["delivered_at"] == st.shipment.delivered_at
    plain = order_state()  # no shipment yet (or an OrderState without the field)
    read_model.project_order(engine, plain)
    row = read_model.get_order(engine, plain.order_id)
    assert row["waybill_no"] is None and row["shipped_at"] is None and row["delivered_at"] is None


def test_health_index_signed_48h_is_fed_from_the_shipment(engine):
    day = datetime(2026, 11, 20, 2, tzinfo=UTC)
    for signed in (timedelta(hours=20), timedelta(hours=47), timedelta(hours=60), None):
        read_model.project_order(engine, shipped_state(day, signed))
    read_model.project_order(engine, order_state(ordered_at=day.isoformat()))  # not shipped
    h = metrics.health(engine, day - timedelta(hours=1), day + timedelta(hours=1), as_of=day + timedelta(days=5))
    assert h["counts"]["shipped"] == 4 and h["counts"]["signed_48h"] == 2
    term = h["timeliness"]["terms"]["signed_within_48h"]
    assert (term["numerator"], term["denominator"], term["value"]) == (2, 4, 0.5)
    assert h["counts"]["shipped_on_time"] == 4  # shipped 3 h after the order, inside the 24 h SLA


def test_migration_0007_matches_the_schema_and_downgrades(tmp_path):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from store.db import MIGRATIONS
    from store.schema import metadata

    url = f"sqlite:///{tmp_path / 'm.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["engine"] = engine_for(url)
    command.upgrade(cfg, "head")
    insp = inspect(engine_for(url))
    for name in ("waybills", "tracking_events", "orders"):
        assert {c["name"] for c in insp.get_columns(name)} == {c.name for c in metadata.tables[name].columns}, name
    command.downgrade(cfg, "0005")  # through 0007's downgrade (the warehouse migration test does this too)
    insp = inspect(engine_for(url))
    assert not {"waybills", "tracking_events"} & set(insp.get_table_names())
    assert "waybill_no" not in {c["name"] for c in insp.get_columns("orders")}
    command.upgrade(cfg, "head")
    assert "delivered_at" in {c["name"] for c in inspect(engine_for(url)).get_columns("orders")}


def test_events_of_reshipped_and_return_parcels_find_their_workflow():
    from domain.logistics import reship_key, workflow_id_of

    assert workflow_id_of("order-tmall-TB1") == "order-tmall-TB1"
    assert workflow_id_of(reship_key("order-tmall-TB1", 2)) == "order-tmall-TB1"  # a re-shipped parcel: the order
    assert workflow_id_of("order-tmall-TB1~AS1") == "order-tmall-TB1~AS1"  # a return parcel: its aftersales case
