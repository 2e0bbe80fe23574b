"""Channel adapters: httpx clients for the channels, the token cache, accepting channel orders, and
the activities ChannelSyncWorkflow and the ERP push run.

* ``TokenCache`` — one expiring token per (account, endpoint): refreshed *ahead* of expiry by a
  single caller (single-flight lock) while the others keep using the still-valid token, so a
  thousand concurrent activities cause one token request, not a thundering herd.
* ``TopClient`` (Tmall/Taobao open platform: signed requests, session token, incremental trades by
  modified time with pages) and ``ErpClient`` (Kingdee K3 Cloud-style: signed requests, login
  session, Save and bill query). HTTP 5xx, timeouts and refused connections raise a *retryable*
  ``ChannelError`` (the activity's RetryPolicy backs off); configuration errors (bad signature,
  unknown app key) a non-retryable one.
* ``DouyinClient`` (抖店 open API: signed requests, a per-shop access token, ``order.orderDetail``) and
  ``accept_douyin_message`` — a push that carries only ids is completed with the fetched detail.
* ``accept_payload`` — the channel twin of ``api.intake.submit``: validate → cleanse → recorded
  rejection, or start the order workflow with the same id and reuse policy (a re-delivered order
  never starts twice) — without waiting for admission, so webhooks ack fast and a page of trades
  costs one RPC per order. A re-delivered order (the workflow already exists) signals the running
  workflow ``channel_redelivered`` with the new canonical submission, so changes (a new address)
  reach it; outcome stays ``duplicate`` (``signalled`` says whether the signal went out).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeGuard

import httpx
from pydantic import BaseModel
from sqlalchemy import Engine, select
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities import partner_http
from activities.notify import WeComClient, WeComError, mask_phones
from activities.order_intake import OrderIntake, TemporalUnavailable, record_rejection
from domain.channels import MappingError, delivery_version, map_payload
from domain.channels import douyin as douyin_mapper
from domain.channels import erp as erp_mapper
from domain.channels import tmall as tmall_mapper
from domain.channels.health import HealthAlert, SyncHealthReport, WatchHealthReport, render_alert
from domain.channels.signing import douyin_api_sign, douyin_param_json, kingdee_sign, top_sign
from domain.contracts import channels as CH
from domain.contracts import order as C
from domain.contracts.channels import PageRequest, PageResult, WindowRequest
from domain.contracts.finance import PUSH_ORDER_TO_ERP, ErpPushRequest, ErpPushResult
from domain.errors import FieldError
from domain.redelivery import DeliveryVersion
from store.channel_health import record_sync_report, record_watch_report
from store.read_model import _insert
from store.schema import channel_accounts, orders
from zhongshu.settings import Settings, get_settings

log = logging.getLogger("zhongshu.channels")
TOP_TIME = "%Y-%m-%d %H:%M:%S"
CHINA_TZ = timezone(timedelta(hours=8))


# ---------------------------------------------------------------------------------------- errors


class ChannelError(RuntimeError):
    def __init__(self, message: str, *, retryable: bool = True, status_code: int | None = None, code: Any = None):
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code
        self.code = code

    def to_application_error(self) -> ApplicationError:
        return ApplicationError(str(self), type="ChannelError", non_retryable=not self.retryable)


# ---------------------------------------------------------------------------------------- tokens


@dataclass
class Token:
    value: str
    expires_at: float  # clock() seconds
    issued_at: float


class TokenCache:
    """An expiring token, refreshed ahead of expiry by exactly one caller.

    ``get()`` returns the cached token while it is fresh. Inside the refresh window (the last
    ``refresh_ahead`` seconds, at most a third of the token's life) the first caller refreshes under
    the lock; callers arriving meanwhile get the still-valid old token instead of queueing. Only when
    there is no valid token at all do callers wait — on the same single refresh.
    """

    def __init__(self, fetch: Callable[[], Awaitable[tuple[str, float]]], *, refresh_ahead: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self._fetch = fetch  # → (token, expires_in seconds)
        self.refresh_ahead = refresh_ahead
        self.clock = clock
        self._token: Token | None = None
        self._lock = asyncio.Lock()
        self.refreshes = 0

    def _window(self, tok: Token) -> float:
        return min(self.refresh_ahead, (tok.expires_at - tok.issued_at) / 3)

    def _fresh(self, tok: Token | None) -> TypeGuard[Token]:
        return tok is not None and self.clock() < tok.expires_at - self._window(tok)

    def _valid(self, tok: Token | None) -> TypeGuard[Token]:
        return tok is not None and self.clock() < tok.expires_at

    async def get(self) -> str:
        tok = self._token
        if self._fresh(tok):
            return tok.value
        if self._valid(tok) and self._lock.locked():
            return tok.value  # someone is already refreshing ahead of expiry
        async with self._lock:
            tok = self._token
            if self._fresh(tok):
                return tok.value
            value, expires_in = await self._fetch()
            now = self.clock()
            self._token = Token(value, now + float(expires_in), now)
            self.refreshes += 1
            return value

    def invalidate(self, value: str | None = None) -> None:
        """The channel said the token is invalid (revoked, clock skew): fetch a new one next time."""
        if self._token is not None and (value is None or self._token.value == value):
            self._token = None


# ---------------------------------------------------------------------------------------- accounts


class ChannelAccount(BaseModel):
    account_id: str
    channel: str
    base_url: str
    app_key: str
    app_secret: str
    options: dict[str, Any] = {}

    @property
    def timeout(self) -> float:
        return float(self.options.get("timeout_seconds", 10))


def account_from_settings(account_id: str, settings: Settings) -> ChannelAccount | None:
    """The accounts configured by environment (``ZHONGSHU_TMALL_*``, ``ZHONGSHU_ERP_*``,
    ``ZHONGSHU_DOUYIN_API_URL`` with ``ZHONGSHU_DOUYIN_APP_KEY`` / ``…_APP_SECRET``)."""
    if account_id in ("tmall", "tmall-default") and settings.tmall_url:
        return ChannelAccount(account_id=account_id, channel="tmall", base_url=settings.tmall_url,
                              app_key=settings.tmall_app_key, app_secret=settings.tmall_app_secret)
    if account_id == "douyin" and settings.douyin_api_url:
        # the open API signs with the same app key + secret the pushes are signed with
        return ChannelAccount(account_id="douyin", channel="douyin", base_url=settings.douyin_api_url,
                              app_key=settings.douyin_app_key, app_secret=settings.douyin_app_secret)
    if account_id == "erp" and settings.erp_url:
        return ChannelAccount(account_id="erp", channel="erp", base_url=settings.erp_url,
                              app_key=settings.erp_app_id, app_secret=settings.erp_app_secret)
    return None


ACCOUNT_TTL = 10.0  # seconds a channel account is cached by the activities


def load_account(engine: Engine, account_id: str, settings: Settings | None = None) -> ChannelAccount:
    with engine.connect() as conn:
        row = conn.execute(select(channel_accounts).where(channel_accounts.c.account_id == account_id)).first()
    if row is not None:
        if not row.enabled:
            raise ChannelError(f"channel account {account_id!r} is disabled", retryable=False)
        return ChannelAccount(**{k: row._mapping[k] for k in ChannelAccount.model_fields})
    acc = account_from_settings(account_id, settings or get_settings())
    if acc is None:
        raise ChannelError(f"unknown channel account {account_id!r}: `zhongshu channels add` it", retryable=False)
    return acc


def save_account(engine: Engine, acc: ChannelAccount, *, enabled: bool = True) -> None:
    row = acc.model_dump() | {"enabled": enabled, "created_at": datetime.now(UTC)}
    with engine.begin() as conn:
        ins = _insert(engine, channel_accounts).values(**row)
        conn.execute(ins.on_conflict_do_update(
            index_elements=[channel_accounts.c.account_id],
            set_={k: ins.excluded[k] for k in row if k not in ("account_id", "created_at")},
        ))


def list_accounts(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(channel_accounts).order_by(channel_accounts.c.account_id))
        return [{k: v for k, v in r._mapping.items() if k != "app_secret"} for r in rows]


# ---------------------------------------------------------------------------------------- http


async def _send(http: httpx.AsyncClient, method: str, url: str, *, what: str, **kw) -> httpx.Response:
    try:
        resp = await http.request(method, url, **kw)
    except httpx.TimeoutException as exc:
        raise ChannelError(f"{what}: timed out ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        raise ChannelError(f"{what}: {type(exc).__name__}: {exc}") from None
    if resp.status_code >= 500 or resp.status_code == 429:
        raise ChannelError(f"{what}: HTTP {resp.status_code}", status_code=resp.status_code)
    return resp


def _top_time(dt: datetime) -> str:
    return dt.astimezone(CHINA_TZ).strftime(TOP_TIME)


class TopClient:
    """Taobao/Tmall open platform (TOP) gateway: every call signed over its sorted parameters."""

    def __init__(self, account: ChannelAccount, http: httpx.AsyncClient, tokens: TokenCache | None = None):
        self.account = account
        self.http = http
        self.sign_method = account.options.get("sign_method", "hmac-sha256")
        self.tokens = tokens or TokenCache(self._fetch_session, refresh_ahead=float(account.options.get("refresh_ahead", 300)))

    def _signed(self, params: dict[str, Any]) -> dict[str, str]:
        p = {k: str(v) for k, v in params.items() if v is not None}
        p["sign"] = top_sign(p, self.account.app_secret, self.sign_method)
        return p

    async def _fetch_session(self) -> tuple[str, float]:
        url = self.account.base_url.rsplit("/router/rest", 1)[0] + "/oauth/token"
        resp = await _send(self.http, "POST", url, what="tmall token", timeout=self.account.timeout, data={
            "grant_type": "client_credentials", "client_id": self.account.app_key, "client_secret": self.account.app_secret})
        if resp.status_code != 200:
            raise ChannelError(f"tmall token: HTTP {resp.status_code} {resp.text[:200]}", retryable=False)
        body = resp.json()
        return body["access_token"], float(body.get("expires_in", 86400))

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        for attempt in range(2):
            session = await self.tokens.get()
            p = self._signed({
                "method": method, "app_key": self.account.app_key, "session": session,
                "timestamp": _top_time(datetime.now(UTC)), "format": "json", "v": "2.0",
                "sign_method": self.sign_method, **params,
            })
            resp = await _send(self.http, "POST", self.account.base_url, what=f"tmall {method}",
                               data=p, timeout=self.account.timeout)
            body = resp.json()
            err = body.get("error_response")
            if not err:
                return body
            code = int(err.get("code", 0))
            msg = f"tmall {method}: error {code} {err.get('msg')} {err.get('sub_msg') or ''}".strip()
            if code in (26, 27) and attempt == 0:  # missing/invalid session: expired early or revoked
                self.tokens.invalidate(session)
                continue
            # 7 = call limit, 15 = remote service error: transient. 25 signature, 29 app key: configuration
            raise ChannelError(msg, retryable=code in (7, 15, 26, 27), code=code)
        raise AssertionError("unreachable")

    async def increment(self, start: datetime, end: datetime, page_no: int, page_size: int) -> tuple[list[dict], int, bool]:
        body = await self.call(
            "taobao.trades.sold.increment.get", start_modified=_top_time(start), end_modified=_top_time(end),
            page_no=page_no, page_size=page_size, use_has_next="false",
            fields="tid,status,created,modified,pay_time,buyer_open_uid,receiver_name,receiver_mobile,"
                   "receiver_phone,receiver_state,receiver_city,receiver_district,receiver_town,receiver_address,"
                   "payment,post_fee,coupon_fee,buyer_message,orders",
        )
        r = body.get("trades_sold_increment_get_response") or {}
        trades = (r.get("trades") or {}).get("trade") or []
        return trades, int(r.get("total_results") or 0), bool(r.get("has_next"))


class ErpClient:
    """Kingdee K3 Cloud-style WebAPI: signed headers, a login session that expires, Save and query."""

    def __init__(self, account: ChannelAccount, http: httpx.AsyncClient, tokens: TokenCache | None = None):
        self.account = account
        self.http = http
        self.tokens = tokens or TokenCache(self._login, refresh_ahead=float(account.options.get("refresh_ahead", 120)))

    def _headers(self, path: str, session: str | None) -> dict[str, str]:
        ts, nonce = str(int(time.time())), secrets.token_hex(8)
        h = {"X-Api-ClientID": self.account.app_key, "X-Api-Auth-Version": "2.0", "x-api-timestamp": ts,
             "x-api-nonce": nonce, "X-Api-Signature": kingdee_sign(self.account.app_secret, "POST", path, ts, nonce)}
        if session:
            h["kdservice-sessionid"] = session
        return h

    async def _post(self, path: str, body: dict[str, Any], session: str | None, what: str) -> httpx.Response:
        return await _send(self.http, "POST", self.account.base_url.rstrip("/") + path, what=what,
                           json=body, headers=self._headers(path, session), timeout=self.account.timeout)

    async def _login(self) -> tuple[str, float]:
        resp = await self._post("/k3cloud/login", {"acctId": self.account.options.get("acct_id", "default")}, None, "erp login")
        if resp.status_code != 200:
            raise ChannelError(f"erp login: HTTP {resp.status_code} {resp.text[:200]}", retryable=False, status_code=resp.status_code)
        body = resp.json()
        return body["KDSVCSessionId"], float(body.get("expires_in", 1800))

    async def _call(self, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        for attempt in range(2):
            session = await self.tokens.get()
            resp = await self._post(path, body, session, what)
            if resp.status_code == 401 and attempt == 0:  # session expired or revoked
                self.tokens.invalidate(session)
                continue
            if resp.status_code != 200:
                raise ChannelError(f"{what}: HTTP {resp.status_code} {resp.text[:200]}", retryable=False,
                                   status_code=resp.status_code)
            return resp.json()
        raise ChannelError(f"{what}: session rejected twice")

    async def save(self, bill: dict[str, Any]) -> str:
        resp = await self._call("/k3cloud/save", bill, "erp save")
        try:
            return erp_mapper.bill_no_of(resp)
        except MappingError as exc:
            raise ChannelError(f"ERP 拒绝保存销售订单: {exc.reason} (erp save refused)", retryable=False) from None

    async def query(self, since: datetime, start_row: int, limit: int) -> list[dict[str, Any]]:
        resp = await self._call("/k3cloud/query", {
            "FormId": "SAL_SaleOrder", "FilterString": f"FDate>='{_top_time(since)}'",
            "OrderString": "FDate ASC, FBillNo ASC", "StartRow": start_row, "Limit": limit}, "erp query")
        return resp.get("Result") or []


class DouyinClient:
    """Douyin shop open API (抖店开放平台): ``POST {base}/order/orderDetail?app_key=…&method=order.orderDetail
    &v=2&timestamp=…&sign_method=hmac-sha256&sign=…&access_token=…`` with ``param_json`` as the body (see
    ``domain.channels.signing.douyin_api_sign``). Answers ``{"code": 10000, "msg", "sub_code", "data"}``.

    The access token is per shop (a push names its ``shop_id``): ``token.create`` with
    ``grant_type=authorization_self`` (a self-built app), one ``TokenCache`` per shop, refreshed ahead
    of expiry; a token the API calls invalid (code 30002) is renewed once. Codes: 20000 / HTTP 5xx /
    timeouts → retryable; 30001 (signature, app key) → configuration, not retryable; 50002 with
    ``sub_code`` ``isv.order-not-found`` → ``DouyinOrderNotFound``. The timeout is short (3 s unless the
    account's ``timeout_seconds`` says otherwise): the webhook waits on it before it acks.
    """

    def __init__(self, account: ChannelAccount, http: httpx.AsyncClient):
        self.account = account
        self.http = http
        self.sign_method = account.options.get("sign_method", "hmac-sha256")
        self.timeout = float(account.options.get("timeout_seconds", 3))
        self.refresh_ahead = float(account.options.get("refresh_ahead", 300))
        self._tokens: dict[str, TokenCache] = {}

    def tokens(self, shop_id: str | None) -> TokenCache:
        shop = shop_id or str(self.account.options.get("shop_id") or "")
        if shop not in self._tokens:
            async def fetch() -> tuple[str, float]:
                return await self._create_token(shop)

            self._tokens[shop] = TokenCache(fetch, refresh_ahead=self.refresh_ahead)
        return self._tokens[shop]

    async def _post(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        pj = douyin_param_json(params)
        ts = str(int(time.time()))
        query = {"app_key": self.account.app_key, "method": method, "v": "2", "timestamp": ts,
                 "sign_method": self.sign_method,
                 "sign": douyin_api_sign(self.account.app_key, self.account.app_secret, method, pj, ts, "2", self.sign_method)}
        if token:
            query["access_token"] = token
        url = self.account.base_url.rstrip("/") + "/" + method.replace(".", "/")
        resp = await _send(self.http, "POST", url, what=f"douyin {method}", params=query, content=pj.encode(),
                           headers={"content-type": "application/json"}, timeout=self.timeout)
        try:
            body = resp.json()
        except ValueError:
            raise ChannelError(f"douyin {method}: HTTP {resp.status_code} not JSON: {resp.text[:200]}",
                               status_code=resp.status_code) from None
        if not isinstance(body, dict):
            raise ChannelError(f"douyin {method}: unexpected answer {str(body)[:200]}", retryable=False)
        return body

    async def _create_token(self, shop_id: str) -> tuple[str, float]:
        params: dict[str, Any] = {"code": "", "grant_type": "authorization_self"}
        if shop_id:
            params["shop_id"] = shop_id
        body = await self._post("token.create", params, None)
        if body.get("code") != douyin_mapper.OK_CODE:
            raise self._error("token.create", body)
        data = body.get("data") or {}
        return str(data["access_token"]), float(data.get("expires_in", 7 * 86400))

    def _error(self, method: str, body: dict[str, Any]) -> ChannelError:
        code, sub = body.get("code"), str(body.get("sub_code") or "")
        msg = f"douyin {method}: error {code} {body.get('msg') or ''} {sub} {body.get('sub_msg') or ''}".strip()
        if "not-found" in sub or "not_exist" in sub:
            return DouyinOrderNotFound(msg, code=code)
        return ChannelError(msg, retryable=code in (20000, 30002, 70000), code=code)

    async def call(self, method: str, params: dict[str, Any], shop_id: str | None = None) -> dict[str, Any]:
        cache = self.tokens(shop_id)
        for attempt in range(2):
            token = await cache.get()
            body = await self._post(method, params, token)
            if body.get("code") == douyin_mapper.OK_CODE:
                return body
            if body.get("code") == 30002 and attempt == 0:  # token expired early or revoked
                cache.invalidate(token)
                continue
            raise self._error(method, body)
        raise AssertionError("unreachable")

    async def order_detail(self, order_id: str, shop_id: str | None = None) -> dict[str, Any]:
        """The order as ``order.orderDetail`` returns it (``shop_order_detail``)."""
        body = await self.call("order.orderDetail", {"shop_order_id": order_id}, shop_id)
        try:
            return douyin_mapper.detail_from_response(body, order_id)
        except MappingError as exc:
            raise ChannelError(f"douyin order.orderDetail: {exc}", retryable=False) from None


class DouyinOrderNotFound(ChannelError):
    """The open API does not know the pushed order id (a forged or mistyped push, or another shop's)."""

    def __init__(self, message: str, *, code: Any = None):
        super().__init__(message, retryable=False, status_code=404, code=code)


# ---------------------------------------------------------------------------------------- accepting


class AcceptResult(BaseModel):
    order_id: str | None = None
    outcome: str  # created | duplicate | rejected | ignored
    rejection_id: int | None = None
    reason: str = ""
    signalled: bool = False  # duplicate: the running workflow got ``channel_redelivered``
    stale: bool = False  # duplicate: older than (or the same copy as) what the order has — not signalled


REDELIVERED_SIGNAL = C.CHANNEL_REDELIVERED.name


def record_rejection_once(engine: Engine, *, source: str, payload: Any, errors: list[dict], channel: str | None,
                          channel_order_id: str | None) -> int:
    """A raw channel payload's rejection, recorded once (see ``activities.order_intake.record_rejection``)."""
    return record_rejection(engine, payload, [FieldError.model_validate(e) for e in errors], source, once=True,
                            channel=channel, channel_order_id=channel_order_id)


def raw_order_id(channel: str, raw: Any) -> str | None:
    """The channel's order id from a raw payload, for rejections of payloads that do not map."""
    if not isinstance(raw, dict):
        return None
    for key in ("tid", "shop_order_id", "order_id", "p_id", "out_trade_no", "FBillNo", "channel_order_id"):
        if raw.get(key) not in (None, ""):
            return str(raw[key])[:64]
    return None


async def accept_payload(client: Client, engine: Engine, settings: Settings, payload: Any, *, source: str,
                         version: DeliveryVersion | None = None) -> AcceptResult:
    """A canonical order payload through the one intake service (``activities.order_intake``): the
    started order, a re-delivery (signalled unless older than what the order has), or a rejection
    recorded once. Temporal unavailable propagates: the channel re-sends, the sync retries its page."""
    try:
        r = await OrderIntake(client, engine, settings).accept(payload, source=source, version=version, once=True)
    except TemporalUnavailable as exc:
        raise (exc.__cause__ or exc) from None
    if r.outcome == "rejected":
        return AcceptResult(outcome="rejected", rejection_id=r.rejection_id, reason=r.reason)
    if r.outcome == "existing":
        return AcceptResult(order_id=r.order_id, outcome="duplicate", signalled=r.signalled, stale=r.stale, reason=r.reason)
    return AcceptResult(order_id=r.order_id, outcome="created")


async def accept_channel_payload(client: Client, engine: Engine, settings: Settings, channel: str, raw: Any, *,
                                 source: str) -> AcceptResult:
    """A raw channel payload → mapped → ``accept_payload``; unmappable → rejection with the raw payload."""
    try:
        payload = map_payload(channel, raw)
    except MappingError as exc:
        return await _reject_raw(engine, source, channel, raw, exc.field, exc.reason)
    return await accept_payload(client, engine, settings, payload, source=source, version=delivery_version(channel, raw))


async def fetch_douyin_detail(api: DouyinClient | None, data: dict[str, Any]) -> dict[str, Any]:
    """The full order for an ids-only push message. ChannelError: retryable (the API is down or slow)
    or not (no account configured, a configuration error, ``DouyinOrderNotFound``)."""
    oid = douyin_mapper.pushed_order_id(data)
    if api is None:
        raise ChannelError("这条推送只带订单号, 但没有配置抖店开放平台账号, 取不到订单详情: 请设置 ZHONGSHU_DOUYIN_API_URL "
                           "(或添加渠道账号 douyin) 后重推 (an ids-only push and no Douyin open API account: "
                           "set ZHONGSHU_DOUYIN_API_URL (or add a channel account 'douyin'), then replay)", retryable=False)
    return await api.order_detail(oid, douyin_mapper.pushed_shop_id(data))


async def accept_douyin_message(client: Client, engine: Engine, settings: Settings, data: Any, *, source: str,
                                api: DouyinClient | None) -> AcceptResult:
    """One paid-order push message → ``accept_channel_payload``; an ids-only message first gets the
    order detail from the open API.

    A detail fetch that fails *transiently* (HTTP 5xx, timeout, code 20000) raises ``ChannelError``
    (retryable) and the webhook answers 503, so Douyin re-sends the push with growing delays: the
    platform's own re-push is exactly the retry we need, costs no human and leaves the ack honest
    (Douyin does not forget a push we did not take). Recording a rejection instead would ack the push,
    make a person replay it and count an outage as bad input. The attempt is recorded either way
    (``detail_unavailable``). What re-sending cannot fix — an order id the API does not know, no API
    account configured, a bad app secret — becomes a recorded rejection with the ids-only message as
    its raw payload, replayable (``POST /v1/channels/rejections/{id}/replay`` fetches the detail again).
    """
    if not douyin_mapper.needs_detail(data):
        return await accept_channel_payload(client, engine, settings, "douyin", data, source=source)
    try:
        detail = await fetch_douyin_detail(api, data)
    except MappingError as exc:
        return await _reject_raw(engine, source, "douyin", data, exc.field, exc.reason)
    except ChannelError as exc:
        if exc.retryable:
            raise
        field = "p_id" if isinstance(exc, DouyinOrderNotFound) else "detail"
        return await _reject_raw(engine, source, "douyin", data, field, _detail_reason(exc))
    return await accept_channel_payload(client, engine, settings, "douyin", detail, source=source)


def _detail_reason(exc: ChannelError) -> str:
    """A rejection's reason for a Douyin order detail that cannot be fetched (and re-sending will not
    fix): Chinese first, the open API's own answer after it."""
    said = str(exc)
    if isinstance(exc, DouyinOrderNotFound):
        return f"抖店开放平台查不到这个订单号, 可能推送有误或是别的店铺的订单 ({said})"
    if "\u4e00" <= said[:1] <= "\u9fff":  # already says it in Chinese (no open API account configured)
        return said
    return f"抖店订单详情取不到, 请检查抖店开放平台账号的配置后重推 ({said})"


async def _reject_raw(engine: Engine, source: str, channel: str, raw: Any, field: str, reason: str) -> AcceptResult:
    rid = await asyncio.to_thread(
        record_rejection_once, engine, source=source, payload=raw,
        errors=[{"field": f"{channel}:{field}", "message": reason}], channel=channel,
        channel_order_id=raw_order_id(channel, raw))
    return AcceptResult(outcome="rejected", rejection_id=rid, reason=f"{field}: {reason}")


# ---------------------------------------------------------------------------------------- activities


def record_erp_doc(engine: Engine, order_id: str, doc_no: str, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(orders.update().where(orders.c.order_id == order_id).values(erp_doc_no=doc_no, erp_pushed_at=at))


class ChannelActivities:
    def __init__(self, engine: Engine, settings: Settings | None = None, *, task_queue: str | None = None):
        self.engine = engine
        s = settings or get_settings()
        self.settings = s.model_copy(update={"task_queue": task_queue}) if task_queue else s
        self._http: httpx.AsyncClient | None = None
        self._tokens: dict[tuple[str, str, str], TokenCache] = {}
        self._accounts: dict[str, tuple[float, ChannelAccount]] = {}

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = partner_http.async_client(limits=httpx.Limits(max_connections=50))
        return self._http

    def _account(self, account_id: str) -> ChannelAccount:
        """The account, read again at most every ``ACCOUNT_TTL`` seconds: every accepted order's
        ERP push needs it, and a changed or disabled account is picked up within that time."""
        now = time.monotonic()
        hit = self._accounts.get(account_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        acc = load_account(self.engine, account_id, self.settings)
        self._accounts[account_id] = (now + ACCOUNT_TTL, acc)
        return acc

    def _cache(self, acc: ChannelAccount, factory: Callable[[], Awaitable[tuple[str, float]]], ahead: float) -> TokenCache:
        key = (acc.account_id, acc.base_url, acc.app_key)
        if key not in self._tokens:
            self._tokens[key] = TokenCache(factory, refresh_ahead=ahead)
        return self._tokens[key]

    def top(self, acc: ChannelAccount) -> TopClient:
        c = TopClient(acc, self.http)
        c.tokens = self._cache(acc, c._fetch_session, float(acc.options.get("refresh_ahead", 300)))
        c.tokens._fetch = c._fetch_session
        return c

    def erp(self, acc: ChannelAccount) -> ErpClient:
        c = ErpClient(acc, self.http)
        c.tokens = self._cache(acc, c._login, float(acc.options.get("refresh_ahead", 120)))
        c.tokens._fetch = c._login
        return c

    @activity.defn(name=CH.COUNT_CHANNEL_WINDOW.name)
    async def count_channel_window(self, req: WindowRequest) -> int:
        """How many trades were modified in the window (the sync pages backwards from the last page)."""
        try:
            acc = await asyncio.to_thread(self._account, req.account_id)
            _, total, _ = await self.top(acc).increment(req.start, req.end, 1, 1)
        except ChannelError as exc:
            raise exc.to_application_error() from None
        return total

    @activity.defn(name=CH.SYNC_CHANNEL_PAGE.name)
    async def sync_channel_page(self, req: PageRequest) -> PageResult:
        """Fetch one page of a window and accept every trade on it (idempotent: a retried or
        re-read page starts no order twice and records no rejection twice)."""
        try:
            acc = await asyncio.to_thread(self._account, req.account_id)
            trades, _, _ = await self.top(acc).increment(req.start, req.end, req.page_no, req.page_size)
        except ChannelError as exc:
            raise exc.to_application_error() from None
        res = PageResult(fetched=len(trades))
        client = activity.client()
        source = f"sync:{acc.account_id}"[:32]
        for trade in trades:
            activity.heartbeat()
            if isinstance(trade, dict) and not tmall_mapper.is_fulfillable(trade):
                res.skipped += 1
                continue
            r = await accept_channel_payload(client, self.engine, self.settings, acc.channel, trade, source=source)
            if r.outcome == "created":
                res.created += 1
            elif r.outcome == "duplicate":
                res.duplicates += 1
            else:
                res.rejected += 1
            if r.order_id:
                res.order_ids.append(r.order_id)
        return res

    @activity.defn(name=PUSH_ORDER_TO_ERP.name)
    async def push_order_to_erp(self, req: ErpPushRequest) -> ErpPushResult:
        """Create the ERP sales order for an accepted order and record its document number on the
        order row. Idempotent: the ERP keys bills by our order id, so a retry returns the same number.
        No ERP configured → doc_no None (nothing to do)."""
        try:
            acc = await asyncio.to_thread(self._account, req.account_id)
        except ChannelError:
            if req.account_id == "erp" and not self.settings.erp_url:
                return ErpPushResult(order_id=req.order.order_id, doc_no=None)
            raise
        try:
            doc_no = await self.erp(acc).save(erp_mapper.to_erp_bill(req.order))
        except ChannelError as exc:
            raise exc.to_application_error() from None
        at = datetime.now(UTC)
        await asyncio.to_thread(record_erp_doc, self.engine, req.order.order_id, doc_no, at)
        return ErpPushResult(order_id=req.order.order_id, doc_no=doc_no, pushed_at=at)

    @activity.defn(name=CH.RECORD_SYNC_HEALTH.name)
    async def record_sync_health(self, r: SyncHealthReport) -> bool:
        """Project a sync workflow's health (idempotent by the report's seq)."""
        return await asyncio.to_thread(record_sync_report, self.engine, r)

    @activity.defn(name=CH.RECORD_WATCH_HEALTH.name)
    async def record_watch_health(self, r: WatchHealthReport) -> bool:
        """Project a webhook watchdog's health (idempotent by the report's seq)."""
        return await asyncio.to_thread(record_watch_report, self.engine, r)

    @activity.defn(name=CH.NOTIFY_CHANNEL_HEALTH.name)
    async def notify_channel_health(self, alert: HealthAlert) -> None:
        """A channel account turned red (or recovered): a WeCom markdown to the group robot, through the
        same client the review to-dos use. No robot configured → logged only. Raises on failure (the
        workflow retries with backoff; a wrong key or a malformed message is not retried)."""
        if not alert.console_url:
            alert = alert.model_copy(update={"console_url": self.settings.console_url})
        content = render_alert(alert)
        if not self.settings.wecom_webhook_url:
            log.warning("no WeCom webhook configured; channel alert not sent:\n%s", content)
            return
        try:
            await WeComClient(self.settings.wecom_webhook_url).send_markdown(content)
        except WeComError as exc:
            raise ApplicationError(mask_phones(str(exc)), type="WeComError", non_retryable=not exc.retryable) from None
        log.info("channel alert sent: %s %s", alert.account_id, alert.state.value)

    def all(self) -> list:
        return [self.count_channel_window, self.sync_channel_page, self.push_order_to_erp, self.record_sync_health,
                self.record_watch_health, self.notify_channel_health]


# ---------------------------------------------------------------------------------------- ERP import


class ImportReport(BaseModel):
    fetched: int = 0
    created: int = 0
    duplicates: int = 0
    rejected: int = 0


async def import_erp_history(client: Client, engine: Engine, settings: Settings, since: datetime, *,
                             account_id: str = "erp", page_size: int = 100,
                             on_page: Callable[[ImportReport], None] | None = None) -> ImportReport:
    """Pull the ERP's sales orders dated ``since`` or later and accept each as channel ``erp``
    (order id = bill number: running the import twice starts nothing twice). Transient ERP
    failures are retried here with backoff (this runs in the CLI, not in an activity)."""
    acc = load_account(engine, account_id, settings)
    report = ImportReport()
    async with partner_http.async_client() as http:
        erp = ErpClient(acc, http)
        start = 0
        while True:
            for attempt in range(6):
                try:
                    bills = await erp.query(since, start, page_size)
                    break
                except ChannelError as exc:
                    if not exc.retryable or attempt == 5:
                        raise
                    await asyncio.sleep(min(0.5 * 2**attempt, 10))
            for bill in bills:
                r = await accept_channel_payload(client, engine, settings, "erp", bill, source="import:erp")
                report.fetched += 1
                field = {"created": "created", "duplicate": "duplicates"}.get(r.outcome, "rejected")
                setattr(report, field, getattr(report, field) + 1)
            if on_page:
                on_page(report)
            if len(bills) < page_size:
                return report
            start += page_size


__all__ = [
    "AcceptResult", "ChannelAccount", "ChannelActivities", "ChannelError", "DouyinClient", "DouyinOrderNotFound",
    "ErpClient", "ErpPushRequest",
    "ErpPushResult", "ImportReport", "PageRequest", "PageResult", "TokenCache", "TopClient", "WindowRequest",
    "REDELIVERED_SIGNAL", "accept_channel_payload", "accept_douyin_message", "accept_payload", "fetch_douyin_detail",
    "import_erp_history", "list_accounts", "load_account",
    "save_account",
]
