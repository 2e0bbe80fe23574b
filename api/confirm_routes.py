"""The customer's address re-confirmation page and its two actions, plus customer service's address
change.

Customer-facing routes (``/c/{token}…``) take no API key: the signed token in the link is the
credential, and it only opens its own order. The page is one self-contained HTML document that works
offline: an SVG of the district's outline (``domain/outlines.py``) with the delivery point, where a
tap moves the pin. Where a tile provider is configured (``ZHONGSHU_MAP_PROVIDER`` amap | tianditu and
``ZHONGSHU_MAP_KEY``) the provider's map is shown instead once its script loads; without a network
the outline stays. Both actions are Temporal updates on the order workflow, so the customer
gets the workflow's own answer (accepted, too far, refused after dispatch) synchronously.
"""

from __future__ import annotations

import asyncio
import html
import json
import math
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, ValidationError
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Caller, actor, require
from api.errors import invalid_body
from api.intake import current_view
from api.schemas import AUTH, Doc, errors
from domain import geo, outlines
from domain.confirmation import (
    AddressChange,
    AddressConfirmation,
    ConfirmationResult,
    InvalidToken,
    LatLng,
    derive_secret,
    read_token,
)
from store import read_model

router = APIRouter()

UPDATE_TIMEOUT_SECONDS = 20.0
CONFLICT_TYPES = {"AddressChangeRefused", "NotAwaitingConfirmation"}
DISPATCHED = {"shipped", "delivered", "completed"}
CLOSED = {"cancelled", "rejected", "merged"}
STATUS_TEXT = {
    "received": "已接单", "validated": "已校验", "held": "待人工审核", "routed": "已分仓", "picking": "拣货中",
    "packed": "已打包,待确认地址", "shipped": "已发货", "delivered": "已签收", "completed": "已完成",
    "cancelled": "已取消", "rejected": "已拦截", "merged": "已合并",
}


class PointIn(BaseModel):
    lat: float = Field(ge=-90, le=90, description="latitude of the delivery point, -90..90")
    lng: float = Field(ge=-180, le=180, description="longitude of the delivery point, -180..180")


class AddressChangeIn(BaseModel):
    address: str = Field(max_length=300)
    name: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=32)
    requested_by: str | None = Field(default=None, max_length=64)  # customer service only; the customer's page always says "customer"


def confirmation_secret(request: Request) -> str:
    s = request.app.state.settings
    return derive_secret(s.confirm_secret, s.effective_api_key())


def _token_error(exc: InvalidToken, as_html: bool):
    msg = f"{exc} — 请使用小程序卡片中的最新链接 / use the link from your latest card"
    if as_html:
        return HTMLResponse(_page_shell("链接无效", f'<p class="err">{html.escape(msg)}</p>'), status_code=403)
    return JSONResponse({"detail": msg}, status_code=403)


def _invalid(exc: ValidationError) -> JSONResponse:
    return JSONResponse(invalid_body(exc), status_code=422)


async def _run_update(request: Request, order_id: str, name: str, arg: BaseModel) -> JSONResponse:
    client: Client = request.app.state.client
    try:
        result: ConfirmationResult = await asyncio.wait_for(
            client.get_workflow_handle(order_id).execute_update(name, arg, result_type=ConfirmationResult),
            timeout=UPDATE_TIMEOUT_SECONDS,
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        kind = getattr(cause, "type", None) or type(cause).__name__
        msg = getattr(cause, "message", None) or str(cause)
        return JSONResponse({"detail": msg, "type": kind}, status_code=409)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        return JSONResponse({"detail": "订单正在处理,请稍后再试 / the order is busy; try again in a moment"}, status_code=503)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            if await asyncio.to_thread(read_model.get_order, request.app.state.engine, order_id):
                return JSONResponse({"detail": f"订单 {order_id} 已结束,不能再修改 / order {order_id} has finished",
                                     "type": "OrderClosed"}, status_code=409)
            return JSONResponse({"detail": f"订单不存在: order {order_id!r} not found"}, status_code=404)
        retry = str(request.app.state.settings.retry_after_seconds)
        return JSONResponse({"detail": "订单服务暂时不可用, 未生效, 请稍后重试 / the order service is unavailable; "
                                       "nothing changed, try again", "type": "Unavailable"},
                            status_code=503, headers={"Retry-After": retry})
    return JSONResponse(result.model_dump(mode="json"))


# ---------------------------------------------------------------- customer (token)


@router.get("/c/{token}", response_class=HTMLResponse, tags=["confirmation"], include_in_schema=False)
async def confirmation_page(request: Request, token: str):
    try:
        order_id, round_no = read_token(confirmation_secret(request), token)
    except InvalidToken as exc:
        return _token_error(exc, as_html=True)
    view = await current_view(request.app.state.client, request.app.state.engine, order_id)
    state = view.model_dump(mode="json") if view is not None else None
    if state is None:
        return HTMLResponse(_page_shell("订单不存在", "<p class='err'>找不到这个订单 / order not found</p>"), status_code=404)
    radius = float(request.app.state.settings.confirm_radius_km)
    s = request.app.state.settings
    return HTMLResponse(render_page(state, token=token, round_no=round_no, radius_km=radius, map_provider=s.map_provider,
                                    map_key=s.map_key, map_security_code=s.map_security_code))


CUSTOMER = errors(403, 404, 409, 422, 503, r403="the link is invalid or expired")
Token = Annotated[str, Path(max_length=512)]


@router.post("/c/{token}/confirm", tags=["confirmation"], response_model=Doc, responses=CUSTOMER)
async def confirm_point(request: Request, token: Token, payload: Any = Body(..., description='{"lat": 30.18, "lng": 120.26}')):
    try:
        order_id, round_no = read_token(confirmation_secret(request), token)
    except InvalidToken as exc:
        return _token_error(exc, as_html=False)
    try:
        point = PointIn.model_validate(payload)
    except ValidationError as exc:
        return _invalid(exc)
    arg = AddressConfirmation(lat=point.lat, lng=point.lng, confirmed_by="customer", round=round_no)
    return await _run_update(request, order_id, "confirm_address", arg)


def _change(payload: Any, requested_by: str, allow_override: bool) -> AddressChange:
    body = AddressChangeIn.model_validate(payload)
    who = body.requested_by if allow_override and body.requested_by else requested_by
    return AddressChange(address=body.address, name=body.name, phone=body.phone, requested_by=who)


@router.post("/c/{token}/address", tags=["confirmation"], response_model=Doc, responses=CUSTOMER)
async def customer_change_address(request: Request, token: Token,
                                  payload: Any = Body(..., description='{"address": "…", "name": null, "phone": null}')):
    try:
        order_id, _round = read_token(confirmation_secret(request), token)
    except InvalidToken as exc:
        return _token_error(exc, as_html=False)
    try:
        change = _change(payload, "customer", allow_override=False)
    except ValidationError as exc:
        return _invalid(exc)
    return await _run_update(request, order_id, "change_address", change)


# ---------------------------------------------------------------- customer service (API key)


@router.post("/v1/orders/{order_id}/address", tags=["orders"], response_model=Doc, responses=errors(*AUTH, 404, 409, 503))
async def service_change_address(request: Request, order_id: Annotated[str, Path(max_length=200)],
                                 payload: Any = Body(..., description='{"address": "…", "name": null, "phone": null, "requested_by": "客服小王"}'),
                                 caller: Caller = Depends(require("customer_service", "reviewer"))):
    try:
        claimed = payload.get("requested_by") if isinstance(payload, dict) else None
        change = _change(payload, actor(caller, claimed if isinstance(claimed, str) else None, "requested_by"),
                         allow_override=False)
    except ValidationError as exc:
        return _invalid(exc)
    return await _run_update(request, order_id, "change_address", change)


# ---------------------------------------------------------------- the page


def _nice_km(span_km: float) -> float:
    """A scale bar length: the largest 1/2/5 × 10^n km under a quarter of the drawing."""
    fits = [km for km in (0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500) if km <= span_km / 4]
    return fits[-1] if fits else 0.1


def render_svg(center: LatLng, radius_km: float, adcode: str = "", point: LatLng | None = None,
               size: int = 320) -> tuple[str, dict[str, float]]:
    """The offline map: the district's outline (else a circle of the allowed radius around its
    centre), its centre, the delivery point's pin and a scale bar; and the view box in degrees."""
    outline = outlines.outline(adcode) if adcode else None
    if outline is not None:
        points = [p for ring in outline.rings for p in ring]
    else:  # no outline known: the allowed circle stands in for the area
        k = max(math.cos(math.radians(center.lat)), 0.05)
        points = [LatLng(lat=center.lat + radius_km / 111.32 * math.sin(a / 8 * math.pi),
                             lng=center.lng + radius_km / (111.32 * k) * math.cos(a / 8 * math.pi)) for a in range(16)]
    pin = point or center
    v = outlines.view([*points, center, pin], size)
    parts = [f'<rect x="0" y="0" width="{size}" height="{size}" fill="#eef3f7"/>']
    if outline is not None:
        d = " ".join("M" + " L".join(f"{v.x(p.lng):.1f},{v.y(p.lat):.1f}" for p in ring) + " Z" for ring in outline.rings)
        parts.append(f'<path d="{d}" class="area" fill-rule="evenodd"/>')
    else:
        r = radius_km / ((v.north - v.south) * 111.32) * size
        parts.append(f'<circle cx="{v.x(center.lng):.1f}" cy="{v.y(center.lat):.1f}" r="{r:.1f}" class="ring"/>')
    cx, cy = v.x(center.lng), v.y(center.lat)
    parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="#1565c0"/>')
    span_km = (v.north - v.south) * 111.32
    bar = _nice_km(span_km)
    w = bar / span_km * size
    parts.append(f'<g class="scale"><line x1="10" y1="{size - 12}" x2="{10 + w:.1f}" y2="{size - 12}"/>'
                 f'<text x="10" y="{size - 16}">{bar:g} 公里</text></g>')
    parts.append(f'<g id="pin" transform="translate({v.x(pin.lng):.1f},{v.y(pin.lat):.1f})">'
                 '<path d="M0,0 l-7,-16 a8,8 0 1,1 14,0 z" fill="#d32f2f"/><circle cx="0" cy="-18" r="3" fill="#fff"/></g>')
    svg = (f'<svg id="map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" role="img" '
           f'aria-label="地图:区县轮廓与收货位置,点击移动收货位置">{"".join(parts)}</svg>')
    return svg, v.model_dump()


def tile_script(provider: str, key: str, security_code: str = "") -> str:
    """The provider's JavaScript map API (loaded only where configured; offline it fails and the
    outline stays)."""
    if not (provider and key):
        return ""
    if provider == "amap":
        sec = (f"<script>window._AMapSecurityConfig = {json.dumps({'securityJsCode': security_code})};</script>"
               if security_code else "")
        src = f"https://webapi.amap.com/maps?v=2.0&key={quote(key)}"
    else:
        sec, src = "", f"https://api.tianditu.gov.cn/api?v=4.0&tk={quote(key)}"
    return f'{sec}<script src="{html.escape(src)}" async onload="initTiles()"></script>'


def _page_shell(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
body{{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;padding:12px;max-width:480px;
margin:auto;color:#222;background:#fafafa}}
h1{{font-size:1.2em}} .card{{background:#fff;border-radius:10px;padding:12px;margin:10px 0;box-shadow:0 1px 3px #0002}}
svg{{width:100%;height:auto;touch-action:manipulation;border-radius:8px;cursor:crosshair}}
.area{{fill:#1565c01a;stroke:#1565c0;stroke-width:1.4;stroke-linejoin:round}} .ring{{fill:#1565c011;stroke:#1565c0;stroke-dasharray:4 3}}
.scale line{{stroke:#333;stroke-width:2}} .scale text{{font-size:9px;fill:#333}} #tiles{{width:100%;height:320px;border-radius:8px}}
button{{width:100%;padding:12px;font-size:1em;border:0;border-radius:8px;background:#1565c0;color:#fff;margin-top:8px}}
button.alt{{background:#607d8b}} input,textarea{{width:100%;box-sizing:border-box;padding:8px;margin:4px 0;font-size:1em}}
.ok{{color:#2e7d32}} .err{{color:#c62828}} .muted{{color:#777;font-size:.85em}} .row{{display:flex;gap:8px}}
</style></head><body>{body}</body></html>"""


def render_page(state: dict[str, Any], *, token: str, round_no: int, radius_km: float, map_provider: str = "",
                map_key: str = "", map_security_code: str = "") -> str:
    """The whole page for one order (its ``OrderView`` as JSON); a tile provider's map where one is configured."""
    addr = state.get("address") or {}
    status = str(state.get("status", ""))
    address_text = addr.get("text") or state.get("address_raw") or ""
    adcode = addr.get("adcode") or ""
    district = addr.get("district") or (geo.place_name(adcode) if adcode else "")
    name = state.get("customer_name") or ""
    e = html.escape
    center = geo.centroid(adcode) if adcode else None

    head = (f'<h1>确认收货位置</h1><div class="card"><div class="muted">订单 {e(state.get("order_id", ""))} · '
            f'第 {round_no} 次确认 · 状态:{e(STATUS_TEXT.get(status, status))}</div>'
            f'<p><b>{e(name)}</b><br>{e(address_text)}</p></div>')
    if status in DISPATCHED:
        return _page_shell("确认收货位置", head + '<div class="card"><p class="err">订单已发出,不能再修改地址。'
                           '如需帮助请联系客服。/ The order has left the warehouse; the address can no longer be changed.</p></div>')
    if status in CLOSED:
        return _page_shell("确认收货位置", head + '<div class="card"><p class="err">订单已关闭,无需确认。/ This order is closed.</p></div>')

    tiles = tile_script(map_provider, map_key, map_security_code) if center is not None else ""
    if center is not None:
        known = state.get("delivery_point")
        point = LatLng.model_validate(known) if known else center
        svg, view = render_svg(center, radius_km, adcode, point)
        map_block = (f'<div class="card"><p>红色标记为收货位置(蓝色区域:{e(district)}),点击地图可移动标记</p>'
                     f'<div id="tiles" hidden></div>{svg}'
                     f'<div class="row"><input id="lat" inputmode="decimal" placeholder="纬度 lat" aria-label="纬度" '
                     f'value="{point.lat:.6f}"><input id="lng" inputmode="decimal" placeholder="经度 lng" aria-label="经度" '
                     f'value="{point.lng:.6f}"></div>'
                     '<button class="alt" type="button" id="locate">使用我的当前位置</button>'
                     '<button type="button" id="confirm">确认收货位置</button><p id="answer" role="status"></p></div>')
    else:
        view = {}
        map_block = ('<div class="card"><p class="muted">该地址无法离线定位,请直接填写经纬度或修改地址。</p>'
                     '<div class="row"><input id="lat" inputmode="decimal" placeholder="纬度 lat">'
                     '<input id="lng" inputmode="decimal" placeholder="经度 lng"></div>'
                     '<button type="button" id="confirm">确认收货位置</button><p id="answer" role="status"></p></div>')
    change_block = ('<div class="card"><h2 style="font-size:1em">地址不对?修改收货地址</h2>'
                    '<form id="change"><textarea name="address" rows="2" required minlength="5" maxlength="300" '
                    'placeholder="省 市 区 街道 门牌"></textarea>'
                    '<input name="name" maxlength="64" placeholder="收货人(可不填)">'
                    '<input name="phone" maxlength="32" inputmode="tel" placeholder="电话(可不填)">'
                    '<button class="alt" type="submit">提交新地址</button></form><p id="changed" role="status"></p>'
                    '<p class="muted">发货前可修改;修改后订单会重新分仓。</p></div>')
    data = json.dumps({"token": token, "view": view, "provider": map_provider if tiles else "",
                       "center": center.model_dump() if center else None}).replace("<", "\\u003c")
    script = """<script>
const D = JSON.parse(document.getElementById('data').textContent);
const $ = id => document.getElementById(id);
function pinAt(lat, lng) {
  const v = D.view, pin = $('pin'); if (!pin || !v.size) return;
  const x = (lng - v.west) / (v.east - v.west) * v.size, y = (v.north - lat) / (v.north - v.south) * v.size;
  pin.setAttribute('transform', `translate(${x.toFixed(1)},${y.toFixed(1)})`); pin.style.display = '';
}
let marker = null;  // the tile map's marker, once a provider's map is up
function setPoint(lat, lng) {
  $('lat').value = lat.toFixed(6); $('lng').value = lng.toFixed(6); pinAt(lat, lng);
  if (marker) marker.move(lat, lng);
}
window.initTiles = function () {  // the provider's script loaded: its map replaces the outline
  const c = D.center, lat = parseFloat($('lat').value) || c.lat, lng = parseFloat($('lng').value) || c.lng;
  $('tiles').hidden = false;
  try {
    if (D.provider === 'amap') {
      const m = new AMap.Map('tiles', {zoom: 13, center: [lng, lat]}), mk = new AMap.Marker({position: [lng, lat]});
      m.add(mk); marker = {move: (la, ln) => mk.setPosition([ln, la])};
      m.on('click', ev => setPoint(ev.lnglat.getLat(), ev.lnglat.getLng()));
    } else {
      const m = new T.Map('tiles'), mk = new T.Marker(new T.LngLat(lng, lat));
      m.centerAndZoom(new T.LngLat(lng, lat), 13); m.addOverLay(mk); marker = {move: (la, ln) => mk.setLngLat(new T.LngLat(ln, la))};
      m.addEventListener('click', ev => setPoint(ev.lnglat.getLat(), ev.lnglat.getLng()));
    }
    $('map').style.display = 'none';
  } catch (err) { $('tiles').hidden = true; }  // the outline stays
};
const map = $('map');
if (map) map.addEventListener('click', ev => {
  const r = map.getBoundingClientRect(), v = D.view;
  const fx = (ev.clientX - r.left) / r.width, fy = (ev.clientY - r.top) / r.height;
  setPoint(v.north - fy * (v.north - v.south), v.west + fx * (v.east - v.west));
});
['lat', 'lng'].forEach(id => $(id).addEventListener('change', () => {
  const la = parseFloat($('lat').value), ln = parseFloat($('lng').value); if (!isNaN(la) && !isNaN(ln)) pinAt(la, ln);
}));
if ($('locate')) $('locate').addEventListener('click', () => {
  if (!navigator.geolocation) { show('answer', false, '此设备不支持定位'); return; }
  navigator.geolocation.getCurrentPosition(p => setPoint(p.coords.latitude, p.coords.longitude),
    () => show('answer', false, '无法获取当前位置,请在地图上点选'));
});
function show(id, ok, msg) { const el = $(id); el.className = ok ? 'ok' : 'err'; el.textContent = msg; }
function explain(body) {
  if (body.message && body.errors) return body.errors.map(e => `${e.field}: ${e.message}`).join('; ');
  return body.message || body.detail || JSON.stringify(body);
}
async function post(path, payload) {
  const r = await fetch(`/c/${D.token}/${path}`, {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify(payload)});
  let body = {}; try { body = await r.json(); } catch (e) {}
  return {ok: r.ok && body.accepted !== false, body};
}
$('confirm').addEventListener('click', async () => {
  const lat = parseFloat($('lat').value), lng = parseFloat($('lng').value);
  if (isNaN(lat) || isNaN(lng)) { show('answer', false, '请先在地图上点选收货位置'); return; }
  const {ok, body} = await post('confirm', {lat, lng}); show('answer', ok, explain(body));
});
$('change').addEventListener('submit', async ev => {
  ev.preventDefault(); const f = new FormData(ev.target), payload = {address: f.get('address')};
  if (f.get('name')) payload.name = f.get('name'); if (f.get('phone')) payload.phone = f.get('phone');
  const {ok, body} = await post('address', payload); show('changed', ok, explain(body));
  if (ok) setTimeout(() => location.reload(), 2500);
});
</script>"""
    body = head + map_block + change_block + f'<script type="application/json" id="data">{data}</script>' + script + tiles
    return _page_shell("确认收货位置", body)
