"""The ``reserve_supplier_stock`` (and ``release_supplier_stock``) activities: hold a supplier's stock at
its regional warehouses, falling back from one to the next.

For each candidate warehouse in order, the lines still unreserved are asked for in one request; a
409 (short) is answered by asking that warehouse again for just the lines it has, and the short
ones move on to the next candidate. What nobody has comes back as failed lines → review.

A 5xx or an unreachable supplier raises a retryable error so Temporal retries the whole activity;
the supplier is idempotent per order + warehouse, and a retry first looks up the reservations the
earlier attempts made (``GET …/reservations?order_id=``), so nothing is held twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import partner_http
from domain.contracts.supplier import RELEASE_SUPPLIER_STOCK, RESERVE_SUPPLIER_STOCK
from domain.supplier import FailedLine, Reservation, ReservationLine, ReservationOutcome, ReservationRequest

log = logging.getLogger("zhongshu.supplier")

DEFAULT_APP_KEY = "zs-supplier-key"  # the fake's; real deployments configure their own


@dataclass
class _Short:
    """A 409 from one warehouse: sku → (wanted, available), and the supplier's reason text."""

    short: dict[str, tuple[int, int]]
    reason: str


class _Missing(Exception):
    """404: the configured warehouse does not exist at the supplier."""


class SupplierActivities:
    def __init__(self, supplier_url: str, app_key: str = DEFAULT_APP_KEY, timeout: float = 10.0):
        self.supplier_url = (supplier_url or "").rstrip("/")
        self.app_key = app_key
        self.timeout = timeout

    # ------------------------------------------------------------ HTTP

    def _check(self, resp: httpx.Response, what: str) -> None:
        if resp.status_code >= 500 or resp.status_code == 429:
            raise ApplicationError(f"supplier API answered HTTP {resp.status_code} ({what})", type="SupplierUnavailable")
        if resp.status_code == 404:
            raise _Missing(_reason(resp))
        if resp.status_code >= 400 and resp.status_code != 409:
            raise ApplicationError(f"supplier API refused {what}: HTTP {resp.status_code} {_reason(resp)}",
                                   type="SupplierRefused", non_retryable=True)

    async def _send(self, client: httpx.AsyncClient, method: str, path: str, **kw) -> httpx.Response:
        try:
            return await client.request(method, f"{self.supplier_url}{path}", headers={"X-App-Key": self.app_key}, **kw)
        except httpx.HTTPError as exc:
            raise ApplicationError(f"supplier API {self.supplier_url} unreachable: {type(exc).__name__}",
                                   type="SupplierUnavailable") from None

    async def _existing(self, client: httpx.AsyncClient, code: str, order_id: str) -> Reservation | None:
        resp = await self._send(client, "GET", f"/v1/warehouses/{code}/reservations", params={"order_id": order_id})
        try:
            self._check(resp, f"lookup at {code}")
        except _Missing:
            return None
        items = resp.json().get("items", [])
        return _reservation(items[0]) if items else None

    async def _reserve(self, client: httpx.AsyncClient, code: str, req: ReservationRequest,
                       lines: list[ReservationLine]) -> Reservation | _Short:
        body = {"order_id": req.order_id, "province": req.province, "adcode": req.adcode,
                "lines": [ln.model_dump() for ln in lines]}
        resp = await self._send(client, "POST", f"/v1/warehouses/{code}/reservations", json=body)
        self._check(resp, f"reservation at {code}")
        if resp.status_code == 409:
            data = _json(resp)
            short = {s["sku"]: (int(s.get("wanted", 0)), int(s.get("available", 0))) for s in data.get("short", [])}
            return _Short(short=short, reason=str(data.get("reason") or "库存不足"))
        return _reservation(resp.json())

    # ------------------------------------------------------------ activities

    @activity.defn(name=RESERVE_SUPPLIER_STOCK.name)
    async def reserve_supplier_stock(self, req: ReservationRequest) -> ReservationOutcome:
        if not self.supplier_url:
            raise ApplicationError("supplier_url is not set (ZHONGSHU_SUPPLIER_URL): cannot reserve supplier stock",
                                   type="SupplierNotConfigured", non_retryable=True)
        remaining: dict[str, ReservationLine] = {}
        for ln in req.lines:
            if ln.sku in remaining:
                remaining[ln.sku] = remaining[ln.sku].model_copy(update={"quantity": remaining[ln.sku].quantity + ln.quantity})
            else:
                remaining[ln.sku] = ln
        reasons: dict[str, list[str]] = {sku: [] for sku in remaining}
        reservations: list[Reservation] = []

        def take(res: Reservation) -> None:
            reservations.append(res)
            for got in res.lines:
                left = remaining.get(got.sku)
                if left is None:
                    continue
                if got.quantity >= left.quantity:
                    del remaining[got.sku]
                else:
                    remaining[got.sku] = left.model_copy(update={"quantity": left.quantity - got.quantity})

        async with partner_http.async_client(timeout=self.timeout) as client:
            retrying = _attempt() > 1
            if retrying:  # an earlier attempt may have reserved somewhere before failing
                for code in req.candidates:
                    if (found := await self._existing(client, code, req.order_id)) is not None:
                        take(found)
            done = {r.supplier_warehouse for r in reservations}
            for code in req.candidates:
                if not remaining:
                    break
                if code in done:  # one reservation per order and warehouse
                    continue
                try:
                    got = await self._reserve(client, code, req, list(remaining.values()))
                    if isinstance(got, _Short):
                        for sku, (wanted, available) in got.short.items():
                            if sku in reasons:
                                reasons[sku].append(f"{code}: 库存不足 (有 {available}, 需 {wanted})")
                        partial = [ln for sku, ln in remaining.items() if sku not in got.short]
                        if partial:
                            got = await self._reserve(client, code, req, partial)
                    if isinstance(got, Reservation):
                        take(got)
                    elif isinstance(got, _Short) and got.short:
                        for sku in remaining:
                            if sku in got.short and not any(r.startswith(f"{code}:") for r in reasons[sku]):
                                reasons[sku].append(f"{code}: {got.reason}")
                except _Missing as exc:
                    for sku in remaining:
                        reasons[sku].append(f"{code}: 供应商仓不存在 ({exc})")

        if not req.candidates:
            for sku in remaining:
                reasons[sku].append(f"供应商 {req.supplier or '?'} 没有配置区域仓 (ZHONGSHU_SUPPLIERS)")
        failed = [FailedLine(sku=ln.sku, name=ln.name, quantity=ln.quantity, reasons=reasons.get(ln.sku, []))
                  for ln in remaining.values()]
        outcome = ReservationOutcome(order_id=req.order_id, reservations=reservations, failed=failed)
        log.info("supplier reservation for %s: %s", req.order_id, outcome.summary())
        return outcome

    @activity.defn(name=RELEASE_SUPPLIER_STOCK.name)
    async def release_supplier_stock(self, reservation: Reservation) -> None:
        """Give a reservation back (the order was cancelled or re-sourced); releasing twice is harmless."""
        if not self.supplier_url:
            raise ApplicationError("supplier_url is not set (ZHONGSHU_SUPPLIER_URL)", type="SupplierNotConfigured",
                                   non_retryable=True)
        async with partner_http.async_client(timeout=self.timeout) as client:
            resp = await self._send(
                client, "DELETE", f"/v1/warehouses/{reservation.supplier_warehouse}/reservations/{reservation.reservation_no}")
            try:
                self._check(resp, f"release of {reservation.reservation_no}")
            except _Missing:
                log.info("reservation %s already gone at %s", reservation.reservation_no, reservation.supplier_warehouse)

    def all(self) -> list:
        return [self.reserve_supplier_stock, self.release_supplier_stock]


def _attempt() -> int:
    try:
        return activity.info().attempt
    except RuntimeError:  # called outside an activity (a plain test)
        return 1


def _json(resp: httpx.Response) -> dict:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _reason(resp: httpx.Response) -> str:
    data = _json(resp)
    parts = [str(data[k]) for k in ("error", "reason") if data.get(k)] + [str(f) for f in data.get("fields", [])]
    return "; ".join(parts) or resp.text[:200]


def _reservation(body: dict) -> Reservation:
    try:
        return Reservation(supplier_warehouse=body["warehouse"], reservation_no=body["reservation_no"],
                           lines=[ReservationLine(**ln) for ln in body["lines"]],
                           expected_arrival=body["expected_arrival"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ApplicationError(f"supplier API answered an unreadable reservation: {exc}",
                               type="SupplierBadAnswer") from None
