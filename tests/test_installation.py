"""Installation appointments: kit lines, the delivery ETA, the work-order request and the customer's
notice (pure), and the ``book_installation`` activity against the shipped fake technician app over
real HTTP — slots after the ETA, idempotency on the order, 4xx not retried, 5xx retried by
Temporal on a real worker (time-skipping server)."""

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

    from activities.installation import InstallationActivities
    from domain.installation import (
        KIT_NOTE,
        Appointment,
        InstallationRequest,
        InstallLine,
        appointment_notice,
        delivery_eta,
        installation_kit_lines,
        installation_request_for,
        needs_installation,
        with_installation_kits,
    )
    from domain.order import Channel, CleanLine, CleanOrder, ResolvedAddress
    from domain.warehouse import CN_TZ, WaveLine, WaveOrder
    from fakes.serve import serve_in_thread
    from fakes.technician import create_app


def cn(*args) -> datetime:
    return datetime(*args, tzinfo=CN_TZ)


def cl(no: int, sku: str, category: str, qty: int = 1, install: bool = True, name: str = "博世刹车片(前)") -> CleanLine:
    return CleanLine(line_no=no, sku=sku, name=name, category=category, quantity=qty, unit_price=Decimal("268.00"),
                     needs_installation=install, vehicle_model="TOYOTA_COROLLA_2018")


def clean_order(lines: list[CleanLine], resolved: bool = True) -> CleanOrder:
    address = ResolvedAddress(province="浙江省", city="杭州市", district="西湖区", adcode="330106", detail="文三路90号",
                              text="浙江省杭州市西湖区文三路90号") if resolved else None
    return CleanOrder(
        order_id=f"order-manual-{uuid.uuid4().hex[:8]}", channel=Channel.MANUAL, channel_order_id="x",
        ordered_at=datetime(2026, 11, 27, 2, tzinfo=UTC), customer_id="C1", customer_name="王芳",
        phone="+8613812345678", address_raw="杭州西湖区文三路90号", address=address, lines=lines, coupon=None,
        freight=Decimal("0"), paid_amount=Decimal("0"), note="",
    )


# ---------------------------------------------------------------- pure


def test_one_kit_per_installed_line_by_category():
    order = clean_order([cl(1, "BOSCH-BP-COROLLA18", "刹车片", qty=2), cl(2, "BOSCH-BP-SYLPHY20", "刹车片"),
                         cl(3, "MICHELIN-205-55R16", "轮胎", qty=4), cl(4, "MANN-OF-W712", "机油滤清器", install=False)])
    kits = installation_kit_lines(order)
    assert [(k.sku, k.quantity, k.name) for k in kits] == [
        ("KIT-BRAKE_PADS", 2, "安装套件(刹车片)"), ("KIT-TYRE", 1, "安装套件(轮胎)")]
    assert all(k.note == KIT_NOTE for k in kits)
    assert needs_installation(order)
    assert installation_kit_lines(clean_order([cl(1, "MANN-OF-W712", "机油滤清器", install=False)])) == []


def test_kits_join_the_wave_order():
    order = clean_order([cl(1, "BOSCH-BP-COROLLA18", "刹车片", qty=2)])
    wave = WaveOrder(order_id=order.order_id, warehouse="HZ-DIRECT", carrier="SF", ordered_at=order.ordered_at,
                     lines=[WaveLine(sku="BOSCH-BP-COROLLA18", name="博世刹车片(前)", category="刹车片", quantity=2)])
    got = with_installation_kits(wave, order)
    assert [ln.sku for ln in got.lines] == ["BOSCH-BP-COROLLA18", "KIT-BRAKE_PADS"]
    assert got.note == KIT_NOTE
    assert with_installation_kits(got, order) is got  # kits already there: unchanged
    plain = clean_order([cl(1, "MANN-OF-W712", "机油滤清器", install=False)])
    assert with_installation_kits(wave, plain) is wave


@pytest.mark.parametrize("carrier,province,days", [
    ("SF", "浙江省", 1), ("JD", "浙江省", 1), ("ZTO", "浙江省", 2), ("DEBANG", "浙江省", 3),
    ("SF", "四川省", 2), ("ZTO", "四川省", 3), ("DEBANG", "北京市", 4), ("YTO", "浙江省", 3), ("zto", None, 2),
])
def test_delivery_eta_table(carrier, province, days):
    shipped = cn(2026, 11, 27, 17, 30)
    eta = delivery_eta(carrier, shipped, province)
    assert eta.tzinfo is not None
    assert eta.astimezone(CN_TZ) == cn(2026, 11, 27, 12, 0) + timedelta(days=days)


def test_delivery_eta_counts_beijing_days_and_needs_a_timezone():
    # 23:30 UTC on the 27th is already the 28th in Beijing
    eta = delivery_eta("SF", datetime(2026, 11, 27, 23, 30, tzinfo=UTC), "浙江省")
    assert eta.astimezone(CN_TZ) == cn(2026, 11, 29, 12, 0)
    with pytest.raises(ValueError, match="timezone"):
        delivery_eta("SF", datetime(2026, 11, 27, 10), "浙江省")


def test_installation_request_for_an_order():
    order = clean_order([cl(1, "BOSCH-BP-COROLLA18", "刹车片", qty=2), cl(2, "MANN-OF-W712", "机油滤清器", install=False)])
    req = installation_request_for(order, cn(2026, 11, 29, 12))
    assert req is not None and [(ln.sku, ln.quantity) for ln in req.lines] == [("BOSCH-BP-COROLLA18", 2)]
    assert req.phone == "+8613812345678" and req.phone_masked == "+86138****5678"
    assert req.address == "浙江省杭州市西湖区文三路90号" and req.adcode == "330106"
    assert req.earliest == datetime(2026, 11, 29, 4, tzinfo=UTC)
    assert installation_request_for(clean_order([cl(1, "MANN-OF-W712", "机油滤清器", install=False)]), req.earliest) is None
    with pytest.raises(ValueError, match="address"):
        installation_request_for(clean_order([cl(1, "B", "刹车片")], resolved=False), req.earliest)


def test_appointment_notice_says_who_and_when():
    appt = Appointment(work_order_no="AZ2026112900001", technician_name="张伟", technician_phone="+8613812340001",
                       slot_start=cn(2026, 11, 29, 14), slot_end=cn(2026, 11, 29, 16), items=["博世刹车片(前)×2"])
    title, text = appointment_notice(appt, "order-tmall-1")
    assert title == "上门安装预约成功 · order-tmall-1"
    assert text.startswith("师傅张伟 (138-1234-0001) 将于 11月29日 14:00-16:00 上门安装博世刹车片(前)×2。")
    assert "AZ2026112900001" in text


# ---------------------------------------------------------------- the fake and the activity


@pytest.fixture(scope="module")
def technician():
    with serve_in_thread(create_app()) as srv:
        yield srv


@pytest.fixture
def fake(technician):
    httpx.post(f"{technician.url}/_control/reset", timeout=10).raise_for_status()
    return technician


def request(earliest: datetime, order_id: str | None = None) -> InstallationRequest:
    return InstallationRequest(order_id=order_id or f"order-manual-{uuid.uuid4().hex[:8]}", customer_name="王芳",
                               phone="+8613812345678", address="浙江省杭州市西湖区文三路90号", adcode="330106",
                               lines=[InstallLine(sku="BOSCH-BP-COROLLA18", name="博世刹车片(前)", quantity=2)],
                               earliest=earliest)


async def book(fake, req: InstallationRequest, **kw) -> Appointment:
    return await ActivityEnvironment().run(InstallationActivities(fake.url, **kw).book_installation, req)


async def test_booking_gets_a_technician_after_the_eta(fake):
    appt = await book(fake, request(cn(2026, 11, 29, 12)))
    assert appt.technician_name == "张伟" and appt.technician_phone.startswith("+86138")
    assert appt.slot_start.astimezone(CN_TZ) == cn(2026, 11, 29, 14)
    assert appt.slot_end - appt.slot_start == timedelta(hours=2)
    assert appt.items == ["博世刹车片(前)×2"]
    # the same slot goes to the next technician; an evening ETA books the next morning
    second = await book(fake, request(cn(2026, 11, 29, 12)))
    assert second.technician_name == "李强" and second.slot_start == appt.slot_start
    late = await book(fake, request(cn(2026, 11, 29, 17)))
    assert late.slot_start.astimezone(CN_TZ) == cn(2026, 11, 30, 9)


async def test_booking_is_idempotent_on_the_order(fake):
    req = request(cn(2026, 11, 29, 12))
    first = await book(fake, req)
    again = await book(fake, req)
    assert again == first
    listed = httpx.get(f"{fake.url}/_control/work-orders", params={"order_id": req.order_id}, timeout=10).json()
    assert listed["count"] == 1 and listed["items"][0]["work_order_no"] == first.work_order_no


async def test_refusals_are_not_retried(fake):
    with pytest.raises(ApplicationError) as err:
        await book(fake, request(cn(2026, 11, 29, 12)), token="wrong")
    assert err.value.non_retryable and "401" in str(err.value)
    with pytest.raises(ApplicationError) as err:
        await ActivityEnvironment().run(InstallationActivities("").book_installation, request(cn(2026, 11, 29, 12)))
    assert err.value.non_retryable and "ZHONGSHU_TECHNICIAN_URL" in str(err.value)


async def test_fake_names_the_bad_field(fake):
    resp = httpx.post(f"{fake.url}/v1/work-orders", headers={"Authorization": "Bearer zs-technician-token"},
                      json={"order_id": "o1", "customer_name": "王芳", "phone": "+8613812345678", "address": "x",
                            "lines": [], "earliest": "2026-11-29T12:00:00+08:00"}, timeout=10)
    assert resp.status_code == 422 and any(f.startswith("lines") for f in resp.json()["fields"])


async def test_5xx_is_retryable(fake):
    httpx.post(f"{fake.url}/_control/fail_next", params={"count": 1, "status": 502}, timeout=10)
    with pytest.raises(ApplicationError) as err:
        await book(fake, request(cn(2026, 11, 29, 12)))
    assert not err.value.non_retryable and "502" in str(err.value)


# ---------------------------------------------------------------- retries on a real worker


@workflow.defn(name="InstallationBookTest")
class InstallationBookTest:
    """Stands in for the order workflow's booking step: ETA from carrier and ship time, then book."""

    @workflow.run
    async def run(self, req: InstallationRequest) -> Appointment:
        earliest = delivery_eta("SF", req.earliest, "浙江省")  # here req.earliest carries the ship time
        return await workflow.execute_activity(
            "book_installation", req.model_copy(update={"earliest": earliest}), result_type=Appointment,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=5))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ts_env():
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_startup_timeout=timedelta(seconds=60),  # a busy 2-core machine: the default 5 s is not always enough
        data_converter=encrypted_data_converter(""), test_server_existing_path=temporal_test_server())
    yield env
    await env.shutdown()


async def test_temporal_retries_a_5xx_and_books_once(fake, ts_env):
    httpx.post(f"{fake.url}/_control/fail_next", params={"count": 2, "status": 503}, timeout=10)
    req = request(cn(2026, 11, 28, 16, 45))  # shipped SF at 16:45 on the 28th → at the customer on the 29th
    tq = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(ts_env.client, task_queue=tq, workflows=[InstallationBookTest],
                      activities=InstallationActivities(fake.url).all()):
        appt = await ts_env.client.execute_workflow(InstallationBookTest.run, req, id=f"inst-{req.order_id}",
                                                    task_queue=tq)
    assert appt.slot_start.astimezone(CN_TZ) == cn(2026, 11, 29, 14)
    state = httpx.get(f"{fake.url}/_control/state", timeout=10).json()
    assert state["injected_failures"] == 2 and state["work_orders"] == 1
