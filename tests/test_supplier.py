"""Supplier reservation: the pure rules (candidates, requests, outcome) and the
``reserve_supplier_stock`` activity against the shipped fake supplier over real HTTP — fallback to
the next regional warehouse, partial fallback, nothing anywhere → review, idempotency, and 5xx
retried by Temporal on a real worker (time-skipping server)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import pytest_asyncio
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from zhongshu.payload_codec import encrypted_data_converter

with workflow.unsafe.imports_passed_through():
    import httpx
    from zhongshu_devtools.binaries import temporal_test_server

    from activities.supplier import SupplierActivities
    from domain.order import Channel, CleanLine, CleanOrder, ResolvedAddress
    from domain.supplier import (
        ReservationLine,
        ReservationOutcome,
        ReservationRequest,
        candidates_for,
        reservation_requests,
    )
    from fakes.serve import serve_in_thread
    from fakes.supplier import create_app

CONFIGURED = "BOSCH-EAST,BOSCH-NORTH"


# ---------------------------------------------------------------- pure


def clean_order(lines: list[CleanLine], province: str = "浙江省") -> CleanOrder:
    return CleanOrder(
        order_id=f"order-manual-{uuid.uuid4().hex[:8]}", channel=Channel.MANUAL, channel_order_id="x",
        ordered_at=datetime(2026, 11, 27, 2, tzinfo=UTC), customer_id="C1", customer_name="王芳",
        phone="+8613812345678", address_raw="杭州西湖区文三路90号",
        address=ResolvedAddress(province=province, city="杭州市", district="西湖区", adcode="330106",
                                detail="文三路90号", text=f"{province}杭州市西湖区文三路90号"),
        lines=lines, coupon=None, freight=Decimal("0"), paid_amount=Decimal("0"), note="",
    )


def cl(no: int, sku: str, qty: int, supplier: str | None = "BOSCH", name: str = "博世刹车片(前)") -> CleanLine:
    return CleanLine(line_no=no, sku=sku, name=name, category="刹车片", quantity=qty, unit_price=Decimal("268.00"),
                     supplier=supplier)


def test_candidates_are_the_suppliers_configured_warehouses_in_order():
    assert candidates_for("BOSCH", CONFIGURED) == ["BOSCH-EAST", "BOSCH-NORTH"]
    assert candidates_for("bosch", ["BOSCH-NORTH", " bosch-east ", "DENSO-EAST"]) == ["BOSCH-NORTH", "BOSCH-EAST"]
    assert candidates_for("DENSO", CONFIGURED) == []
    assert candidates_for("BOS", CONFIGURED) == []  # a prefix of the code is not the supplier
    assert candidates_for("", CONFIGURED) == []


def test_requests_group_lines_by_supplier_and_sum_skus():
    order = clean_order([cl(1, "BOSCH-BP-COROLLA18", 2), cl(2, "MANN-OF-W712", 1, supplier=None),
                         cl(3, "BOSCH-BP-COROLLA18", 1), cl(4, "DENSO-SP-K20", 4, supplier="denso")])
    reqs = reservation_requests(order, CONFIGURED)
    assert [(r.supplier, r.candidates) for r in reqs] == [("BOSCH", ["BOSCH-EAST", "BOSCH-NORTH"]), ("DENSO", [])]
    assert [(ln.sku, ln.quantity) for ln in reqs[0].lines] == [("BOSCH-BP-COROLLA18", 3)]
    assert reqs[0].province == "浙江省" and reqs[0].order_id == order.order_id
    assert reservation_requests(clean_order([cl(1, "MANN-OF-W712", 1, supplier=None)]), CONFIGURED) == []


def test_outcome_needs_review_only_when_a_line_is_left():
    assert not ReservationOutcome(order_id="o").needs_review
    assert ReservationOutcome(order_id="o").expected_arrival is None
    assert ReservationOutcome(order_id="o").summary() == "无需预留"


# ---------------------------------------------------------------- the fake and the activity


@pytest.fixture(scope="module")
def supplier():
    app = create_app()
    with serve_in_thread(app) as srv:
        srv.state = app.state.supplier
        yield srv


@pytest.fixture
def fake(supplier):
    httpx.post(f"{supplier.url}/_control/reset", timeout=10).raise_for_status()
    return supplier


def set_stock(fake, warehouse: str, sku: str, qty: int) -> None:
    httpx.post(f"{fake.url}/_control/stock", json={"warehouse": warehouse, "sku": sku, "quantity": qty},
               timeout=10).raise_for_status()


def stock(fake, warehouse: str, sku: str) -> int:
    return httpx.get(f"{fake.url}/_control/stock", timeout=10).json()[warehouse]["stock"].get(sku, 0)


def request(*lines: tuple[str, int], candidates=("BOSCH-EAST", "BOSCH-NORTH"), province="浙江省") -> ReservationRequest:
    return ReservationRequest(order_id=f"order-manual-{uuid.uuid4().hex[:8]}", supplier="BOSCH", province=province,
                              lines=[ReservationLine(sku=s, name=s, quantity=q) for s, q in lines],
                              candidates=list(candidates))


async def reserve(fake, req: ReservationRequest, **kw) -> ReservationOutcome:
    return await ActivityEnvironment().run(SupplierActivities(fake.url, **kw).reserve_supplier_stock, req)


async def test_first_warehouse_reserves_everything(fake):
    before = stock(fake, "BOSCH-EAST", "BOSCH-BP-COROLLA18")
    req = request(("BOSCH-BP-COROLLA18", 4), ("BOSCH-WIPER-24", 2))
    out = await reserve(fake, req)
    assert not out.needs_review and len(out.reservations) == 1
    r = out.reservations[0]
    assert r.supplier_warehouse == "BOSCH-EAST" and r.reservation_no.startswith("RSV-BOSCH-EAST-")
    assert {(ln.sku, ln.quantity) for ln in r.lines} == {("BOSCH-BP-COROLLA18", 4), ("BOSCH-WIPER-24", 2)}
    # 浙江 is the east warehouse's own region: next day
    lead = r.expected_arrival - datetime.now(UTC)
    assert timedelta(hours=23) < lead <= timedelta(days=1)
    assert out.expected_arrival == r.expected_arrival
    assert stock(fake, "BOSCH-EAST", "BOSCH-BP-COROLLA18") == before - 4
    assert "BOSCH-EAST 预留 RSV-" in out.summary()


async def test_reserving_again_is_idempotent(fake):
    req = request(("BOSCH-BP-SYLPHY20", 3))
    first = await reserve(fake, req)
    left = stock(fake, "BOSCH-EAST", "BOSCH-BP-SYLPHY20")
    again = await reserve(fake, req)
    assert again.reservations[0].reservation_no == first.reservations[0].reservation_no
    assert stock(fake, "BOSCH-EAST", "BOSCH-BP-SYLPHY20") == left  # held once
    listed = httpx.get(f"{fake.url}/_control/reservations", params={"order_id": req.order_id}, timeout=10).json()
    assert listed["count"] == 1


async def test_out_of_stock_falls_back_to_the_next_warehouse(fake):
    set_stock(fake, "BOSCH-EAST", "BOSCH-BP-COROLLA18", 1)
    out = await reserve(fake, request(("BOSCH-BP-COROLLA18", 4), province="北京市"))
    assert not out.needs_review
    assert [r.supplier_warehouse for r in out.reservations] == ["BOSCH-NORTH"]
    assert stock(fake, "BOSCH-EAST", "BOSCH-BP-COROLLA18") == 1  # the 409 held nothing
    lead = out.expected_arrival - datetime.now(UTC)
    assert lead <= timedelta(days=1)  # 北京 is the north warehouse's region


async def test_partial_fallback_keeps_what_the_first_warehouse_has(fake):
    set_stock(fake, "BOSCH-EAST", "BOSCH-BP-CAMRY19", 0)
    out = await reserve(fake, request(("BOSCH-BP-CAMRY19", 2), ("BOSCH-WIPER-24", 1)))
    assert not out.needs_review
    got = {r.supplier_warehouse: {ln.sku for ln in r.lines} for r in out.reservations}
    assert got == {"BOSCH-EAST": {"BOSCH-WIPER-24"}, "BOSCH-NORTH": {"BOSCH-BP-CAMRY19"}}
    # the north warehouse is 2 days from 浙江; the order's arrival is the later one
    assert out.expected_arrival == max(r.expected_arrival for r in out.reservations)
    assert out.expected_arrival - datetime.now(UTC) > timedelta(days=1, hours=23)


async def test_nothing_anywhere_needs_review_with_reasons(fake):
    set_stock(fake, "BOSCH-EAST", "BOSCH-BD-LAVIDA19", 3)  # the north warehouse does not carry it at all
    out = await reserve(fake, request(("BOSCH-BD-LAVIDA19", 5), ("BOSCH-SP-FR7", 2)))
    assert out.needs_review
    assert [r.supplier_warehouse for r in out.reservations] == ["BOSCH-EAST"]  # the spark plugs are held
    [failed] = out.failed
    assert failed.sku == "BOSCH-BD-LAVIDA19" and failed.quantity == 5
    assert failed.reasons == ["BOSCH-EAST: 库存不足 (有 3, 需 5)", "BOSCH-NORTH: 库存不足 (有 0, 需 5)"]
    assert "未能预留" in out.summary()


async def test_no_configured_warehouse_and_unknown_warehouse(fake):
    out = await reserve(fake, request(("BOSCH-WIPER-24", 1), candidates=()))
    assert out.needs_review and "没有配置区域仓" in out.failed[0].reason
    out = await reserve(fake, request(("BOSCH-WIPER-24", 1), candidates=("BOSCH-WEST", "BOSCH-NORTH")))
    assert not out.needs_review and out.reservations[0].supplier_warehouse == "BOSCH-NORTH"


async def test_bad_key_and_missing_url_are_not_retried(fake):
    with pytest.raises(ApplicationError) as err:
        await reserve(fake, request(("BOSCH-WIPER-24", 1)), app_key="wrong")
    assert err.value.non_retryable and "401" in str(err.value)
    with pytest.raises(ApplicationError) as err:
        await ActivityEnvironment().run(SupplierActivities("").reserve_supplier_stock, request(("BOSCH-WIPER-24", 1)))
    assert err.value.non_retryable and "ZHONGSHU_SUPPLIER_URL" in str(err.value)


async def test_5xx_is_retryable(fake):
    httpx.post(f"{fake.url}/_control/fail_next", params={"count": 1, "status": 503}, timeout=10)
    with pytest.raises(ApplicationError) as err:
        await reserve(fake, request(("BOSCH-WIPER-24", 1)))
    assert not err.value.non_retryable and "503" in str(err.value)


async def test_release_gives_stock_back(fake):
    before = stock(fake, "BOSCH-EAST", "BOSCH-SP-FR7")
    out = await reserve(fake, request(("BOSCH-SP-FR7", 10)))
    assert stock(fake, "BOSCH-EAST", "BOSCH-SP-FR7") == before - 10
    acts = SupplierActivities(fake.url)
    await ActivityEnvironment().run(acts.release_supplier_stock, out.reservations[0])
    await ActivityEnvironment().run(acts.release_supplier_stock, out.reservations[0])  # twice is harmless
    assert stock(fake, "BOSCH-EAST", "BOSCH-SP-FR7") == before


# ---------------------------------------------------------------- retries on a real worker


@workflow.defn(name="SupplierReserveTest")
class SupplierReserveTest:
    @workflow.run
    async def run(self, req: ReservationRequest) -> ReservationOutcome:
        return await workflow.execute_activity(
            "reserve_supplier_stock", req, result_type=ReservationOutcome,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=5))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ts_env():
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_startup_timeout=timedelta(seconds=60),  # a busy 2-core machine: the default 5 s is not always enough
        data_converter=encrypted_data_converter(""), test_server_existing_path=temporal_test_server())
    yield env
    await env.shutdown()


async def test_temporal_retries_a_5xx_without_double_reserving(fake, ts_env):
    set_stock(fake, "BOSCH-EAST", "BOSCH-BP-COROLLA18", 0)
    before = stock(fake, "BOSCH-NORTH", "BOSCH-BP-COROLLA18")
    # 1st attempt: the east warehouse answers 503; 2nd: the lookup at east answers 502; 3rd goes through
    httpx.post(f"{fake.url}/_control/fail_next", params={"count": 2, "status": 503}, timeout=10)
    req = request(("BOSCH-BP-COROLLA18", 2), ("BOSCH-WIPER-24", 1))
    tq = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(ts_env.client, task_queue=tq, workflows=[SupplierReserveTest],
                      activities=SupplierActivities(fake.url).all()):
        out = await ts_env.client.execute_workflow(SupplierReserveTest.run, req, id=f"sup-{req.order_id}",
                                                   task_queue=tq)
    assert not out.needs_review
    got = {r.supplier_warehouse: {ln.sku for ln in r.lines} for r in out.reservations}
    assert got == {"BOSCH-EAST": {"BOSCH-WIPER-24"}, "BOSCH-NORTH": {"BOSCH-BP-COROLLA18"}}
    assert stock(fake, "BOSCH-NORTH", "BOSCH-BP-COROLLA18") == before - 2
    assert httpx.get(f"{fake.url}/_control/state", timeout=10).json()["injected_failures"] == 2
