"""`zhongshu demo`: push a realistic batch through the public API and watch it settle.

The batch is mostly everyday repair-shop orders that route on their own (杭州 西湖区 big orders to the
direct warehouse, the rest of East China to the 杭州 cloud warehouse, South China to 广州), plus the
situations a reviewer should see, each exactly once:

* an address nobody can resolve            → address review (held)
* an engine assembly for a brand-new shop  → risk review (held: new customer, large amount)
* a light order to 成都 (四川)               → routing review (held: no routing rule matches)
* the same phone + SKU twice in 2 minutes  → the second is merged into the first (刷单疑似)
* an address saying 暂不配送               → intercepted by the risk scan (rejected)
* a malformed payload                      → 422 at the door, recorded as a rejection

Each run has its own customer ids and phone numbers (suffix = the run tag), so runs never interact
through history: no accidental bursts, duplicates or "far above this customer's average" holds, and
every run shows the same outcomes whatever the read model already holds.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from domain.order import order_id_for
from zhongshu_devtools.harness_settings import fakes_base_port
from zhongshu_devtools.sample_orders import PRODUCTS, SHOPS, make_order

SETTLED = {"completed", "held", "rejected", "merged", "cancelled", "routed", "picking", "packed", "shipped", "delivered"}

MEANING = {
    "completed": "done (aftersales window over, or the hub stops at routing)",
    "picking": "in a warehouse wave; the simulated pickers are on it",
    "packed": "packed; waiting for the customer to confirm the delivery point",
    "shipped": "e-waybill issued; the fake carrier pushes tracking",
    "delivered": "signed for; open for aftersales",
    "routed": "routed; released 30 min after the order time (late duplicates can still merge)",
    "held": "waiting for a person — see the review queue",
    "merged": "duplicate folded into an earlier order (促销刷单疑似)",
    "rejected": "intercepted by the risk scan",
    "cancelled": "cancelled",
    "received": "accepted; the worker has not processed it yet",
    "validated": "cleansed; risk scan and routing still running",
}

P = {p[0]: p for p in PRODUCTS}
# everyday baskets: ¥530–750 and ≤ 16 kg (→ ZTO), so no customer's order is far above its own average
BASKETS = [
    [("BOSCH-BP-COROLLA18", 2), ("BOSCH-WIPER-24", 2)],
    [("MOBIL-1-5W30-4L", 2), ("MANN-OF-W712", 2)],
    [("NGK-SP-ILKAR7", 4), ("MANN-OF-W712", 4)],
    [("VARTA-BAT-60AH", 1), ("BOSCH-WIPER-24", 1)],
    [("BOSCH-BP-SYLPHY20", 3), ("MANN-OF-W712", 1)],
]
# big workshop in 西湖区: ≥ ¥2000 each (rule R1 → HZ-DIRECT); heavy ones go 德邦
BIG_BASKETS = [
    [("MICHELIN-205-55R16", 4)],
    [("MOBIL-1-5W30-4L", 6), ("BOSCH-BP-COROLLA18", 1)],
    [("VARTA-BAT-60AH", 2), ("MOBIL-1-5W30-4L", 3)],
]
SHOP = {s[0]: s for s in SHOPS}
EVERYDAY_SHOPS = ["SHOP-HZ-003", "SHOP-NJ-001", "SHOP-SH-001", "SHOP-GZ-001", "SHOP-FZ-001", "SHOP-NN-001"]
BIG_SHOP = "SHOP-HZ-001"
WALK_IN = ("SHOP-HZ-077", "钱师傅", "13757198765", "老地方,仓库后门第三个卷帘门")
CLOSED_SHOP = ("SHOP-SH-031", "马强", "13917654321", "上海市闵行区七莘路1号(门店装修暂不配送)")
SLOT_MINUTES = 16  # one shop's orders this far apart: never 5 in 30 minutes, never duplicates


@dataclass
class DemoOrder:
    kind: str  # "everyday" or the special situation it shows
    payload: dict[str, Any]
    after: int | None = None  # index of an order that must be admitted first
    code: int | None = None
    order_id: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def status(self) -> str | None:
        return self.state.get("status")


def _run_shop(shop: tuple, tag: str) -> tuple:
    """The shop with this run's customer id and phone (same name and address)."""
    cid, name, phone, address = shop
    digits = int(hashlib.sha256(f"{tag}{cid}".encode()).hexdigest(), 16) % 10000
    return f"{cid}-{tag}", name, phone[: len(phone) - 4] + f"{digits:04d}", address


def _basket(skus: list[tuple[str, int]]) -> tuple[list, list[int]]:
    return [P[s] for s, _ in skus], [q for _, q in skus]


def _order(i: int, prefix: str, shop: tuple, skus: list[tuple[str, int]], minutes_ago: float, now: datetime) -> dict:
    products, qtys = _basket(skus)
    payload = make_order(i, random.Random(i), now=now, prefix=prefix, shop=shop, products=products, minutes_ago=minutes_ago)
    for line, q in zip(payload["lines"], qtys, strict=False):
        line["quantity"] = q
    goods = sum(Decimal(ln["unit_price"]) * ln["quantity"] for ln in payload["lines"])
    freight = Decimal("12.00") if goods < 500 else Decimal("0.00")
    payload["freight"], payload["paid_amount"] = str(freight), str(goods + freight)
    return payload


def demo_orders(n: int, prefix: str, tag: str, now: datetime | None = None) -> list[DemoOrder]:
    """The batch: the special situations first (as many as fit in n), then everyday orders."""
    now = now or datetime.now(UTC)
    shop = lambda cid: _run_shop(SHOP[cid], tag)  # noqa: E731
    seq = iter(range(1, 10_000))
    out: list[DemoOrder] = []

    def add(kind: str, payload: dict, after: int | None = None) -> None:
        out.append(DemoOrder(kind, payload, after))

    add("routing review: 四川, no rule", _order(next(seq), prefix, shop("SHOP-CD-001"), BASKETS[0], 12, now))
    add("address review: unresolvable", _order(next(seq), prefix, _run_shop(WALK_IN, tag), BASKETS[1], 14, now))
    add("risk review: new shop, engine", _order(next(seq), prefix, shop("SHOP-HZ-002"), [("ENG-1.5T-EA211", 1)], 25, now))
    add("brushing pair: first", _order(next(seq), prefix, shop("SHOP-HF-001"), BASKETS[0], 20, now))
    add("brushing pair: duplicate", _order(next(seq), prefix, shop("SHOP-HF-001"), BASKETS[0], 18, now), after=len(out) - 1)
    bad = _order(next(seq), prefix, shop("SHOP-BJ-001"), BASKETS[2], 9, now)
    bad["lines"][0]["quantity"] = -2
    bad["customer"]["phone"] = "12345"
    add("malformed → 422", bad)
    add("intercepted: 暂不配送", _order(next(seq), prefix, _run_shop(CLOSED_SHOP, tag), BASKETS[3], 40, now))
    out = out[:n]

    k = 0
    while len(out) < n:
        slot, pos = divmod(k, len(EVERYDAY_SHOPS) + 1)
        # shops staggered by 2 minutes; older than the 30-min release window, so they go on to the warehouse now
        minutes_ago = 31 + slot * SLOT_MINUTES + pos * 2
        if pos == len(EVERYDAY_SHOPS):
            add("everyday (西湖区, big)", _order(next(seq), prefix, shop(BIG_SHOP), BIG_BASKETS[slot % len(BIG_BASKETS)], minutes_ago, now))
        else:
            basket = BASKETS[(slot + pos) % len(BASKETS)]
            add("everyday", _order(next(seq), prefix, shop(EVERYDAY_SHOPS[pos]), basket, minutes_ago, now))
        k += 1
    return out


class _Api:
    def __init__(self, api_url: str, api_key: str):
        self.http = httpx.Client(
            base_url=api_url, headers={"X-API-Key": api_key}, timeout=httpx.Timeout(30, connect=5),
            limits=httpx.Limits(max_connections=16),
        )
        self.closed = False  # set on Ctrl-C: threads still running give up instead of retrying

    def call(self, method: str, path: str, attempts: int = 3, retry_5xx: bool = True, **kw) -> httpx.Response:
        for attempt in range(attempts):
            try:
                r = self.http.request(method, path, **kw)
                if r.status_code < 500 or not retry_5xx or attempt == attempts - 1 or self.closed:
                    return r
            except httpx.TransportError:
                if attempt == attempts - 1 or self.closed:
                    raise
            time.sleep(1 + attempt)
        raise AssertionError("unreachable")


def _submit(api: _Api, o: DemoOrder) -> None:
    try:
        # a 5xx is not retried: the API has waited for the worker already (see below)
        r = api.call("POST", "/v1/orders", attempts=2, retry_5xx=False, json=o.payload)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        o.error = f"{type(exc).__name__}: {exc}"
        return
    except httpx.HTTPError as exc:  # sent, but the answer was lost: it may have started
        o.order_id = order_id_for(o.payload["channel"], o.payload["channel_order_id"])
        o.state = {"status": "received"}
        o.error = f"{type(exc).__name__}: {exc}"
        return
    o.code = r.status_code
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    if r.status_code in (200, 202):
        o.order_id = body["order_id"]
        o.state = {"status": body.get("status"), "merged_into": body.get("merged_into")}
    elif r.status_code >= 500:
        # the workflow may well have started (its id is deterministic): watch for it like the others
        o.order_id = order_id_for(o.payload["channel"], o.payload["channel_order_id"])
        o.state = {"status": "received"}
        o.error = f"HTTP {r.status_code}: {(body.get('message') if body else r.text)[:120]}"
    else:
        o.state = body
        o.error = body.get("message") or r.text[:200]


def _refresh(api: _Api, o: DemoOrder, timeout: float = 10) -> None:
    """The order's live state (the workflow's, or the read model's once it has closed)."""
    try:
        r = api.call("GET", f"/v1/orders/{o.order_id}", attempts=1, timeout=timeout)
    except httpx.HTTPError:
        return
    if r.status_code == 200:
        o.state = r.json()


def _poll_read_model(api: _Api, by_id: dict[str, DemoOrder]) -> set[str]:
    """One cheap list call (read model, no workflow query) updates every order it shows; returns
    the ids it found."""
    try:
        r = api.call("GET", "/v1/orders", attempts=1, params={"limit": 500}, timeout=10)
    except httpx.HTTPError:
        return set()
    if r.status_code != 200:
        return set()
    seen = set()
    for row in r.json().get("items", []):
        o = by_id.get(row.get("order_id"))
        if o is not None:
            o.state = {**o.state, **row}
            seen.add(o.order_id)
    return seen


def run_demo(
    api_url: str,
    api_key: str,
    n: int = 40,
    prefix: str | None = None,
    timeout: float = 120,
    *,
    console: Console | None = None,
    console_url: str | None = None,
    temporal_ui: str | None = None,
    wecom_messages_url: str | None = None,
    concurrency: int = 6,
) -> dict[str, int]:
    """Submit ``n`` payloads, wait (at most ``timeout`` s) for them to settle, print what happened.

    Returns the status counts (plus ``"422"`` for rejections at the door, ``"pending"`` for orders
    that had not settled in time, ``"error"`` for requests that failed)."""
    console = console or Console()
    if console_url is None or temporal_ui is None or wecom_messages_url is None:  # `zhongshu demo` on its own
        from zhongshu.settings import get_settings
        from zhongshu_devtools.stack import temporal_ui_url

        s = get_settings()
        console_url = console_url or s.console_url
        temporal_ui = temporal_ui or temporal_ui_url(s)
        wecom_messages_url = wecom_messages_url or (None if s.wecom_webhook_url else f"http://127.0.0.1:{fakes_base_port()}/messages")
    tag = _base36(int(time.time()) % 36**5)  # a new one every second, repeats after ~2 years
    prefix = prefix or f"DEMO-{tag}-"
    batch = demo_orders(n, prefix, tag)
    api = _Api(api_url, api_key)
    try:
        api.call("GET", "/healthz")
    except httpx.HTTPError as exc:
        raise RuntimeError(f"the API at {api_url} does not answer ({exc}); is the stack up?") from None

    t0 = time.monotonic()
    pool = ThreadPoolExecutor(concurrency, thread_name_prefix="demo")
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=False,
        ) as progress:
            sent = progress.add_task("submitting orders through the API", total=len(batch))

            def submit(o: DemoOrder) -> None:
                _submit(api, o)
                progress.advance(sent)

            list(pool.map(submit, [o for o in batch if o.after is None]))
            list(pool.map(submit, [o for o in batch if o.after is not None]))  # after their anchors

            accepted = [o for o in batch if o.order_id]
            by_id = {o.order_id: o for o in accepted}
            settle = progress.add_task("orders settling (cleanse → dedupe → risk → route)", total=len(accepted))
            deadline = time.monotonic() + timeout
            rnd = 0
            while True:
                seen = _poll_read_model(api, by_id)
                pending = [o for o in accepted if o.status not in SETTLED]
                progress.update(settle, completed=len(accepted) - len(pending))
                if not pending or time.monotonic() > deadline:
                    break
                if time.monotonic() - t0 > 20:
                    progress.update(settle, description=f"orders settling — {len(pending)} still with the worker")
                # not in the read model's first page yet: ask those orders themselves, a few per round
                # (a query waits for the worker, so with a slow worker this must not eat the deadline)
                unseen = [o for o in pending if o.order_id not in seen]
                rnd += 1
                if unseen:
                    start = (rnd * concurrency) % len(unseen)
                    list(pool.map(lambda o: _refresh(api, o, 3), (unseen[start:] + unseen[:start])[:concurrency]))
                time.sleep(0.5)
        # the details worth showing (open reviews, why it was intercepted) come from the workflows
        list(pool.map(lambda o: _refresh(api, o, 5), [o for o in accepted if not o.kind.startswith("everyday") or o.status == "held"]))
    except BaseException:
        api.closed = True  # Ctrl-C: drop the queue and the connections, do not wait for answers
        raise
    finally:
        pool.shutdown(wait=not api.closed, cancel_futures=True)
        api.http.close()
    elapsed = time.monotonic() - t0

    counts = _print_report(console, batch, prefix, elapsed, console_url, temporal_ui, wecom_messages_url)
    return counts


def _print_report(
    console: Console, batch: list[DemoOrder], prefix: str, elapsed: float,
    console_url: str | None, temporal_ui: str | None, wecom_messages_url: str | None,
) -> dict[str, int]:
    accepted = [o for o in batch if o.order_id]
    door = [o for o in batch if o.code == 422]
    failed = [o for o in batch if o.order_id is None and o.code != 422]
    statuses = Counter(o.status if o.status in SETTLED else "pending" for o in accepted)

    t = Table(title=f"demo {prefix.rstrip('-')}: {len(batch)} payloads in {elapsed:.0f} s", title_justify="left")
    t.add_column("outcome")
    t.add_column("orders", justify="right")
    t.add_column("meaning", style="dim")
    for st in ("completed", "delivered", "shipped", "packed", "picking", "routed", "held", "merged", "rejected", "cancelled"):
        if statuses.get(st):
            t.add_row(st, str(statuses[st]), MEANING[st])
    if statuses.get("pending"):
        still = Counter(o.status or "received" for o in accepted if o.status not in SETTLED)
        t.add_row("[yellow]still processing[/yellow]", str(statuses["pending"]),
                  ", ".join(f"{k} {v}" for k, v in still.items()) + " — the worker is slow; they continue in the background")
    if door:
        t.add_row("422 at the door", str(len(door)), "; ".join(
            f"rejection #{o.state.get('rejection_id')}: "
            + ", ".join(e.get("field", "?") for e in o.state.get("errors", [])) for o in door))
    if failed:
        t.add_row("[red]request failed[/red]", str(len(failed)), "; ".join(sorted({o.error or str(o.code) for o in failed}))[:150])
    console.print(t)
    answered_5xx = [o for o in accepted if o.error]
    if answered_5xx:
        console.print(f"[yellow]no clean answer for {len(answered_5xx)} order(s) (e.g. {answered_5xx[0].error!r}); "
                      "their workflow ids are deterministic, so they were followed like the rest "
                      "(see logs/api.log)[/yellow]", markup=True, highlight=False)

    routed = Counter((o.state.get("warehouse"), o.state.get("carrier")) for o in accepted
                     if o.status in ("routed", "completed", "picking", "packed", "shipped", "delivered") and o.state.get("warehouse"))
    if routed:
        r = Table(title="routed by the decision tables", title_justify="left")
        r.add_column("warehouse")
        r.add_column("carrier")
        r.add_column("orders", justify="right")
        for (wh, carrier), c in sorted(routed.items(), key=lambda kv: (-kv[1], kv[0])):
            r.add_row(wh, carrier or "-", str(c))
        console.print(r)

    reviews = [(o, rv) for o in accepted for rv in o.state.get("reviews", []) if rv.get("state") == "open"]
    special = [o for o in accepted if not o.kind.startswith("everyday")]
    if reviews or special:
        v = Table(title="needs a person / worth a look", title_justify="left")
        v.add_column("channel order id", no_wrap=True)
        v.add_column("status")
        v.add_column("review")
        v.add_column("why", overflow="fold")
        seen = set()
        for o, rv in reviews:
            seen.add(o.order_id)
            v.add_row(_short_id(o.order_id), o.status, rv.get("kind", "?"), _short(rv.get("reason", "")))
        for o in special:
            if o.order_id in seen:
                continue
            why = o.kind
            if o.status == "merged":
                why = f"merged into {_short_id(o.state.get('merged_into') or '?')} (same phone + SKU within 5 min)"
            elif o.status == "rejected":
                why = _short(next((e.get("reason", "") for e in reversed(o.state.get("timeline", []))
                                   if e.get("event") in ("order.intercepted", "order.rejected")), o.kind))
            elif "suspected_brushing" in o.state.get("flags", []):
                why = "kept; flagged 促销刷单疑似 (a duplicate was merged into it)"
            v.add_row(_short_id(o.order_id), o.status or "?", "-", why)
        console.print(v)

    nxt = []
    if console_url:
        nxt.append(f"review queue (审核队列):  {console_url}/reviews")
        nxt.append(f"order list:              {console_url}/orders")
    if temporal_ui:
        from urllib.parse import quote

        q = f'WorkflowId STARTS_WITH "order-miniprogram-{prefix}"'
        nxt.append(f"these workflows:         {temporal_ui}?query={quote(q)}")
    if wecom_messages_url:
        try:
            count = httpx.get(wecom_messages_url, timeout=3).json().get("count")
            nxt.append(f"WeCom robot ({count} messages so far): {wecom_messages_url}")
        except (httpx.HTTPError, ValueError):
            pass
    if nxt:
        console.print("[bold]where to look next[/bold]\n  " + "\n  ".join(nxt), soft_wrap=True)  # URLs unbroken
    out = dict(statuses)
    if door:
        out["422"] = len(door)
    if failed:
        out["error"] = len(failed)
    return out


def _short_id(order_id: str) -> str:
    """order-miniprogram-DEMO-X-000001 → DEMO-X-000001 (the demo's orders are all mini-program)."""
    return order_id.removeprefix("order-miniprogram-")


def _short(text: str, limit: int = 110) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _base36(x: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        x, r = divmod(x, 36)
        out = digits[r] + out
        if not x:
            return out
