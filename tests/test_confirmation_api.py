"""The customer's confirmation page and routes over real HTTP, against a stand-in order workflow
on the time-skipping server.

``ConfirmStandIn`` implements what OrderWorkflow offers the routes — the ``state`` query and the
``confirm_address`` / ``change_address`` updates with the same names, payloads and ApplicationError
types — so the routes are tested before the order workflow's confirmation stage lands. Its confirm
handler uses ``domain.geo`` exactly as the workflow will (and proves the centroid table loads
inside the workflow sandbox)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import httpx
    import pytest_asyncio
    from pydantic import BaseModel
    from temporalio.worker import Worker

    from domain import geo
    from domain.cleansing import cleanse
    from domain.confirmation import AddressChange, AddressConfirmation, ConfirmationResult, make_token
    from domain.contracts.order import OrderRecord, OrderView
    from domain.order import OrderSubmission
    from domain.order_view import order_view
    from domain.state import OrderState
    from domain.status import OrderStatus
    from tests.support import ThreadedServer

SECRET = "api-test-confirm-secret"
SERVICE_KEY = "confirm-svc-key"
READ_KEY = "confirm-ro-key"
DISPATCHED = {OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED}


class StandInInput(BaseModel):
    state: OrderState
    radius_km: float = 15.0


@workflow.defn(name="ConfirmStandIn")
class ConfirmStandIn:
    def __init__(self) -> None:
        self.state: OrderState | None = None
        self.radius = 15.0
        self.round = 1
        self.confirmed = False
        self.done = False

    @workflow.run
    async def run(self, inp: StandInInput) -> str:
        self.state, self.radius = inp.state, inp.radius_km
        await workflow.wait_condition(lambda: self.done)
        return self.state.status.value

    @workflow.query(name="state")
    def get_state(self) -> OrderView:
        """The order's one view, as the order workflow answers it."""
        st = self.state
        assert st is not None
        return order_view(OrderRecord(order_id=st.order_id, status=st.status, submission=st.submission, order=st.order,
                                      created_at=st.created_at, updated_at=st.updated_at), [])

    @workflow.signal(name="dispatch")
    def dispatch(self) -> None:
        self.state.status = OrderStatus.SHIPPED

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self.done = True

    @workflow.update(name="confirm_address")
    def confirm_address(self, c: AddressConfirmation) -> ConfirmationResult:
        chk = geo.check_point(self.state.order.address, c.point, self.radius)
        if chk.ok:
            self.confirmed = True
        else:
            self.round += 1
        return ConfirmationResult(accepted=chk.ok, message=chk.reason, distance_km=chk.distance_km, round=self.round)

    @confirm_address.validator
    def _confirmable(self, c: AddressConfirmation) -> None:
        if self.confirmed or self.state.status != OrderStatus.PACKED:
            raise ApplicationError("收货位置已确认,无需再次确认 / not awaiting a confirmation",
                                   type="NotAwaitingConfirmation")

    @workflow.update(name="change_address")
    def change_address(self, ch: AddressChange) -> ConfirmationResult:
        self.state.order.address_raw = ch.address
        self.state.status = OrderStatus.VALIDATED
        self.confirmed = False
        return ConfirmationResult(accepted=True, message=f"已收到新地址({ch.requested_by}),订单将重新分仓", round=self.round)

    @change_address.validator
    def _changeable(self, ch: AddressChange) -> None:
        if self.state.status in DISPATCHED:
            raise ApplicationError("订单已发出,不能再修改地址 / the order has left the warehouse: address change refused",
                                   type="AddressChangeRefused")


def order_state(channel_order_id: str, status: OrderStatus = OrderStatus.PACKED) -> OrderState:
    sub = OrderSubmission.model_validate({
        "channel": "miniprogram", "channel_order_id": channel_order_id, "ordered_at": "2026-11-27T10:00:00+08:00",
        "customer": {"id": "C-42", "name": "王建国", "phone": "13812345678"},
        "address": {"raw": "浙江省杭州市萧山区北干街道金城路1号"},
        "lines": [{"sku": "BOSCH-BP-COROLLA18", "name": "博世刹车片(前)", "category": "刹车片", "quantity": 1,
                   "unit_price": "268.00"}],
        "paid_amount": "268.00",
    })
    cleaned = cleanse(sub)
    assert not cleaned.errors, cleaned.errors
    now = datetime.now(UTC)
    return OrderState(order_id=sub.order_id, status=status, submission=sub, order=cleaned.order,
                      created_at=now, updated_at=now)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ts_confirm_env():
    from tests.test_routing_workflow import start_time_skipping_env

    env = await start_time_skipping_env()
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(ts_confirm_env, sqlite_session_url, tmp_path_factory):
    from api.app import create_app
    from api.confirm_routes import router
    from zhongshu.settings import Settings

    tq = f"confirm-{uuid.uuid4().hex[:6]}"
    settings = Settings(database_url=sqlite_session_url, temporal_address=ts_confirm_env.client.service_client.config.target_host,
                        task_queue=tq, api_key=SERVICE_KEY, extra_api_keys=f"{READ_KEY}:readonly",
                        var_dir=tmp_path_factory.mktemp("var"), confirm_secret=SECRET, confirm_radius_km=15)
    app = create_app(settings)
    app.include_router(router)  # what api/app.py will do
    async with Worker(ts_confirm_env.client, task_queue=tq, workflows=[ConfirmStandIn]):
        with ThreadedServer(app) as server:
            yield ts_confirm_env, tq, server.url


@pytest_asyncio.fixture
async def order(api):
    env, tq, url = api
    st = order_state(f"CF{uuid.uuid4().hex[:8]}")
    handle = await env.client.start_workflow(ConfirmStandIn.run, StandInInput(state=st), id=st.order_id, task_queue=tq)
    yield handle, st.order_id
    await handle.signal(ConfirmStandIn.finish)
    await handle.result()  # every workflow started here finishes


def link(order_id: str, round_no: int = 1) -> str:
    return f"/c/{make_token(SECRET, order_id, round_no)}"


async def test_page_shows_the_address_and_the_map(api, order):
    _env, _tq, url = api
    _handle, oid = order
    async with httpx.AsyncClient(base_url=url, timeout=20) as http:
        r = await http.get(link(oid))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "浙江省杭州市萧山区北干街道金城路1号" in page and "王建国" in page and oid in page
    assert "<svg" in page and "萧山区" in page and "30.1" in page and "120.3" in page  # the point, in the inputs
    assert 'class="area"' in page and 'id="pin"' in page and "确认收货位置" in page and "修改收货地址" in page
    assert "<script src" not in page and "<link" not in page and "cdn" not in page.lower()  # offline
    assert 'name="viewport"' in page


async def test_confirm_far_then_near_then_again(api, order):
    _env, _tq, url = api
    handle, oid = order
    geo.load.cache_clear()  # the first table load happens inside the workflow sandbox
    async with httpx.AsyncClient(base_url=url, timeout=20) as http:
        far = await http.post(f"{link(oid)}/confirm", json={"lat": 31.23, "lng": 121.47})
        assert far.status_code == 200, far.text
        body = far.json()
        assert body["accepted"] is False and body["distance_km"] > 150 and body["round"] == 2
        assert "萧山区" in body["message"] and "重新选择" in body["message"]

        near = await http.post(f"{link(oid)}/confirm", json={"lat": 30.19, "lng": 120.27})
        assert near.status_code == 200 and near.json()["accepted"] is True and near.json()["distance_km"] < 12  # 北干街道: ~10 km from 萧山区's boundary centroid

        again = await http.post(f"{link(oid, 2)}/confirm", json={"lat": 30.19, "lng": 120.27})
        assert again.status_code == 409 and again.json()["type"] == "NotAwaitingConfirmation"
        assert "无需再次确认" in again.json()["detail"]


async def test_bad_input_is_422_with_the_field(api, order):
    _env, _tq, url = api
    _handle, oid = order
    async with httpx.AsyncClient(base_url=url, timeout=20) as http:
        r = await http.post(f"{link(oid)}/confirm", json={"lat": 95, "lng": 120})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lat"
        r = await http.post(f"{link(oid)}/confirm", json={"lng": 120})
        assert r.status_code == 422 and r.json()["errors"] == [{"field": "lat", "message": "纬度不能为空, 请填写"}]
        r = await http.post(f"{link(oid)}/address", json={"address": "12345"})
        assert r.status_code == 422
        (err,) = r.json()["errors"]
        assert err["field"] == "address" and "中文" in err["message"] and not err["message"].startswith("Value error")
        r = await http.post(f"{link(oid)}/address", json={"address": "浙江省杭州市萧山区北干街道1号", "phone": "call me"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "phone"


async def test_forged_or_unknown_links(api, order):
    _env, _tq, url = api
    _handle, oid = order
    forged = make_token("not-our-secret", oid, 1)
    async with httpx.AsyncClient(base_url=url, timeout=20) as http:
        page = await http.get(f"/c/{forged}")
        assert page.status_code == 403 and "链接无效" in page.text
        r = await http.post(f"/c/{forged}/confirm", json={"lat": 30.19, "lng": 120.27})
        assert r.status_code == 403 and "signature" in r.json()["detail"]
        r = await http.post("/c/garbage/address", json={"address": "浙江省杭州市萧山区北干街道1号"})
        assert r.status_code == 403 and "malformed" in r.json()["detail"]
        ghost = "order-miniprogram-NOSUCH1"
        assert (await http.get(link(ghost))).status_code == 404
        r = await http.post(f"{link(ghost)}/confirm", json={"lat": 30.19, "lng": 120.27})
        assert r.status_code == 404


async def test_change_before_and_after_dispatch(api, order):
    _env, _tq, url = api
    handle, oid = order
    new = {"address": "浙江省杭州市萧山区宁围街道市心北路99号", "name": "王建国", "phone": "13812345678"}
    async with httpx.AsyncClient(base_url=url, timeout=20) as http:
        r = await http.post(f"{link(oid)}/address", json=new)
        assert r.status_code == 200 and r.json()["accepted"] is True and "customer" in r.json()["message"]

        # customer service: API key required, its name recorded
        r = await http.post(f"/v1/orders/{oid}/address", json=new)
        assert r.status_code == 401
        r = await http.post(f"/v1/orders/{oid}/address", json=new, headers={"X-API-Key": READ_KEY})
        assert r.status_code == 403
        r = await http.post(f"/v1/orders/{oid}/address", json={**new, "requested_by": "客服小王"},
                            headers={"X-API-Key": SERVICE_KEY})
        assert r.status_code == 200 and "客服小王" in r.json()["message"]

        await handle.signal(ConfirmStandIn.dispatch)
        r = await http.post(f"{link(oid)}/address", json=new)
        assert r.status_code == 409 and r.json()["type"] == "AddressChangeRefused"
        assert "已发出" in r.json()["detail"]
        r = await http.post(f"/v1/orders/{oid}/address", json=new, headers={"X-API-Key": SERVICE_KEY})
        assert r.status_code == 409 and r.json()["type"] == "AddressChangeRefused"
        page = await http.get(link(oid))
        assert page.status_code == 200 and "订单已发出" in page.text and "<svg" not in page.text


async def test_page_render_without_a_centroid():
    from api.confirm_routes import render_page

    st = order_state("CFNOGEO").model_dump(mode="json")
    st["order"]["address"]["adcode"] = "990101"
    page = render_page(st, token="t.k", round_no=1, radius_km=15)
    assert "<svg" not in page and "无法离线定位" in page and 'id="confirm"' in page


def _view_state(adcode: str | None = None, point: dict | None = None) -> dict:
    st = order_state("CFMAP").model_dump(mode="json")
    st["address"] = dict(st["order"]["address"], **({"adcode": adcode, "district": ""} if adcode else {}))
    st["delivery_point"] = point
    return st


def test_offline_the_page_draws_the_district_outline_with_the_delivery_point():
    import re

    from api.confirm_routes import render_page
    from domain import geo, outlines

    page = render_page(_view_state(), token="t.k", round_no=1, radius_km=15)
    shape = outlines.outline("330109")
    assert shape is not None and outlines.contains(shape, geo.LatLng(lat=30.17, lng=120.27))  # 北干街道 is in 萧山区
    assert re.search(r'<path d="M[\d.]+,[\d.]+ L', page) and 'class="area"' in page and "蓝色区域:萧山区" in page
    assert "°N" not in page and 'class="g"' not in page  # no coordinate grid any more
    x, y = (float(v) for v in re.search(r'id="pin" transform="translate\(([\d.]+),([\d.]+)\)"', page).groups())
    assert 0 < x < 320 and 0 < y < 320  # the point (the district's centre until confirmed) is on the drawing
    assert "<script src" not in page and "cdn" not in page.lower()  # offline: nothing fetched
    moved = render_page(_view_state(point={"lat": 30.18, "lng": 120.26}), token="t.k", round_no=2, radius_km=15)
    assert 'value="30.180000"' in moved and 'value="120.260000"' in moved  # a confirmed point is where the pin is


def test_a_city_without_districts_is_drawn_by_its_outline():
    from api.confirm_routes import render_page

    page = render_page(_view_state("441900"), token="t.k", round_no=1, radius_km=15)
    assert 'class="area"' in page and "东莞市" in page


def test_a_configured_tile_provider_embeds_its_map_with_the_key_and_keeps_the_outline():
    from api.confirm_routes import render_page

    amap = render_page(_view_state(), token="t.k", round_no=1, radius_km=15, map_provider="amap", map_key="AMAPKEY1",
                       map_security_code="SEC9")
    assert '<script src="https://webapi.amap.com/maps?v=2.0&amp;key=AMAPKEY1"' in amap and "SEC9" in amap
    assert 'id="tiles"' in amap and 'class="area"' in amap  # the outline until (unless) the map loads
    tdt = render_page(_view_state(), token="t.k", round_no=1, radius_km=15, map_provider="tianditu", map_key="TDTKEY2")
    assert '<script src="https://api.tianditu.gov.cn/api?v=4.0&amp;tk=TDTKEY2"' in tdt and "webapi.amap.com" not in tdt
    assert "<script src" not in render_page(_view_state(), token="t.k", round_no=1, radius_km=15, map_provider="amap")


def test_outlines_match_the_boundaries_they_come_from():
    from domain import geo, outlines

    for code in ("110101", "330106", "310115", "440305", "510104"):
        shape = outlines.outline(code)
        assert shape is not None and shape.adcode == code and outlines.contains(shape, geo.centroid(code)), code
    assert outlines.outline("330199") is None or outlines.outline("330199").adcode == "330100"
    v = outlines.view(outlines.outline("330106").rings[0])
    assert abs((v.north - v.south) - (v.east - v.west) * 0.866) < 0.01  # square on the ground at 30°N
