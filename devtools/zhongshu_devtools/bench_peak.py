"""`zhongshu bench peak`: a double-12 day replayed through the real stack, minute by minute.

Starts its own stack on a port block — the Temporal dev server (SQLite-persisted, as `make up`), the fake
partners (WeCom, carriers on autopilot, mini-program, Douyin, Tmall, ERP, suppliers), ``--workers N``
`zhongshu worker` processes on one task queue and the API — against a fresh PostgreSQL database (SQLite
when PostgreSQL is not there). Then it plays the day from this process over the public interfaces only:

- **arrivals** on a day curve (default 12,000 orders in 20 minutes, the first 5 % of the time at 10× the
  rate): Douyin webhook pushes (signed), orders over ``POST /v1/orders``, Tmall trades placed on the fake
  open platform and picked up by the Tmall sync workflow; among them re-deliveries (the same order
  pushed or posted again), brushing duplicates (same phone and SKU minutes apart), risk hits (``暂不配送``),
  unresolvable addresses and address changes by customer service;
- **the floor**: simulated pickers claim tasks through the device API, scan with the product's own scan
  checker (``domain.warehouse.ScanSession``) with injected wrong scans, report the mis-scans they caught
  and confirm; the lead closes the open waves every ``--close-every`` seconds; packing is automatic
  (``ZHONGSHU_WAVE_AUTO_PACK``);
- **customers** confirm the delivery point on the confirmation page from their mini-program card;
- **carriers** (the fake, on autopilot) push tracking until signed.

The day is compressed, so the order's own windows are compressed with it (``--dedupe-seconds``,
burst window one minute): orders are released a minute after they were placed.

Per minute it reports orders accepted, the backlog in Temporal (the task queue's approximate backlog;
orders still ``received`` in the read model beside it), accept p99, accept → routed p50/p99, review task
→ WeCom notice p99 (the field's bar 90 s, ours < 2 s), waves closed, picks/s and mis-scans caught; at the
end lost and duplicated orders and waybills (must be 0). It writes ``peak.png`` (matplotlib) and
``peak.html`` (altair) of the backlog and latencies over time, and ``summary.md`` / ``summary.html``, a
one-page table, into ``--out``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import altair as alt
import httpx
import matplotlib
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import create_engine, func, select, text
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from domain import geo
from domain.contracts.search_attributes import ALL as SEARCH_ATTRIBUTES
from domain.warehouse import PickTask, ScanResult, ScanSession
from fakes.douyin import push_body, signed_headers
from fakes.douyin import sample_order as douyin_order
from fakes.tmall import sample_trade
from store.db import engine_for, migrate
from store.schema import orders, review_tasks, timeline_events, waves
from store.schema import shipments as shipments_table
from workflows.channel_sync import ensure_sync_workflow
from zhongshu.settings import ROOT, Settings
from zhongshu_devtools.bench_intake import pct
from zhongshu_devtools.binaries import DEV_SERVER_SQLITE_ARGS, temporal_cli
from zhongshu_devtools.fakes_stack import start_fakes
from zhongshu_devtools.floor_sim import WAREHOUSES, seed_demo_stock
from zhongshu_devtools.sample_orders import PRODUCTS, _line
from zhongshu_devtools.supervisor import Child, Supervisor

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

KEY = "bench-peak-key"
DONE = {"shipped", "delivered", "completed", "held", "rejected", "merged", "cancelled"}  # past the floor (or a person's)
KINDS = ("redelivery", "duplicate", "risk", "unresolvable", "address_change")
API_ONLY = ("duplicate", "address_change")  # a brushing twin and customer service's change come in over the API
SETTLED = {"routed", "picking", "packed", "shipped", "delivered", "completed", "held", "rejected", "merged", "cancelled"}
ADDRESSES = ["浙江省杭州市萧山区北干街道金城路188号", "江苏省南京市鼓楼区中山北路30号", "上海市浦东新区张江路88号",
             "广东省广州市天河区天河路385号", "浙江省宁波市鄞州区首南街道天童南路588号", "安徽省合肥市蜀山区长江西路99号",
             "浙江省杭州市西湖区文三路90号", "广东省深圳市南山区科技园科苑路15号"]
UNRESOLVABLE = "火星市奥林匹斯山基地3号"
RISKY = "浙江省杭州市余杭区文一西路969号(暂不配送)"
NEW_ADDRESS = "浙江省杭州市滨江区江南大道100号"


# ---------------------------------------------------------------- the day


@dataclass(frozen=True)
class Curve:
    """``orders`` over ``minutes``; the first ``spike_share`` of the time runs at ``spike``× the rest's rate."""

    orders: int = 12_000
    minutes: float = 20.0
    spike: float = 10.0
    spike_share: float = 0.05

    def offsets(self, rnd: random.Random) -> list[float]:
        total = self.minutes * 60
        d = total * self.spike_share
        weight = self.spike * d + (total - d)
        n_spike = round(self.orders * self.spike * d / weight)
        out = [rnd.uniform(0, d) for _ in range(n_spike)] + [rnd.uniform(d, total) for _ in range(self.orders - n_spike)]
        return sorted(out)


@dataclass(frozen=True)
class Mix:
    """Shares of channels and of the things that go wrong on a real day."""

    douyin: float = 0.40  # webhook pushes
    tmall: float = 0.25  # trades on the open platform, fetched by the sync workflow
    # the rest: POST /v1/orders (mini-program backend, sales)
    redelivery: float = 0.05  # the same order delivered again
    duplicate: float = 0.02  # a brushing pair: same phone and SKU minutes apart
    risk: float = 0.03  # an address marked 暂不配送: intercepted for a risk review
    unresolvable: float = 0.02  # an address review
    address_change: float = 0.03  # customer service changes the address before dispatch
    engine: float = 0.01  # an engine assembly (¥12,800+): a new customer's first order that large is a risk review
    wrong_scan: float = 0.05  # scans replaced by a wrong one before the right one


@dataclass
class Arrival:
    at: float  # seconds after the start
    channel: str  # douyin | api | tmall
    kind: str = "plain"  # plain | redelivery | duplicate | risk | unresolvable | address_change


def plan_day(curve: Curve, mix: Mix, seed: int = 12) -> list[Arrival]:
    rnd = random.Random(seed)
    out = []
    for at in curve.offsets(rnd):
        r = rnd.random()
        channel = "douyin" if r < mix.douyin else "tmall" if r < mix.douyin + mix.tmall else "api"
        kind = "plain"
        if channel != "tmall":
            k, acc = rnd.random(), 0.0
            for name in KINDS:
                acc += getattr(mix, name)
                if k < acc:
                    kind = name
                    break
        if channel == "douyin" and kind in API_ONLY:
            kind = "plain"
        out.append(Arrival(at, channel, kind))
    if len(out) >= 20:  # a small day still has one of each trouble (the smoke test checks them all)
        for name in KINDS:
            if not any(x.kind == name for x in out):
                a = next((a for a in out[1:] if a.kind == "plain" and a.channel in (("api",) if name in API_ONLY
                                                                                  else ("api", "douyin"))), None)
                if a is not None:
                    a.kind = name
    return out


# ---------------------------------------------------------------- what we measure


@dataclass
class Tally:
    t0: float = 0.0  # wall clock (epoch seconds) of the day's start
    expected: dict[tuple[str, str], float] = field(default_factory=dict)  # (channel, channel order id) → accepted at
    offered: set[tuple[str, str]] = field(default_factory=set)  # everything sent, accepted or not (a 503 may have started it)
    accept_lat: list[tuple[float, float]] = field(default_factory=list)  # (at, seconds)
    sent: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    duplicates_sent: int = 0
    tmall_placed: int = 0
    tmall_seen: dict[str, float] = field(default_factory=dict)
    picks: list[float] = field(default_factory=list)
    injected: int = 0
    caught: int = 0
    caught_at: list[float] = field(default_factory=list)
    confirmed: int = 0
    address_changes: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)  # every few seconds: backlog, counts
    lock: threading.Lock = field(default_factory=threading.Lock)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds used during the day, by role
    split: bool = False  # the stages had queues of their own

    def minute(self, at: float) -> int:
        return int((at - self.t0) // 60)


CHEAP = [i for i, p in enumerate(PRODUCTS) if float(p[3]) < 1000]


def sample_index(rnd: random.Random, mix: Mix, counter: list[int]) -> int:
    """The fakes' sample generators put an engine assembly in every tenth order (index % 10 == 0):
    skip those but for the mix's share."""
    counter[0] += 1
    if counter[0] % 10 == 0 and rnd.random() >= mix.engine:
        counter[0] += 1
    return counter[0]


def api_payload(rnd: random.Random, *, address: str | None = None, phone: str | None = None,
                product: int | None = None, coid: str | None = None, engine: float = 0.0) -> dict[str, Any]:
    if product is None:
        product = rnd.randrange(len(PRODUCTS)) if rnd.random() < engine else rnd.choice(CHEAP)
    p = PRODUCTS[product]
    line = _line(p, 1 + rnd.randrange(2))
    paid = f"{float(line['unit_price']) * line['quantity']:.2f}"
    n = rnd.randrange(10**8)
    return {"channel": "miniprogram", "channel_order_id": coid or f"PEAK{uuid.uuid4().hex[:12]}",
            "ordered_at": datetime.now(UTC).isoformat(),
            "customer": {"id": f"SHOP-P{n:08d}", "name": "李师傅", "phone": phone or f"138{n:08d}"},
            "address": {"raw": address or rnd.choice(ADDRESSES)}, "lines": [line], "freight": "0.00", "paid_amount": paid}


class Load:
    """The arrivals, over HTTP, at their planned times."""

    def __init__(self, s: Settings, fakes: dict[str, str], tally: Tally, mix: Mix, seed: int = 3):
        self.s, self.fakes, self.tally, self.mix = s, fakes, tally, mix
        self.rnd = random.Random(seed)
        self.http = httpx.AsyncClient(base_url=s.api_base_url, headers={"X-API-Key": KEY}, timeout=60,
                                      limits=httpx.Limits(max_connections=64))
        self.sem = asyncio.Semaphore(48)
        self.tasks: list[asyncio.Task] = []
        self.tmall_due = 0
        self.counter = [rnd_start := random.Random(seed).randrange(10**6) * 10]
        self.tmall_counter = [rnd_start + 5 * 10**6]

    async def _post(self, path: str, *, json_body: Any = None, content: bytes | None = None,
                    headers: dict[str, str] | None = None) -> httpx.Response | None:
        async with self.sem:
            start = time.time()
            try:
                r = await self.http.post(path, json=json_body, content=content, headers=headers)
            except httpx.HTTPError as exc:
                self.tally.errors[type(exc).__name__] += 1
                return None
            self.tally.accept_lat.append((start, time.time() - start))
            if r.status_code >= 300:
                self.tally.errors[f"{path.split('/')[2]} {r.status_code}"] += 1
            return r

    async def douyin(self, a: Arrival) -> None:
        o = douyin_order(sample_index(self.rnd, self.mix, self.counter), seed=self.rnd.randrange(10**12))
        if a.kind == "risk":
            o["post_addr"]["detail"] = o["post_addr"].get("detail", "") + "(暂不配送)"
        elif a.kind == "unresolvable":
            o["post_addr"] = {"province": {"name": "火星"}, "city": {"name": "奥林匹斯"}, "town": {"name": "山基地"},
                              "street": {"name": ""}, "detail": "3号"}
        coid = str(o["shop_order_id"])
        times = 2 if a.kind == "redelivery" else 1
        for i in range(times):
            if i:
                await asyncio.sleep(self.rnd.uniform(2, 15))  # the platform retries later
            body = push_body([o])
            self.tally.offered.add(("douyin", coid))
            r = await self._post("/v1/webhooks/douyin", content=body,
                                 headers=signed_headers(body, self.s.douyin_app_key, self.s.douyin_app_secret))
            if r is not None and r.status_code == 200:
                self.tally.expected.setdefault(("douyin", coid), time.time())
        self.tally.sent["douyin"] += times

    async def api(self, a: Arrival) -> None:
        address = RISKY if a.kind == "risk" else UNRESOLVABLE if a.kind == "unresolvable" else None
        p = api_payload(self.rnd, address=address, engine=self.mix.engine)
        times = 2 if a.kind == "redelivery" else 1
        oid = None
        for i in range(times):
            if i:
                await asyncio.sleep(self.rnd.uniform(1, 10))
            self.tally.offered.add(("miniprogram", p["channel_order_id"]))
            r = await self._post("/v1/orders", json_body=p)
            if r is not None and r.status_code in (200, 202):
                self.tally.expected.setdefault(("miniprogram", p["channel_order_id"]), time.time())
                oid = r.json()["order_id"]
        self.tally.sent["api"] += times
        if a.kind == "duplicate":  # the brushing twin: same phone and SKU, another order number
            await asyncio.sleep(self.rnd.uniform(3, 15))
            twin = api_payload(self.rnd, phone=p["customer"]["phone"], product=next(
                i for i, x in enumerate(PRODUCTS) if x[0] == p["lines"][0]["sku"]))
            twin["lines"] = p["lines"]
            twin["paid_amount"] = p["paid_amount"]
            self.tally.offered.add(("miniprogram", twin["channel_order_id"]))
            r = await self._post("/v1/orders", json_body=twin)
            if r is not None and r.status_code in (200, 202):
                self.tally.expected.setdefault(("miniprogram", twin["channel_order_id"]), time.time())
                self.tally.duplicates_sent += 1
            self.tally.sent["api"] += 1
        if a.kind == "address_change" and oid:
            await asyncio.sleep(self.rnd.uniform(10, 30))
            r = await self._post(f"/v1/orders/{oid}/address", json_body={"address": NEW_ADDRESS, "requested_by": "客服小王"})
            self.tally.address_changes += r is not None and r.status_code == 200

    async def place_tmall(self, http: httpx.AsyncClient) -> None:
        if self.tmall_due > self.tally.tmall_placed:
            k = self.tmall_due - self.tally.tmall_placed
            trades = [sample_trade(sample_index(self.rnd, self.mix, self.tmall_counter), seed=self.rnd.randrange(10**12))
                      for _ in range(k)]
            r = await http.post(f"{self.fakes['fake-tmall']}/_control/trades", json=trades)
            if r.status_code == 200:
                self.tally.tmall_placed += k

    async def play(self, plan: list[Arrival], progress: Progress, task: Any) -> None:
        start = self.tally.t0
        async with httpx.AsyncClient(timeout=30) as http:
            last_tmall = time.time()
            for a in plan:
                delay = start + a.at - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if a.channel == "tmall":
                    self.tmall_due += 1
                else:
                    self.tasks.append(asyncio.create_task(getattr(self, a.channel)(a)))
                if time.time() - last_tmall > 3:  # the platform's trades appear in batches
                    await self.place_tmall(http)
                    last_tmall = time.time()
                progress.advance(task)
            await self.place_tmall(http)
        await asyncio.gather(*self.tasks)


# ---------------------------------------------------------------- the floor and the customers


class FloorCrew:
    """Pickers with the product's scan checker, the lead closing waves, customers confirming cards."""

    def __init__(self, s: Settings, mini_url: str, tally: Tally, mix: Mix, close_every: float, pickers: int = 2):
        self.s, self.mini_url, self.tally, self.mix, self.close_every = s, mini_url, tally, mix, close_every
        self.pickers = pickers
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.handled: set[tuple[str, int]] = set()

    def start(self) -> None:
        for w in WAREHOUSES:
            for i in range(self.pickers):
                self.threads.append(threading.Thread(target=self._picker, args=(w, i), daemon=True))
        self.threads += [threading.Thread(target=self._lead, daemon=True), threading.Thread(target=self._customers, daemon=True)]
        for t in self.threads:
            t.start()

    def close(self) -> None:
        """Stop asking; a thread still in a call finishes it on its own (daemon threads, at most a few seconds)."""
        self.stop.set()
        deadline = time.monotonic() + 5
        for t in self.threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))

    def _api(self) -> httpx.Client:
        return httpx.Client(base_url=self.s.api_base_url, headers={"X-API-Key": KEY, "User-Agent": "zhongshu-floor-sim"},
                            timeout=30)

    def _picker(self, w: str, i: int) -> None:
        rnd = random.Random(hash((w, i)))
        device, picker = f"PEAK-{w}-{i}", f"拣货员{w[-5:]}{i}"
        with self._api() as api:
            while not self.stop.is_set():
                try:
                    r = api.post(f"/v1/warehouse/{w}/claim", json={"device_id": device, "picker": picker})
                    if r.status_code != 200:
                        self.stop.wait(1.0)  # idle devices ask again every second
                        continue
                    t = PickTask.model_validate(r.json())
                    session = ScanSession.start(t)
                    right = [t.bin, t.barcode or t.sku, f"QTY:{t.quantity}"]
                    outcome = None
                    for step, code in enumerate(right):
                        if rnd.random() < self.mix.wrong_scan:
                            wrong = {0: "Z-99-99", 1: "6999999999999", 2: f"QTY:{t.quantity + 1}"}[step]
                            self.tally.injected += 1
                            o = session.scan(wrong)
                            if o.mis_scan is not None and o.result in (ScanResult.REJECTED, ScanResult.REPRINT):
                                self.tally.caught += 1
                                self.tally.caught_at.append(time.time())
                                api.post(f"/v1/warehouse/{w}/misscans", json={
                                    "event_id": uuid.uuid4().hex, "picker": picker, "device_id": device,
                                    "task_id": t.task_id, "kind": o.mis_scan.value, "barcode": wrong})
                        outcome = session.scan(code)
                        if outcome.result == ScanResult.CONFIRMED:
                            break
                    qty = (outcome.picked_qty if outcome and outcome.picked_qty else t.quantity)
                    r = api.post(f"/v1/warehouse/{w}/tasks/{t.task_id}/confirm",
                                 json={"picked_qty": qty, "device_id": device, "picker": picker})
                    if r.status_code == 200:
                        self.tally.picks.append(time.time())
                        if r.json().get("state") == "qc_pending":
                            api.post(f"/v1/warehouse/{w}/tasks/{t.task_id}/qc", json={"passed": True, "inspector": "质检员"})
                except httpx.HTTPError:
                    self.stop.wait(1.0)

    def _lead(self) -> None:
        with self._api() as api:
            while not self.stop.wait(self.close_every):
                for w in WAREHOUSES:
                    with contextlib.suppress(httpx.HTTPError):
                        api.post(f"/v1/warehouse/{w}/close-waves")

    def _customers(self) -> None:
        with self._api() as api:
            while not self.stop.wait(2.0):
                try:
                    cards = httpx.get(f"{self.mini_url}/_control/cards", timeout=30).json().get("items", [])
                    for card in cards:
                        key = (card["order_id"], card["round"])
                        if key in self.handled:
                            continue
                        self.handled.add(key)
                        o = api.get(f"/v1/orders/{card['order_id']}")
                        body = o.json() if o.status_code == 200 else {}
                        address = body.get("address") or (body.get("order") or {}).get("address")
                        c = geo.centroid(address["adcode"]) if address else None
                        if c is None:
                            continue
                        r = httpx.post(card["url"] + "/confirm", json={"lat": c.lat, "lng": c.lng}, timeout=30)
                        self.tally.confirmed += r.status_code == 200 and bool(r.json().get("accepted"))
                except (httpx.HTTPError, ValueError, KeyError):  # the next round asks again
                    continue


# ---------------------------------------------------------------- sampling


async def temporal_backlog(client: Client, queue: str) -> int | None:
    """The task queue's approximate backlog (workflow + activity tasks), or None when the server has no stats."""
    total = 0
    try:
        for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
            r = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
                namespace=client.namespace, task_queue=TaskQueue(name=queue), task_queue_type=kind, report_stats=True))
            total += r.stats.approximate_backlog_count
    except Exception:  # noqa: BLE001 - an older server without stats: the read model's count stands in
        return None
    return total


def _read_model(engine: Any) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(orders.c.order_id, orders.c.channel, orders.c.channel_order_id, orders.c.status)).all()
        routed = dict(conn.execute(select(timeline_events.c.order_id, func.min(timeline_events.c.at)).where(
            timeline_events.c.event == "order.routed").group_by(timeline_events.c.order_id)).all())
        closed = [r[0] for r in conn.execute(select(waves.c.closed_at).where(waves.c.closed_at.is_not(None))).all()]
    return {"rows": rows, "routed": routed, "closed": closed}


async def sampler(client: Client, engine: Any, s: Settings, tally: Tally, stop: asyncio.Event, every: float = 5.0,
                  queues: tuple[str, ...] = ()) -> None:
    while True:
        counts = [await temporal_backlog(client, q) for q in (s.task_queue, *queues)]
        backlog = None if any(c is None for c in counts) else sum(c for c in counts if c is not None)
        rm = await asyncio.to_thread(_read_model, engine)
        status = Counter(r.status for r in rm["rows"])
        tally.samples.append({"on_floor": sum(n for k, n in status.items() if k not in DONE),"t": time.time() - tally.t0, "temporal_backlog": backlog,
                              "received": status.get("received", 0) + status.get("validated", 0),
                              "orders": len(rm["rows"]), "routed": len(rm["routed"]),
                              "delivered": status.get("delivered", 0) + status.get("completed", 0)})
        for r in rm["rows"]:
            if r.channel == "tmall" and r.order_id not in tally.tmall_seen:
                tally.tmall_seen[r.order_id] = time.time()
        if stop.is_set():
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


# ---------------------------------------------------------------- the report


def _aware(dt: datetime) -> float:
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def report(engine: Any, tally: Tally, fakes: dict[str, str], workers: int, curve: Curve, out: Path) -> dict[str, Any]:
    rm = _read_model(engine)
    by_key = {(r.channel, r.channel_order_id): r for r in rm["rows"]}
    accepted_at = dict(tally.expected)
    for oid, seen in tally.tmall_seen.items():
        row = next((r for r in rm["rows"] if r.order_id == oid), None)
        if row is not None:
            accepted_at[(row.channel, row.channel_order_id)] = seen
    lost = [k for k in tally.expected if k not in by_key]
    lost_tmall = max(0, tally.tmall_placed - sum(1 for r in rm["rows"] if r.channel == "tmall"))
    known = set(tally.expected) | tally.offered | {(r.channel, r.channel_order_id) for r in rm["rows"] if r.channel == "tmall"}
    extra = [r for r in rm["rows"] if (r.channel, r.channel_order_id) not in known and not r.order_id.count("~")]
    unsettled = [r.order_id for r in rm["rows"] if r.status not in SETTLED]
    routed_lat: dict[int, list[float]] = defaultdict(list)
    for key, at in accepted_at.items():
        row = by_key.get(key)
        if row is not None and row.order_id in rm["routed"]:
            routed_lat[tally.minute(at)].append(max(0.0, _aware(rm["routed"][row.order_id]) - at))
    # review task → WeCom notice: the first message naming the order after the task was opened
    messages = httpx.get(f"{fakes['fake-wecom']}/messages", timeout=30).json()
    messages = messages.get("items", messages) if isinstance(messages, dict) else messages
    with engine.connect() as conn:
        tasks = conn.execute(select(review_tasks.c.order_id, review_tasks.c.created_at)).all()
        parcels = conn.execute(select(shipments_table.c.shipment_id, shipments_table.c.waybill_no)).all()
    notes: dict[str, list[float]] = defaultdict(list)
    for m in messages:
        for oid in {t.order_id for t in tasks if t.order_id in (m.get("content") or "")}:
            notes[oid].append(datetime.fromisoformat(m["received_at"]).timestamp())
    notice_lat: dict[int, list[float]] = defaultdict(list)
    unnoticed = 0
    for t in tasks:
        created = _aware(t.created_at)
        after = [x for x in notes.get(t.order_id, []) if x >= created - 1.0]
        if after:
            notice_lat[tally.minute(created)].append(max(0.0, min(after) - created))
        else:
            unnoticed += 1
    waybills = httpx.get(f"{fakes['fake-carriers']}/control/waybills", timeout=30).json().get("items", [])
    per_parcel = Counter(w["order_id"] for w in waybills)
    dup_waybills = sum(n - 1 for n in per_parcel.values() if n > 1)
    carrier_nos = {w["waybill_no"] for w in waybills}
    lost_waybills = sum(1 for p in parcels if p.waybill_no and p.waybill_no not in carrier_nos)
    # per minute
    minutes = max([tally.minute(a) for a, _ in tally.accept_lat] + [tally.minute(tally.t0 + s["t"]) for s in tally.samples] + [0]) + 1
    acc_by_min: dict[int, list[float]] = defaultdict(list)
    for a, lat in tally.accept_lat:
        acc_by_min[tally.minute(a)].append(lat)
    accepted_by_min = Counter(tally.minute(a) for a in accepted_at.values())
    picks_by_min = Counter(tally.minute(a) for a in tally.picks)
    caught_by_min = Counter(tally.minute(a) for a in tally.caught_at)
    closed_by_min = Counter(tally.minute(_aware(c)) for c in rm["closed"])
    rows = []
    for m in range(minutes):
        smp = [s for s in tally.samples if int(s["t"] // 60) == m]
        tb = [s["temporal_backlog"] for s in smp if s["temporal_backlog"] is not None]
        rows.append({
            "minute": m + 1, "accepted": accepted_by_min.get(m, 0),
            "backlog_temporal_max": max(tb) if tb else None, "received_max": max((s["received"] for s in smp), default=0),
            "accept_p99_ms": pct(acc_by_min[m], 99) * 1000 if acc_by_min.get(m) else None,
            "routed_p50_s": pct(routed_lat[m], 50) if routed_lat.get(m) else None,
            "routed_p99_s": pct(routed_lat[m], 99) if routed_lat.get(m) else None,
            "notice_p99_s": pct(notice_lat[m], 99) if notice_lat.get(m) else None,
            "waves_closed": closed_by_min.get(m, 0), "picks_per_s": picks_by_min.get(m, 0) / 60,
            "mis_scans_caught": caught_by_min.get(m, 0)})
    all_routed = [x for v in routed_lat.values() for x in v]
    all_notice = [x for v in notice_lat.values() for x in v]
    status = Counter(r.status for r in rm["rows"])
    run_seconds = max((s["t"] for s in tally.samples), default=0.0)
    summary = {
        "workers": f"{workers}" + (" (stages split)" if tally.split else ""), "curve": f"{curve.orders} orders / {curve.minutes:g} min, {curve.spike:g}× spike",
        "cores": os.cpu_count(), "run_seconds": round(run_seconds), "sent": dict(tally.sent), "tmall_placed": tally.tmall_placed,
        "orders_in_read_model": len(rm["rows"]), "by_status": dict(status), "routed": len(rm["routed"]),
        "accept_p50_ms": pct([x for _, x in tally.accept_lat], 50) * 1000,
        "accept_p99_ms": pct([x for _, x in tally.accept_lat], 99) * 1000,
        "routed_p50_s": pct(all_routed, 50), "routed_p99_s": pct(all_routed, 99),
        "review_tasks": len(tasks), "notice_p99_s": pct(all_notice, 99), "reviews_without_notice": unnoticed,
        "waves_closed": len(rm["closed"]), "picks": len(tally.picks), "mis_scans_injected": tally.injected,
        "mis_scans_caught": tally.caught, "confirmed_by_customers": tally.confirmed,
        "address_changes_accepted": tally.address_changes, "duplicates_sent": tally.duplicates_sent,
        "not_settled_at_end": len(unsettled), "lost_orders": len(lost) + lost_tmall, "duplicated_orders": len(extra),
        "waybills": len(waybills), "lost_waybills": lost_waybills, "duplicated_waybills": dup_waybills,
        "errors": dict(tally.errors),
        "orders_per_s_routed": len(rm["routed"]) / run_seconds if run_seconds else 0.0,
        "cpu_seconds": tally.cpu,
        "cpu_ms_per_order": {k: round(v * 1000 / max(1, len(rm["rows"]))) for k, v in tally.cpu.items()},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "minutes.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1))
    (out / "samples.json").write_text(json.dumps(tally.samples, ensure_ascii=False, indent=1))
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1, default=str))
    charts(rows, tally.samples, summary, out)
    one_page(rows, summary, out)
    return {"rows": rows, "summary": summary}


def charts(rows: list[dict[str, Any]], samples: list[dict[str, Any]], summary: dict[str, Any], out: Path) -> None:
    """peak.png (matplotlib) and peak.html (altair): backlog over time, latencies per minute."""
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=False)
    t = [s["t"] / 60 for s in samples]
    ax1.plot(t, [s["received"] for s in samples], label="orders not yet processed (read model)")
    if any(s["temporal_backlog"] is not None for s in samples):
        ax1.plot(t, [s["temporal_backlog"] or 0 for s in samples], label="Temporal task queue backlog")
    ax1.plot(t, [s["routed"] for s in samples], label="routed (cumulative)", linestyle="--")
    ax1.set_xlabel("minute")
    ax1.set_ylabel("orders / tasks")
    ax1.legend(loc="upper left", fontsize=8)
    ax1.set_title(f"bench peak: {summary['curve']}, {summary['workers']} worker process(es)")
    m = [r["minute"] for r in rows]
    for key, label in (("accept_p99_ms", "accept p99 (s)"), ("routed_p50_s", "accept → routed p50 (s)"),
                       ("routed_p99_s", "accept → routed p99 (s)"), ("notice_p99_s", "review → WeCom p99 (s)")):
        ys = [(r[key] / 1000 if key.endswith("_ms") else r[key]) if r[key] is not None else float("nan") for r in rows]
        ax2.plot(m, ys, marker="o", label=label)
    ax2.set_xlabel("minute (by accept time)")
    ax2.set_ylabel("seconds")
    ax2.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "peak.png", dpi=110)
    plt.close(fig)
    backlog = pd.DataFrame([{"minute": s["t"] / 60, "series": name, "value": s[key]} for s in samples
                            for key, name in (("received", "not yet processed"), ("temporal_backlog", "Temporal backlog"),
                                              ("routed", "routed (cumulative)")) if s[key] is not None])
    lat = pd.DataFrame([{"minute": r["minute"], "series": name, "seconds": (r[key] / 1000 if key.endswith("_ms") else r[key])}
                        for r in rows for key, name in (("accept_p99_ms", "accept p99"), ("routed_p50_s", "routed p50"),
                                                        ("routed_p99_s", "routed p99"), ("notice_p99_s", "review → WeCom p99"))
                        if r[key] is not None])
    top = alt.Chart(backlog, title="backlog").mark_line().encode(x="minute:Q", y="value:Q", color="series:N")
    bottom = alt.Chart(lat if not lat.empty else pd.DataFrame({"minute": [], "seconds": [], "series": []}),
                       title="latencies").mark_line(point=True).encode(x="minute:Q", y="seconds:Q", color="series:N")
    alt.vconcat(top.properties(width=700, height=220), bottom.properties(width=700, height=220)).save(str(out / "peak.html"))


def _fmt(v: Any, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    return f"{v:,.1f}{unit}" if isinstance(v, float) else f"{v}{unit}"


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str, str]]:
    s = summary
    return [
        ("curve", s["curve"], ""), ("worker processes / cores", f"{s['workers']} / {s['cores']}", ""),
        ("run (load + drain)", f"{s['run_seconds']} s", ""),
        ("sent: douyin pushes / API posts / tmall trades", f"{s['sent'].get('douyin', 0)} / {s['sent'].get('api', 0)} / {s['tmall_placed']}", ""),
        ("orders in the read model / routed", f"{s['orders_in_read_model']} / {s['routed']}", ""),
        ("by status", ", ".join(f"{k} {v}" for k, v in sorted(s["by_status"].items())), ""),
        ("routed per second (whole run)", _fmt(s["orders_per_s_routed"]), ""),
        ("accept p50 / p99", f"{_fmt(s['accept_p50_ms'], ' ms')} / {_fmt(s['accept_p99_ms'], ' ms')}", ""),
        ("accept → routed p50 / p99", f"{_fmt(s['routed_p50_s'], ' s')} / {_fmt(s['routed_p99_s'], ' s')}", ""),
        ("review tasks / review → WeCom p99", f"{s['review_tasks']} / {_fmt(s['notice_p99_s'], ' s')}", "< 2 s (field 90 s)"),
        ("waves closed / picks / mis-scans caught", f"{s['waves_closed']} / {s['picks']} / {s['mis_scans_caught']} of {s['mis_scans_injected']}",
         "all caught"),
        ("customers confirmed / address changes / brushing twins", f"{s['confirmed_by_customers']} / {s['address_changes_accepted']} / {s['duplicates_sent']}", ""),
        ("not settled at the end (still received/validated)", str(s["not_settled_at_end"]), ""),
        ("lost / duplicated orders", f"{s['lost_orders']} / {s['duplicated_orders']}", "0 / 0"),
        ("waybills / lost / duplicated", f"{s['waybills']} / {s['lost_waybills']} / {s['duplicated_waybills']}", "– / 0 / 0"),
        ("CPU ms per order (worker / Temporal / API / fakes / bench)", " / ".join(
            str(s["cpu_ms_per_order"].get(k, "–")) for k in ("worker", "temporal", "api", "fakes", "bench (load, floor, customers)")), ""),
        ("non-2xx or failed calls", ", ".join(f"{k} {v}" for k, v in s["errors"].items()) or "none", ""),
    ]


MINUTE_COLUMNS = [("minute", "minute"), ("accepted", "accepted"), ("backlog_temporal_max", "Temporal backlog max"),
                  ("received_max", "unprocessed max"), ("accept_p99_ms", "accept p99 ms"), ("routed_p50_s", "→routed p50 s"),
                  ("routed_p99_s", "→routed p99 s"), ("notice_p99_s", "review→WeCom p99 s"), ("waves_closed", "waves closed"),
                  ("picks_per_s", "picks/s"), ("mis_scans_caught", "mis-scans caught")]


def one_page(rows: list[dict[str, Any]], summary: dict[str, Any], out: Path) -> None:
    lines = [f"# bench peak — {summary['curve']}, {summary['workers']} worker process(es)", "",
             "| measure | value | bar |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in summary_rows(summary)]
    lines += ["", "| " + " | ".join(h for _, h in MINUTE_COLUMNS) + " |", "|" + "---|" * len(MINUTE_COLUMNS)]
    lines += ["| " + " | ".join(_fmt(r[k]) for k, _ in MINUTE_COLUMNS) + " |" for r in rows]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    html = pd.DataFrame(summary_rows(summary), columns=["measure", "value", "bar"]).to_html(index=False)
    minutes = pd.DataFrame([{h: _fmt(r[k]) for k, h in MINUTE_COLUMNS} for r in rows]).to_html(index=False)
    (out / "summary.html").write_text(f"<html><meta charset='utf-8'><body><h2>bench peak — {summary['curve']}, "
                                      f"{summary['workers']} worker process(es)</h2>{html}<h3>per minute</h3>{minutes}"
                                      f"<p><img src='peak.png' width='900'></p></body></html>")


def print_tables(console: Console, result: dict[str, Any]) -> None:
    t = Table(title="per minute")
    for _, h in MINUTE_COLUMNS:
        t.add_column(h, justify="right")
    for r in result["rows"]:
        t.add_row(*(_fmt(r[k]) for k, _ in MINUTE_COLUMNS))
    console.print(t)
    s = Table(title="bench peak")
    for col in ("measure", "value", "bar"):
        s.add_column(col)
    for row in summary_rows(result["summary"]):
        s.add_row(*row)
    console.print(s)


# ---------------------------------------------------------------- the stack and the run


def cpu_seconds(sup: Supervisor) -> dict[str, float]:
    """CPU seconds (user + system) each child of the stack has used so far, by role, and this process's
    (the load, pickers, customers and sampling)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = defaultdict(float)
    for c in sup.children:
        if c.proc is None or c.proc.poll() is not None:
            continue
        try:
            fields = Path(f"/proc/{c.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        role = "worker" if c.name.startswith("worker") else "fakes" if c.name.startswith("fake") else c.name
        out[role] += (int(fields[11]) + int(fields[12])) / tick
    t = os.times()
    out["bench (load, floor, customers)"] = t.user + t.system
    return dict(out)


def fresh_database(var: Path, tag: str) -> str:
    """A fresh PostgreSQL database on 127.0.0.1:5432 when it answers (what production runs), else SQLite."""
    base = os.environ.get("ZHONGSHU_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    try:
        admin = create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "zs_peak_{tag}"'))
        admin.dispose()
        return base.rsplit("/", 1)[0] + f"/zs_peak_{tag}"
    except Exception:  # noqa: BLE001 - no PostgreSQL here: the embedded stack's SQLite
        return f"sqlite:///{var / 'zhongshu.db'}"


def drop_database(db_url: str) -> None:
    """The bench's own PostgreSQL database goes when the run is over (its numbers are in ``--out``)."""
    if not db_url.startswith("postgresql"):
        return
    base = os.environ.get("ZHONGSHU_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    name = db_url.rsplit("/", 1)[1]
    with contextlib.suppress(Exception):  # best effort: a leftover database is only disk space
        admin = create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(curve: Curve = Curve(), workers: int = 1, out: Path | None = None, port_base: int = 29233, mix: Mix = Mix(),
        close_every: float = 20.0, drain_seconds: float = 300.0, dedupe_seconds: int = 20, wave_size: int = 20,
        pickers: int = 2, seed: int = 12, split_stages: bool = False) -> dict[str, Any]:
    """``split_stages``: the warehouse and logistics stages get queues of their own, and the worker
    processes alternate between serving ``orders,finance`` and ``warehouse,logistics``."""
    console = Console(width=None if sys.stdout.isatty() else 170)
    tag = uuid.uuid4().hex[:8]
    var = Path(tempfile.mkdtemp(prefix="zs-peak-"))
    out = out or ROOT / "var" / "bench-peak" / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-w{workers}"
    db_url = fresh_database(var, tag)
    s = Settings(var_dir=var, temporal_address=f"127.0.0.1:{port_base}", temporal_ui_port=port_base + 1, api_port=port_base + 2,
                 database_url=db_url, api_key=KEY, task_queue="peak")
    migrate(s.db_url)
    engine = engine_for(s.db_url)
    seed_demo_stock(s.db_url)
    py = sys.executable
    env = {"ZHONGSHU_TEMPORAL_ADDRESS": s.temporal_address, "ZHONGSHU_API_PORT": str(s.api_port), "ZHONGSHU_API_KEY": KEY,
           "DATABASE_URL": s.db_url, "ZHONGSHU_VAR_DIR": str(var), "ZHONGSHU_TASK_QUEUE": s.task_queue,
           "ZHONGSHU_WAVE_SIZE": str(wave_size), "ZHONGSHU_WAVE_AUTO_PACK": "true", "ZHONGSHU_WAVE_CUTOFFS": "",
           "ZHONGSHU_DEDUPE_WINDOW_SECONDS": str(dedupe_seconds), "ZHONGSHU_RISK__BURST_WINDOW_MINUTES": "1",
           "ZHONGSHU_OTEL_EXPORTER": "none", "ZHONGSHU_DEV_MODE": "1", "ZHONGSHU_WORKER_METRICS_PORT": "0",
           "ZHONGSHU_FAKES_BASE_PORT": str(port_base + 20),
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "devtools"), os.environ.get("PYTHONPATH", "")])}
    if split_stages:
        env |= {"ZHONGSHU_TASK_QUEUE_WAREHOUSE": "peak-warehouse", "ZHONGSHU_TASK_QUEUE_LOGISTICS": "peak-logistics"}
    sup = Supervisor(var / "logs", env=env)
    tally = Tally(split=split_stages)
    plan = plan_day(curve, mix, seed)
    result: dict[str, Any] = {}
    try:
        sa_flags = [a for k in SEARCH_ATTRIBUTES for a in ("--search-attribute", f"{k.name}=Keyword")]
        with console.status("starting a dev server (SQLite-persisted) …"):
            sup.start(Child("temporal", [temporal_cli(), "server", "start-dev", "--db-filename", str(var / "temporal.db"),
                                         "--port", str(port_base), "--ui-port", str(port_base + 1), "--log-level", "error",
                                         *sa_flags, *DEV_SERVER_SQLITE_ARGS], ready_port=port_base, stop_last=True), timeout=90)
        with console.status("starting the fake partners …"):
            fake_env, started = start_fakes(sup, s, base_port=port_base + 20)
            sup.env.update(fake_env)
        fakes = {f.fake.name: f.url for f in started}
        s = s.model_copy(update={"douyin_app_secret": fake_env.get("ZHONGSHU_DOUYIN_APP_SECRET", s.douyin_app_secret)})
        with console.status(f"starting {workers} worker process(es) and the API …"):
            for i in range(workers):
                stages = ["--stages", ("orders,finance", "warehouse,logistics")[i % 2]] if split_stages else []
                sup.start(Child(f"worker-{i + 1}", [py, "-m", "zhongshu.cli", "worker", *stages], ready_log="worker polling"),
                          timeout=120)
            sup.start(Child("api", [py, "-m", "uvicorn", "api.app:app_from_env", "--factory", "--port", str(s.api_port),
                                    "--log-level", "warning"], ready_url=f"http://127.0.0.1:{s.api_port}/healthz"), timeout=120)

        async def main() -> None:
            client = await Client.connect(s.temporal_address, data_converter=pydantic_data_converter)
            await ensure_sync_workflow(client, "tmall-default", s.task_queue, channel="tmall", poll_interval_seconds=5)
            crew = FloorCrew(s, fakes.get("fake-miniprogram", ""), tally, mix, close_every, pickers=pickers)
            load = Load(s, fakes, tally, mix)
            stop = asyncio.Event()
            tally.t0 = time.time()
            cpu0 = cpu_seconds(sup)
            crew.start()
            sampling = asyncio.create_task(sampler(client, engine, s, tally, stop,
                                                   queues=("peak-warehouse", "peak-logistics") if split_stages else ()))
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=console) as progress:
                arrivals = progress.add_task("arrivals (the day curve)", total=len(plan))
                settled = progress.add_task("orders past routing", total=len(plan))

                async def watch() -> None:
                    while not stop.is_set():
                        last = tally.samples[-1] if tally.samples else {"orders": 0, "received": 0}
                        progress.update(settled, completed=last["orders"] - last["received"],
                                        total=max(len(plan), last["orders"]))
                        await asyncio.sleep(1)

                watching = asyncio.create_task(watch())
                await load.play(plan, progress, arrivals)
                deadline = time.monotonic() + drain_seconds
                while time.monotonic() < deadline:  # drain: every order shipped (or with a person, or ended)
                    await asyncio.sleep(2)
                    last = tally.samples[-1] if tally.samples else None
                    if last and last["on_floor"] == 0 and last["orders"] >= len(tally.expected) + tally.tmall_placed:
                        break
                await asyncio.sleep(5.0)
                stop.set()
                await sampling
                await watching
            cpu1 = cpu_seconds(sup)
            tally.cpu = {k: round(cpu1[k] - cpu0.get(k, 0.0), 1) for k in cpu1}
            crew.close()
            await load.http.aclose()
            nonlocal result
            result = await asyncio.to_thread(report, engine, tally, fakes, workers, curve, out)

        asyncio.run(main())
    finally:
        sup.stop()
        engine.dispose()
        drop_database(s.db_url)
    print_tables(console, result)
    console.print(f"chart and one-page summary in {out} (peak.png, peak.html, summary.md, summary.html)")
    return result
