"""Small teams' order registration (小微团队订单登记): a phone-friendly web page and its one route.

* ``GET /team`` — the page: one self-contained HTML document (no CDN, works offline), Chinese labels
  from ``domain/labels.py``. Not signed in: a sign-in form (``POST /v1/auth/login``; the session token
  is kept in the ``zhongshu_session`` cookie). Signed in: the order form.
* ``POST /v1/team/orders`` — the form's JSON (``domain/team.py`` makes it a canonical order of channel
  ``team``) through the one intake service, the same path as ``POST /v1/orders``: an order (its
  workflow sends the team's WeCom notice and keeps the 24-hour rule) or a recorded rejection with one
  Chinese message per field, named by the form's own field paths (``customer.phone``,
  ``lines[0].unit_price``) so the page shows each next to its input.

Credentials: ``Authorization: Bearer`` / ``X-API-Key`` as everywhere, or the session cookie. The
route takes JSON only (the door answers 415 otherwise), which a cross-site form cannot send: the
cookie cannot be used from another site's page.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ValidationError

from api.auth import Caller, presented, require, session_caller
from api.intake import submit
from api.schemas import AUTH, Doc, errors
from domain import labels, team
from domain.catalogue import Category
from domain.cleansing import cleanse
from domain.order import OrderSubmission
from zhongshu.settings import Settings

router = APIRouter()

TEAM_ROLES = ("customer_service", "reviewer", "warehouse_lead")  # and service, admin (api.auth.require)
_allowed = require(*TEAM_ROLES)


async def team_member(request: Request) -> Caller:
    """The caller by header credentials, else by the session cookie; one of ``TEAM_ROLES``."""
    if not presented(request) and (caller := await session_caller(request)) is not None:
        request.state.caller = caller  # api.auth.authenticate takes it from here
    return await _allowed(request)


def chinese_errors(payload: Any, settings: Settings) -> list[dict[str, str]]:
    """What is wrong with the payload, one Chinese sentence per field (the door's own checks)."""
    try:
        sub = OrderSubmission.at_door(payload, window=settings.order_window)
    except ValidationError as exc:
        return labels.validation_errors(exc.errors(include_url=False))
    return [{"field": e.field, "label": labels.field_label(e.field), "message": e.message} for e in cleanse(sub).errors]


@router.post("/v1/team/orders", tags=["team"], status_code=202, response_model=Doc,
             responses={200: {"model": Doc, "description": "this form was submitted already (created: false)"},
                        **errors(*AUTH, 415, 503, r422="field errors in Chinese (errors[].field is the form's path); "
                                                       "recorded as a rejection")})
async def register_order(request: Request, caller: Caller = Depends(team_member),
                         form: Any = Body(..., description='{"form_id": "…", "customer": {"name", "phone"}, '
                                                           '"address": "…", "lines": [{"sku", "name", "category", '
                                                           '"quantity", "unit_price", "vehicle_model"}], '
                                                           '"freight", "paid_amount", "note"}')):
    """A small team registers an order. ``form_id`` (the page makes one per form) makes a re-sent form
    the same order: the answer is then 200 with ``created: false``."""
    settings: Settings = request.app.state.settings
    if not isinstance(form, dict):
        message = labels.FIELDS["(body)"] + "应为对象"
        return JSONResponse({"message": message, "errors": [{"field": "(body)", "label": labels.FIELDS["(body)"],
                                                             "message": message}]}, status_code=422)
    now = datetime.now(UTC)
    form_id = str(form.get("form_id") or uuid.uuid4().hex)[:64]
    suffix = hashlib.sha256(f"{caller.name}\n{form_id}".encode()).hexdigest()
    payload = team.submission_payload(form, order_no=team.order_number(now, suffix), now=now)
    result = await submit(request.app.state.client, request.app.state.engine, settings, payload,
                          source=f"team:{caller.name}"[:32], wait=True)
    body = dict(result.body)
    if result.http_status == 422:
        found = await asyncio.to_thread(chinese_errors, payload, settings) or body.get("errors") or []
        body["errors"] = found
        body["message"] = (f"订单未登记: {len(found)} 项需要修改, 已记录为拒收单 {body.get('rejection_id')}")
    elif "order_id" in body:
        body |= {"order_no": payload["channel_order_id"], "status_label": labels.order_status(body.get("status")),
                 "message": labels.TEAM_FORM["created"] if body.get("created", True) else "该订单已登记过"}
    return JSONResponse(body, status_code=result.http_status, headers=result.headers or None)


# ---------------------------------------------------------------- the page


@router.get("/team", response_class=HTMLResponse, tags=["team"], include_in_schema=False)
async def team_page(request: Request):
    """The registration page (the sign-in form until a session cookie is there)."""
    caller = await session_caller(request)
    if caller is None:
        return HTMLResponse(page(sign_in_body()), headers={"Cache-Control": "no-store"})
    if caller.role not in (*TEAM_ROLES, "admin"):
        return HTMLResponse(page(f'<p class="err">{esc(T["no_role"])}</p>' + SIGN_OUT),
                            status_code=403)
    return HTMLResponse(page(form_body(caller.display_name or caller.name)), headers={"Cache-Control": "no-store"})


T = labels.TEAM_FORM
esc = html.escape

SIGN_OUT = f'<button type="button" class="link" id="signout">{esc(T["sign_out"])}</button>'


def page(body: str) -> str:
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(T["title"])}</title>
<style>
body{{font-family:-apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:0 auto;padding:12px;
max-width:560px;color:#222;background:#f6f7f9}}
h1{{font-size:1.25em;margin:.4em 0}} .card{{background:#fff;border-radius:10px;padding:12px;margin:10px 0;box-shadow:0 1px 3px #0002}}
label{{display:block;margin:8px 0 2px;font-size:.95em}} .opt{{color:#888;font-size:.8em}}
input,select,textarea{{width:100%;box-sizing:border-box;padding:10px;font-size:16px;border:1px solid #ccd;border-radius:6px}}
.bad input,.bad select,.bad textarea{{border-color:#c62828;background:#fff5f5}}
.ferr{{color:#c62828;font-size:.85em;min-height:0}} .err{{color:#c62828}} .ok{{color:#2e7d32}}
button{{width:100%;padding:13px;font-size:1em;border:0;border-radius:8px;background:#1565c0;color:#fff;margin-top:12px}}
button.alt{{background:#607d8b}} button.link{{background:none;color:#1565c0;width:auto;padding:4px;margin:0}}
.row{{display:flex;gap:8px}} .row>div{{flex:1}} .muted{{color:#777;font-size:.85em}} .big{{font-size:1.3em;font-weight:bold}}
.line{{border-top:1px dashed #ccd;padding-top:6px;margin-top:8px}} .head{{display:flex;justify-content:space-between;align-items:center}}
</style></head><body><h1>{esc(T["title"])}</h1>{body}{SCRIPT}</body></html>"""


def sign_in_body() -> str:
    return f"""<div class="card"><p class="muted">{esc(T["signed_out"])}</p>
<form id="signin"><label for="username">{esc(T["username"])}</label><input id="username" name="username" autocomplete="username" required>
<label for="password">{esc(T["password"])}</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">{esc(T["sign_in"])}</button><p id="signin-msg" class="err" role="alert"></p></form></div>"""


def _field(path: str, control: str, *, optional: bool = False, hint: str = "") -> str:
    opt = f' <span class="opt">({esc(T["optional"])}{"," + esc(hint) if hint else ""})</span>' if optional else ""
    ident = path.replace(".", "-").replace("[", "-").replace("]", "")
    name = labels.field_label(re.sub(r"\[\d+\]", "", path))  # lines[0].name → 商品名称: the box says 商品 1
    return (f'<div class="f" data-field="{esc(path)}"><label for="{ident}">{esc(name)}{opt}</label>'
            f'{control.replace("ID", ident)}<div class="ferr" data-for="{esc(path)}" role="alert"></div></div>')


def line_block(i: int) -> str:
    categories = '<option value=""></option>' + "".join(f'<option value="{esc(c.value)}">{esc(c.value)}</option>' for c in Category)
    models = '<option value=""></option>' + "".join(f'<option value="{esc(k)}">{esc(v)}</option>'
                                                    for k, v in labels.VEHICLE_MODELS.items())
    p = f"lines[{i}]"
    return (f'<div class="line" data-line="{i}"><div class="head"><b>{esc(T["line"])} {i + 1}</b>'
            f'<button type="button" class="link remove">{esc(T["remove_line"])}</button></div>'
            + _field(f"{p}.name", '<input id="ID" name="name" maxlength="128">')
            + '<div class="row"><div>' + _field(f"{p}.sku", '<input id="ID" name="sku" maxlength="64" autocapitalize="characters">')
            + "</div><div>" + _field(f"{p}.category", f'<select id="ID" name="category">{categories}</select>') + "</div></div>"
            + _field(f"{p}.vehicle_model", f'<select id="ID" name="vehicle_model">{models}</select>', optional=True)
            + '<div class="row"><div>' + _field(f"{p}.quantity", '<input id="ID" name="quantity" type="number" min="1" step="1" '
                                                               'inputmode="numeric" value="1">')
            + "</div><div>" + _field(f"{p}.unit_price", '<input id="ID" name="unit_price" inputmode="decimal">')
            + "</div></div></div>")


def form_body(who: str) -> str:
    return f"""<div class="muted">{esc(T["signed_in_as"])}: {esc(who)} {SIGN_OUT}</div>
<form id="order" class="card" novalidate><p id="summary" class="err" role="alert"></p>
{_field("customer.name", '<input id="ID" name="customer.name" maxlength="64" autocomplete="name">')}
{_field("customer.phone", '<input id="ID" name="customer.phone" type="tel" maxlength="32" inputmode="tel">')}
{_field("address", '<textarea id="ID" name="address" rows="2" maxlength="300" placeholder="省 市 区 街道 门牌"></textarea>')}
<div data-field="lines"><div id="lines">{line_block(0)}</div><div class="ferr" data-for="lines" role="alert"></div>
<button type="button" class="alt" id="add-line">{esc(T["add_line"])}</button></div>
<div class="row"><div>{_field("freight", '<input id="ID" name="freight" inputmode="decimal" value="0">', optional=True)}</div>
<div>{_field("paid_amount", '<input id="ID" name="paid_amount" inputmode="decimal">', optional=True, hint=T["paid_hint"])}</div></div>
{_field("note", '<textarea id="ID" name="note" rows="2" maxlength="500"></textarea>', optional=True)}
<button type="submit" id="submit">{esc(T["submit"])}</button></form>
<div id="done" class="card" hidden><p class="ok">{esc(T["created"])}</p><p>{esc(T["order_no"])}: <span class="big" id="order-no"></span></p>
<p class="muted" id="order-id"></p><p>{esc(T["status"])}: <span id="order-status"></span></p>
<button type="button" id="another">{esc(T["another"])}</button></div>
<template id="line-template">{line_block(0)}</template>"""


_WORDS = json.dumps({k: T[k] for k in ("fix_errors", "failed", "line")}, ensure_ascii=False).replace("<", "\\u003c")

SCRIPT = """<script>
const W = """ + _WORDS + """;
const $ = id => document.getElementById(id);
function cookieToken() { const m = document.cookie.match(/(?:^|; )zhongshu_session=([^;]*)/); return m ? m[1] : ''; }
if ($('signin')) $('signin').addEventListener('submit', async ev => {
  ev.preventDefault();
  const r = await fetch('/v1/auth/login', {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({username: $('username').value, password: $('password').value})});
  let b = {}; try { b = await r.json(); } catch (e) {}
  if (!r.ok) { $('signin-msg').textContent = b.detail || W.failed; return; }
  const exp = new Date(b.expires_at).toUTCString();
  document.cookie = `zhongshu_session=${b.token}; path=/; expires=${exp}; SameSite=Strict`;
  location.reload();
});
if ($('signout')) $('signout').addEventListener('click', async () => {
  const t = cookieToken();
  try { await fetch('/v1/auth/logout', {method: 'POST', headers: t ? {'Authorization': `Bearer ${t}`} : {}}); } catch (e) {}
  document.cookie = 'zhongshu_session=; path=/; max-age=0; SameSite=Strict';
  location.reload();
});
const form = $('order');
let formId = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
function renumber() {
  document.querySelectorAll('#lines .line').forEach((el, i) => {
    el.dataset.line = i; el.querySelector('.head b').textContent = `${W.line} ${i + 1}`;
    el.querySelectorAll('[data-field],[data-for]').forEach(f => {
      for (const a of ['field', 'for']) if (f.dataset[a]) f.dataset[a] = f.dataset[a].replace(/^lines\\[\\d+\\]/, `lines[${i}]`);
    });
    el.querySelectorAll('input,select').forEach(c => { c.id = `lines-${i}-${c.name}`; });
    el.querySelectorAll('label').forEach(l => { const c = l.parentElement.querySelector('input,select'); if (c) l.htmlFor = c.id; });
  });
}
if (form) {
  $('add-line').addEventListener('click', () => {
    $('lines').appendChild($('line-template').content.firstElementChild.cloneNode(true)); renumber();
  });
  $('lines').addEventListener('click', ev => {
    if (ev.target.classList.contains('remove') && document.querySelectorAll('#lines .line').length > 1) {
      ev.target.closest('.line').remove(); renumber();
    }
  });
  $('another').addEventListener('click', () => { form.reset(); form.hidden = false; $('done').hidden = true;
    formId = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random(); });
}
function collect() {
  const v = n => form.querySelector(`[name="${n}"]`).value;
  const lines = [...document.querySelectorAll('#lines .line')].map(el => {
    const o = {}; el.querySelectorAll('input,select').forEach(c => { o[c.name] = c.value; }); return o;
  });
  return {form_id: formId, customer: {name: v('customer.name'), phone: v('customer.phone')}, address: v('address'),
          lines, freight: v('freight'), paid_amount: v('paid_amount'), note: v('note')};
}
function clearErrors() {
  document.querySelectorAll('.ferr').forEach(el => { el.textContent = ''; });
  document.querySelectorAll('.bad').forEach(el => el.classList.remove('bad'));
  $('summary').textContent = '';
}
function place(err) {
  // the most specific field shown that the error's path starts with: lines[0].unit_price, address.raw → address
  let path = err.field || '', slot = null;
  while (path && !(slot = document.querySelector(`.ferr[data-for="${CSS.escape(path)}"]`))) {
    const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
    path = cut > 0 ? path.slice(0, cut) : '';
  }
  if (!slot) { $('summary').textContent += (err.message || err.field) + ' '; return; }
  slot.textContent += (slot.textContent ? ' ' : '') + err.message;
  if (slot.parentElement.classList.contains('f')) slot.parentElement.classList.add('bad');
}
if (form) form.addEventListener('submit', async ev => {
  ev.preventDefault(); clearErrors(); $('submit').disabled = true;
  let r, b = {};
  try {
    r = await fetch('/v1/team/orders', {method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify(collect())});
    try { b = await r.json(); } catch (e) {}
  } catch (e) { $('summary').textContent = W.failed; $('submit').disabled = false; return; }
  $('submit').disabled = false;
  if (r.status === 401) { location.reload(); return; }
  if (!r.ok) {
    (b.errors || []).forEach(place);
    if (!b.errors) $('summary').textContent = b.message || b.detail || W.failed;
    else $('summary').textContent = W.fix_errors + ' ' + $('summary').textContent;
    const first = document.querySelector('.bad'); if (first) first.scrollIntoView({block: 'center'});
    return;
  }
  $('order-no').textContent = b.order_no || b.order_id; $('order-id').textContent = b.order_id;
  $('order-status').textContent = b.status_label || b.status || '';
  form.hidden = true; $('done').hidden = false; $('done').scrollIntoView();
});
</script>"""
