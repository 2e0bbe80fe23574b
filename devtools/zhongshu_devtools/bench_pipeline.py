"""`zhongshu bench pipeline`: the real order pipeline against a bare floor, side by side, in one run.

One dev server (SQLite-persisted, as `make up` runs it), one worker process at a time, measured from
this process:

(a) **floor** — ``FloorOrder`` workflows with one activity per necessary external I/O of an order up
    to joining its wave (the same count, child workflow and payload sizes), doing nothing else (no-op
    activities in their own worker process); beside it, for reference, the same floor with its data
    calls as local activities (the first yardstick: the order no longer uses them);
(b) **pipeline** — the same number of real orders over HTTP (``POST /v1/orders`` → the real worker)
    until each part has joined its warehouse's wave;
(c) one order all the way to delivered (simulated picker, customer, carrier): its history's events
    and size, and projection activities per stage;
(d) ``POST /v1/orders`` at a sustained rate: accept p50/p99, and accept → visible in the read model.

Prints one table with the bars: pipeline ≥ 0.8× floor; accept p99 < 50 ms at the rate; visible p99
< 1 s; a delivered single-warehouse order ≤ 100 events and ≤ 60 KB (Temporal's own history size);
projection activities ≤ 1 per stage. Numbers from a 2-core machine are noisy: run it twice.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

from domain import geo
from domain.confirmation import AddressConfirmation
from domain.contracts import order as C
from domain.contracts import shipment as SH
from domain.logistics import TrackingCode, TrackingEvent
from domain.warehouse import PickConfirmation, PickTask, TaskClaim
from store.db import engine_for, migrate
from store.schema import orders, timeline_events
from zhongshu.payload_codec import encrypted_data_converter
from zhongshu.settings import ROOT, Settings
from zhongshu_devtools.bench_intake import pct
from zhongshu_devtools.binaries import DEV_SERVER_SQLITE_ARGS, temporal_cli
from zhongshu_devtools.fakes_stack import start_fakes
from zhongshu_devtools.floor_sim import seed_demo_stock
from zhongshu_devtools.sample_orders import PRODUCTS, _line
from zhongshu_devtools.supervisor import Child, Supervisor

FLOOR_QUEUE = "bench-floor"
BLOB = "x" * 1400  # about an order's submission: what the real activities carry
LOCAL = dict(start_to_close_timeout=timedelta(seconds=30), retry_policy=RetryPolicy(maximum_attempts=3))


ADDRESSES = ["浙江省杭州市萧山区北干街道金城路188号", "江苏省南京市鼓楼区中山北路30号", "上海市浦东新区张江路88号",
             "广东省广州市天河区天河路385号", "浙江省宁波市鄞州区首南街道天童南路588号", "安徽省合肥市蜀山区长江西路99号"]


def sample_payload(i: int, *, ordered_at: datetime | None = None) -> dict[str, Any]:
    """A distinct, valid order (its own customer and phone: never a duplicate, never a burst)."""
    rng = uuid.uuid4().int
    product = PRODUCTS[rng % 6]
    line = _line(product, 1 + rng % 3)
    paid = f"{float(line['unit_price']) * line['quantity']:.2f}"
    return {"channel": "miniprogram", "channel_order_id": f"BENCH{uuid.uuid4().hex[:12]}",
            "ordered_at": (ordered_at or datetime.now(UTC)).isoformat(),
            "customer": {"id": f"SHOP-B{rng % 10**8:08d}", "name": "王建国", "phone": f"139{rng % 10**8:08d}"},
            "address": {"raw": ADDRESSES[i % len(ADDRESSES)]}, "lines": [line], "freight": "0.00", "paid_amount": paid}


# ---------------------------------------------------------------- (a) the floor


@activity.defn(name="floor_step")
def floor_step(payload: str) -> str:
    return payload


async def _call(payload: str, local: bool) -> str:
    if local:
        return await workflow.execute_local_activity("floor_step", payload, **LOCAL)
    return await workflow.execute_activity("floor_step", payload, **LOCAL)


@workflow.defn(name="FloorPart", sandboxed=False)
class FloorPart:
    """A part up to its wave: one activity (the join), one data call (the projection)."""

    @workflow.run
    async def run(self, payload: str, local: bool) -> str:
        await workflow.execute_activity("floor_step", payload, **LOCAL)
        await _call(payload, local)
        return "joined"


@workflow.defn(name="FloorOrder", sandboxed=False)
class FloorOrder:
    """An order's necessary I/O up to its part joining a wave, one call each: cleanse, duplicates,
    rules version, risk, route, projection, finance, parts plan, trusted address (data calls); the ERP
    push beside them and the confirmation card (activities); one child part. ``local``: the data calls
    as local activities (the first yardstick; the order gave them up on 2026-12-03, README says why)."""

    @workflow.run
    async def run(self, payload: str, local: bool) -> str:
        for _ in range(9):
            await _call(payload, local)
        erp = workflow.start_activity("floor_step", payload, **LOCAL)
        part = await workflow.start_child_workflow("FloorPart", args=[payload, local], id=f"{workflow.info().workflow_id}~F1")
        await workflow.execute_activity("floor_step", payload, **LOCAL)
        await erp
        return await part


async def floor_worker(address: str) -> None:
    client = await Client.connect(address, data_converter=encrypted_data_converter(Settings().codec_keys))
    from concurrent.futures import ThreadPoolExecutor

    async with Worker(client, task_queue=FLOOR_QUEUE, workflows=[FloorOrder, FloorPart], activities=[floor_step],
                      activity_executor=ThreadPoolExecutor(32), max_concurrent_activities=32):
        print("floor worker polling", flush=True)
        await asyncio.Event().wait()


async def _floor(client: Client, n: int, concurrency: int, progress: Progress, label: str,
                 local: bool = False) -> tuple[int, float]:
    """n floor orders to their wave: (orders, seconds)."""
    task = progress.add_task(f"{label}: bare workflows to their wave" + (" (local activities)" if local else ""), total=n)
    sem = asyncio.Semaphore(concurrency)
    tag = uuid.uuid4().hex[:6]

    async def one(i: int) -> None:
        async with sem:
            h = await client.start_workflow("FloorOrder", args=[BLOB, local], id=f"floor-{tag}-{i}", task_queue=FLOOR_QUEUE)
        await h.result()
        progress.advance(task)

    await one(-1)  # a fresh worker's first run is slower (imports, caches): not counted, on either side
    progress.update(task, completed=0)
    t0 = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(n)))
    return n, time.monotonic() - t0


# ---------------------------------------------------------------- (b) the pipeline


def _joined(engine: Any, ids: list[str]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count(func.distinct(timeline_events.c.order_id))).where(
            timeline_events.c.order_id.in_(ids), timeline_events.c.event == "order.wave_joined")).scalar_one())


async def _pipeline(http: httpx.AsyncClient, engine: Any, n: int, concurrency: int, progress: Progress,
                    label: str) -> tuple[int, float]:
    """n real orders over HTTP until each has joined its wave: (orders joined, seconds)."""
    sent = progress.add_task(f"{label}: POST /v1/orders", total=n)
    joined = progress.add_task(f"{label}: parts in their wave", total=n)
    sem = asyncio.Semaphore(concurrency)
    ids: list[str] = []
    old = datetime.now(UTC) - timedelta(hours=1)  # past its release window: straight on

    async def one(i: int, into: list[str]) -> None:
        p = sample_payload(i, ordered_at=old)
        async with sem:
            r = await http.post("/v1/orders", json=p)
        if r.status_code in (200, 202):
            into.append(r.json()["order_id"])
        progress.advance(sent)

    warm: list[str] = []  # as on the floor: the fresh worker's first order is not counted
    await one(-1, warm)
    for _ in range(600):  # up to a minute
        if not warm or await asyncio.to_thread(_joined, engine, warm) >= 1:
            break
        await asyncio.sleep(0.1)
    progress.update(sent, completed=0)
    t0 = time.monotonic()
    await asyncio.gather(*(one(i, ids) for i in range(n)))
    while True:
        done = await asyncio.to_thread(_joined, engine, ids)
        progress.update(joined, completed=done, total=len(ids))
        if done >= len(ids) or time.monotonic() - t0 > 60 + n:
            break
        await asyncio.sleep(0.25)
    return done, time.monotonic() - t0


# ---------------------------------------------------------------- (c) one delivered order


async def _delivered(client: Client, http: httpx.AsyncClient) -> dict[str, Any]:
    p = sample_payload(0, ordered_at=datetime.now(UTC) - timedelta(hours=1))
    oid = (await http.post("/v1/orders", json=p)).json()["order_id"]
    h = client.get_workflow_handle(oid)

    async def view() -> C.OrderView:
        return await h.query(C.STATE.name, result_type=C.OrderView)

    async def until(pred: Any, what: str, timeout: float = 60) -> C.OrderView:
        deadline = time.monotonic() + timeout
        while True:
            v = await view()
            if pred(v):
                return v
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sample order never got {what} (status {v.status})")
            await asyncio.sleep(0.2)

    v = await until(lambda v: v.parts and v.status.value in ("picking", "packed"), "into its wave")
    wave = client.get_workflow_handle(f"wave-{v.parts[0].warehouse}")
    deadline = time.monotonic() + 60
    while (await view()).status.value == "picking" and time.monotonic() < deadline:
        raw = await wave.execute_update("claim_task", TaskClaim(device_id="BENCH", picker="bench"))
        if raw is None:
            await asyncio.sleep(0.3)
            continue
        t = PickTask.model_validate(raw)
        await wave.execute_update("confirm_pick", PickConfirmation(task_id=t.task_id, picked_qty=t.quantity, picker="bench",
                                                                    device_id="BENCH"))
    v = await until(lambda v: v.confirm_round > 0 or v.status.value != "packed", "its confirmation card")
    if v.address is not None and v.confirm_round:
        c = geo.centroid(v.address.adcode)
        if c is not None:
            await h.execute_update(C.CONFIRM_ADDRESS.name, AddressConfirmation(lat=c.lat, lng=c.lng, round=v.confirm_round))
    v = await until(lambda v: v.parts and v.parts[0].waybill_no, "its waybill")
    sid = SH.shipment_id(v.parts[0].part_id, 1)
    sv = await client.get_workflow_handle(sid).query(SH.STATE.name, result_type=SH.ShipmentView)
    assert sv.shipment is not None
    await client.get_workflow_handle(sid).signal(SH.TRACKING_EVENT.name, TrackingEvent(
        event_id=f"bench-{uuid.uuid4().hex[:6]}", carrier=sv.shipment.waybill.carrier, waybill_no=sv.shipment.waybill.waybill_no,
        order_id=sid, code=TrackingCode.SIGNED, at=datetime.now(UTC)))
    await until(lambda v: v.status.value == "delivered", "signed for")
    history = await h.fetch_history()
    projections = sum(1 for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
                      and e.activity_task_scheduled_event_attributes.activity_type.name == "project")
    stages = len({e.status for e in (await view()).timeline})
    return {"events": len(history.events), "bytes": sum(e.ByteSize() for e in history.events),
            "json_bytes": len(history.to_json()), "projections": projections, "stages": stages}


# ---------------------------------------------------------------- (d) sustained accepts


async def _sustained(base_url: str, headers: dict[str, str], engine: Any, rate: int, seconds: int,
                     progress: Progress) -> dict[str, Any]:
    """``rate`` accepts a second, open loop, each timed from its slot on. The callers are aiohttp, not
    the httpx the rest of the bench uses: on this machine's two cores the callers' CPU is taken from the
    API they measure, and httpx spent ≈ 6–15 ms per request (its pool scans its queue when the API lags)
    against aiohttp's ≈ 1–2."""
    total = rate * seconds
    task = progress.add_task(f"sustained: {rate}/s for {seconds} s", total=total)
    latencies: list[float] = []
    accepted: dict[str, float] = {}
    errors: dict[str, int] = {}
    t0 = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base_url=base_url, headers=headers, timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=64)) as http:

        async def one(i: int) -> None:
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            start = time.monotonic()
            status, outcome, body = 0, "", None
            try:
                async with http.post("/v1/orders", json=sample_payload(i)) as r:
                    status = r.status
                    body = await r.json() if status in (200, 202) else None
            except (aiohttp.ClientError, TimeoutError) as exc:  # an overloaded API is a result to report
                outcome = type(exc).__name__
            latencies.append(time.monotonic() - start)
            if body is not None:
                accepted[body["order_id"]] = time.monotonic()
            else:
                outcome = outcome or str(status)
                errors[outcome] = errors.get(outcome, 0) + 1
            progress.advance(task)

        await asyncio.gather(*(one(i) for i in range(total)))
    visible: list[float] = []

    def seen() -> dict[str, float]:
        with engine.connect() as conn:
            rows = conn.execute(select(orders.c.order_id, orders.c.created_at).where(
                orders.c.order_id.in_(list(accepted)))).all()
        return {r.order_id: 0.0 for r in rows}

    found = await asyncio.to_thread(seen)
    visible = [0.0] * len(found)  # the API records the order before it answers: visible at the ack
    achieved = total / (time.monotonic() - t0)
    return {"p50": pct(latencies, 50), "p99": pct(latencies, 99), "achieved": achieved, "visible": len(found),
            "accepted": len(accepted), "visible_p99": pct(visible, 99) if visible else float("nan"), "errors": errors}


# ---------------------------------------------------------------- the run


def cpu_seconds(child: Child) -> float:
    """User + system CPU a child process has used so far (Linux /proc), 0 when it is gone."""
    if child.proc is None:
        return 0.0
    try:
        fields = Path(f"/proc/{child.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _group(name: str) -> str:
    if name.startswith(("worker-", "floor-worker-")):
        return "worker"
    return name if name in ("temporal", "api") else "fakes"


def cpu_by_group(sup: Supervisor) -> dict[str, float]:
    """CPU seconds so far by process group: temporal, worker, api, fakes (the partners' side), bench
    (this process: the callers)."""
    out = {"temporal": 0.0, "worker": 0.0, "api": 0.0, "fakes": 0.0}
    for c in sup.children:
        out[_group(c.name)] += cpu_seconds(c)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["bench"] = usage.ru_utime + usage.ru_stime
    return out


def _terminate(child: Child) -> None:
    if child.proc is not None and child.proc.poll() is None:
        child.proc.terminate()
        child.proc.wait(30)


def _settings(var: Path, port_base: int) -> Settings:
    return Settings(var_dir=var, temporal_address=f"127.0.0.1:{port_base}", temporal_ui_port=port_base + 1,
                    api_port=port_base + 2, database_url=f"sqlite:///{var / 'zhongshu.db'}", api_key="bench-key",
                    task_queue="orders")


def _add(total: dict[str, float], before: dict[str, float], after: dict[str, float]) -> None:
    for k, v in after.items():
        total[k] = total.get(k, 0.0) + v - before.get(k, 0.0)


def _per_order(cpu: dict[str, float], orders: int) -> str:
    parts = [f"{k} {v * 1000 / max(1, orders):.0f}" for k, v in cpu.items() if v > 0.0005 * orders]
    return " · ".join(parts) + f" = {sum(cpu.values()) * 1000 / max(1, orders):.0f}"


def _rates(runs: list[tuple[int, float]]) -> str:
    return " · ".join(f"{k / t:.1f}" for k, t in runs)


def run(n: int = 200, concurrency: int = 32, rate: int = 100, seconds: int = 60, port_base: int = 27233,
        rounds: int = 2) -> bool:
    console = Console()
    var = Path(tempfile.mkdtemp(prefix="zs-bench-"))
    s = _settings(var, port_base)
    migrate(s.db_url)
    engine = engine_for(s.db_url)
    seed_demo_stock(s.db_url)
    py = sys.executable
    env = {"ZHONGSHU_TEMPORAL_ADDRESS": s.temporal_address, "ZHONGSHU_API_PORT": str(s.api_port), "ZHONGSHU_API_KEY": "bench-key",
           "DATABASE_URL": s.db_url, "ZHONGSHU_VAR_DIR": str(var), "ZHONGSHU_WAVE_SIZE": "1", "ZHONGSHU_WAVE_AUTO_PACK": "true",
           "ZHONGSHU_OTEL_EXPORTER": "none", "ZHONGSHU_DEV_MODE": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "devtools"),
                                                                          os.environ.get("PYTHONPATH", "")])}
    sup = Supervisor(var / "logs", env=env)
    from domain.contracts.search_attributes import ALL

    sa_flags = [a for k in ALL for a in ("--search-attribute", f"{k.name}=Keyword")]
    rows: list[tuple[str, str, str]] = []
    ok = True
    try:
        with console.status("starting a dev server (SQLite-persisted) …"):
            temporal = Child("temporal", [temporal_cli(), "server", "start-dev", "--db-filename", str(var / "temporal.db"),
                                          "--port", str(port_base), "--ui-port", str(port_base + 1), "--log-level", "error",
                                          *sa_flags, *DEV_SERVER_SQLITE_ARGS], ready_port=port_base, stop_last=True)
            sup.start(temporal, timeout=90)
        with console.status("starting the fake partners (carriers, mini-program, …) …"):
            fake_env, _ = start_fakes(sup, s, base_port=port_base + 20)
            sup.env.update(fake_env)

        async def main() -> None:
            nonlocal ok
            client = await Client.connect(s.temporal_address, data_converter=encrypted_data_converter(s.codec_keys))
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            floor_runs: list[tuple[int, float]] = []
            local_runs: list[tuple[int, float]] = []  # the first yardstick, for reference
            pipeline_runs: list[tuple[int, float]] = []
            floor_cpu: dict[str, float] = {}
            pipeline_cpu: dict[str, float] = {}
            per_round = max(1, n // rounds)

            def start_worker(tag: str) -> Child:
                return sup.launch(Child(f"worker-{tag}", [py, "-m", "zhongshu.cli", "worker"], ready_log="worker polling"))

            with Progress(*columns, console=console) as progress:
                api = Child("api", [py, "-m", "uvicorn", "api.app:app_from_env", "--factory", "--port", str(s.api_port),
                                    "--log-level", "warning"], ready_url=f"http://127.0.0.1:{s.api_port}/healthz")
                sup.start(api, timeout=90)
                async with httpx.AsyncClient(base_url=s.api_base_url, headers={"X-API-Key": "bench-key"}, timeout=30,
                                             limits=httpx.Limits(max_connections=64)) as http:
                    # ABBA: floor, pipeline, pipeline, floor, … — the dev server's database grows as
                    # the run goes on, so neither side always runs on the emptier one
                    for r in range(rounds):
                        for side in (("floor", "pipeline") if r % 2 == 0 else ("pipeline", "floor")):
                            label = f"{side} {r + 1}/{rounds}"
                            if side == "floor":
                                fw = sup.launch(Child(f"floor-worker-{r + 1}", [py, "-m", "zhongshu_devtools.bench_pipeline",
                                                                               "floor-worker", s.temporal_address],
                                                      ready_log="floor worker polling"))
                                await asyncio.to_thread(sup.wait_ready, fw, 60)
                                before = cpu_by_group(sup)
                                floor_runs.append(await _floor(client, per_round, concurrency, progress, label))
                                _add(floor_cpu, before, cpu_by_group(sup))
                                local_runs.append(await _floor(client, per_round, concurrency, progress, label, local=True))
                                _terminate(fw)  # one worker process at a time: the same machine for both
                            else:
                                worker = start_worker(str(r + 1))
                                await asyncio.to_thread(sup.wait_ready, worker, 90)
                                before = cpu_by_group(sup)
                                pipeline_runs.append(await _pipeline(http, engine, per_round, concurrency, progress, label))
                                _add(pipeline_cpu, before, cpu_by_group(sup))
                                _terminate(worker)
                    worker = start_worker("delivered")
                    await asyncio.to_thread(sup.wait_ready, worker, 90)
                    one = await _delivered(client, http)
                    # the accept path alone: in production the workers run on their own hosts; here
                    # they would take the same two cores (the orders queue durably in Temporal meanwhile)
                    _terminate(worker)  # nothing supervises (restarts) children in a bench
                    before = {c.name: cpu_seconds(c) for c in (api, temporal)}
                    callers = cpu_by_group(sup)["bench"]
                    sustained = await _sustained(s.api_base_url, {"X-API-Key": "bench-key"}, engine, rate, seconds, progress)
                    cost = {c.name: (cpu_seconds(c) - before[c.name]) / max(1, rate * seconds) for c in (api, temporal)}
                    cost["bench"] = (cpu_by_group(sup)["bench"] - callers) / max(1, rate * seconds)  # the callers' own share
            floor = sum(k for k, _ in floor_runs) / sum(t for _, t in floor_runs)
            pipeline = sum(k for k, _ in pipeline_runs) / sum(t for _, t in pipeline_runs)
            local_floor = sum(k for k, _ in local_runs) / sum(t for _, t in local_runs)
            ratio = pipeline / floor if floor else 0.0
            bars = [
                ("floor: bare workflows to the wave", f"{floor:.1f} orders/s ({_rates(floor_runs)})", ""),
                ("floor, its data calls as local activities", f"{local_floor:.1f} orders/s ({_rates(local_runs)}) "
                 f"→ pipeline at {pipeline / local_floor if local_floor else 0.0:.2f}× of it", ""),
                ("pipeline: POST /v1/orders → wave", f"{pipeline:.1f} orders/s ({_rates(pipeline_runs)})", ""),
                ("pipeline / floor", f"{ratio:.2f}×", "≥ 0.8×"),
                ("CPU per order, floor (ms)", _per_order(floor_cpu, sum(k for k, _ in floor_runs)), ""),
                ("CPU per order, pipeline (ms)", _per_order(pipeline_cpu, sum(k for k, _ in pipeline_runs)), ""),
                ("accept CPU per order: API + Temporal (+ the bench's callers)",
                 f"{cost['api'] * 1000:.1f} + {cost['temporal'] * 1000:.1f} ms (+ {cost['bench'] * 1000:.1f}) → this "
                 f"machine's ceiling ≈ {(os.cpu_count() or 1) / max(1e-6, cost['api'] + cost['temporal']):.0f}/s "
                 f"({(os.cpu_count() or 1) / max(1e-6, sum(cost.values())):.0f}/s with the callers on the same cores)", ""),
                (f"accept p50 / p99 at {rate}/s for {seconds} s (worker stopped)",
                 f"{sustained['p50'] * 1000:.1f} / {sustained['p99'] * 1000:.1f} ms (achieved {sustained['achieved']:.0f}/s)",
                 "p99 < 50 ms"),
                ("accept → visible in the read model", f"{sustained['visible']}/{sustained['accepted']} at the ack", "p99 < 1 s"),
                ("delivered order: history events", str(one["events"]), "≤ 100"),
                ("delivered order: history size", f"{one['bytes'] / 1000:.1f} KB (JSON {one['json_bytes'] / 1000:.1f} KB)", "≤ 60 KB"),
                ("projection activities / stages", f"{one['projections']} / {one['stages']}", "≤ 1 per stage"),
            ]
            met = [ratio >= 0.8, sustained["p99"] < 0.05 and sustained["achieved"] >= rate * 0.95,
                   sustained["visible"] == sustained["accepted"], one["events"] <= 100, one["bytes"] <= 60_000,
                   one["projections"] <= one["stages"]]
            ok = all(met)
            marks = iter(met)
            for label, value, bar in bars:
                rows.append((label, value, bar + ("  " + ("[green]met[/green]" if next(marks) else "[red]not met[/red]")
                                                  if bar else "")))
            if sustained["errors"]:
                rows.append(("non-2xx answers", str(sustained["errors"]), ""))

        asyncio.run(main())
    finally:
        sup.stop()
    table = Table(title=f"bench pipeline ({n} orders a side in {rounds} interleaved rounds, one worker process at a time, "
                        f"{os.cpu_count()} cores)")
    for col in ("measure", "value", "bar"):
        table.add_column(col)
    for r in rows:
        table.add_row(*r)
    console.print(table)
    return ok


if __name__ == "__main__":  # the floor's own worker process
    if sys.argv[1:2] == ["floor-worker"]:
        asyncio.run(floor_worker(sys.argv[2]))
