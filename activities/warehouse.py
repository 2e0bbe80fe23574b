"""Warehouse execution I/O: joining a wave, planning it against the stock table, projecting waves and
pick tasks into the read model, stock moves, floor exceptions (DB + WeCom to the warehouse lead),
mis-scan events, the stock import from Excel and the printable pick list.

The activities are what ``WaveWorkflow`` (and ``OrderWorkflow`` for ``join_wave``) execute; the plain
functions below them are the queries the API, the CLI and the console use. Every write is
idempotent (keyed by move id, exception id, event id, or guarded by the wave's version), so an
activity retry never decrements stock twice or counts a mis-scan twice.
"""

from __future__ import annotations

import asyncio
import html
import io
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel
from sqlalchemy import Engine, and_, delete, func, insert, select, update
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import partner_http
from activities.notify import WeComClient, WeComError, mask_phones
from domain.contracts import warehouse as W
from domain.contracts.warehouse import (
    JOIN_WAVE,
    WAVE,
    JoinWave,
    PlanRequest,
    StockMove,
    WaveSnapshot,
    WaveStart,
    wave_workflow_id,
)
from domain.warehouse import (
    TASK_LOOK,
    PickTask,
    StockRow,
    TaskState,
    WarehouseException,
    WavePolicy,
    parse_bin,
    plan_tasks,
    render_exception_todo,
)
from store import order_marks
from store.schema import pick_tasks, scan_events, stock_moves, warehouse_exceptions, warehouse_stock, waves
from zhongshu.settings import get_settings

log = logging.getLogger("zhongshu.warehouse")

def _now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- payloads


def wave_policy_from(settings) -> WavePolicy:
    """The WavePolicy of ``zhongshu.settings.Settings`` (ZHONGSHU_WAVE_SIZE, ZHONGSHU_WAVE_CUTOFFS, …)."""
    return WavePolicy(
        size=settings.wave_size, cutoffs=[c.strip() for c in settings.wave_cutoffs.split(",") if c.strip()],
        auto_pack=settings.wave_auto_pack, console_url=settings.console_url,
    )








class ScanEventIn(BaseModel):
    event_id: str
    warehouse: str
    picker: str
    device_id: str
    task_id: str | None = None
    kind: str
    barcode: str = ""
    at: datetime | None = None


# ---------------------------------------------------------------- image library (ERP)


class ImageLibrary:
    """Item images from the ERP image library: ``GET {base}/v1/items/{sku}/image`` → ``{"url": …}``.
    No base URL, or the library not answering, means no image (never a failed wave)."""

    def __init__(self, base_url: str = "", timeout: float = 3.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def urls(self, skus: Iterable[str]) -> dict[str, str | None]:
        found: dict[str, str | None] = {s: None for s in skus}
        if not self.base_url:
            return found
        try:
            with partner_http.client(base_url=self.base_url, timeout=self.timeout) as c:
                for sku in found:
                    try:
                        r = c.get(f"/v1/items/{sku}/image")
                    except httpx.HTTPError as exc:
                        log.warning("image library unreachable for %s: %s", sku, exc)
                        break
                    if r.status_code == 200:
                        found[sku] = r.json().get("url")
        except httpx.HTTPError as exc:  # pragma: no cover - connection setup
            log.warning("image library unreachable: %s", exc)
        return found


# ---------------------------------------------------------------- activities


class WarehouseActivities:
    def __init__(self, engine: Engine, *, wecom_webhook_url: str = "", image_base_url: str | None = None,
                 policy: WavePolicy | None = None, client=None):
        self.engine = engine
        self.wecom_webhook_url = wecom_webhook_url
        self._image_base_url = image_base_url
        self._policy = policy
        self._client = client

    @property
    def images(self) -> ImageLibrary:
        if self._image_base_url is None:
            self._image_base_url = get_settings().erp_images_url
        return ImageLibrary(self._image_base_url)

    @property
    def policy(self) -> WavePolicy:
        if self._policy is None:
            self._policy = wave_policy_from(get_settings())
        return self._policy

    @activity.defn(name=JOIN_WAVE.name)
    async def join_wave(self, req: JoinWave) -> str:
        """Signal-with-start the warehouse's WaveWorkflow (id ``wave-{warehouse}``) with the order."""
        client = self._client or activity.client()
        wid = wave_workflow_id(req.order.warehouse)
        order = req.order
        if not order.urgent and await asyncio.to_thread(order_marks.is_urgent, self.engine, order.order_id):
            order = order.model_copy(update={"urgent": True})  # marked 加急 in the console before it got here
        await client.start_workflow(
            WAVE.name,
            WaveStart(warehouse=req.order.warehouse, policy=req.policy or self.policy),
            id=wid,
            task_queue=req.task_queue or activity.info().task_queue,
            start_signal="add_order",
            start_signal_args=[order],
            static_summary=f"{req.order.warehouse} 波次 waves (size {(req.policy or self.policy).size}, "
                           f"cut-offs {', '.join((req.policy or self.policy).cutoffs) or 'none'})",
        )
        return wid

    @activity.defn(name=W.PLAN_WAVE.name)
    def plan_wave(self, req: PlanRequest) -> list[PickTask]:
        skus = sorted({line.sku for o in req.wave.orders for line in o.lines})
        rows = stock_rows(self.engine, req.wave.warehouse, skus)
        images = self.images.urls(skus)
        return plan_tasks(req.wave, rows, qc_categories=req.qc_categories, image_url=images.get)

    @activity.defn(name=W.PROJECT_WAVE.name)
    def project_wave(self, snap: WaveSnapshot) -> None:
        project_wave(self.engine, snap)

    @activity.defn(name=W.RECORD_STOCK_MOVE.name)
    def record_stock_move(self, move: StockMove) -> int:
        return record_stock_move(self.engine, move)

    @activity.defn(name=W.RECORD_WAREHOUSE_EXCEPTION.name)
    def record_warehouse_exception(self, exc: WarehouseException) -> str:
        with self.engine.begin() as conn:
            exists = conn.execute(
                select(warehouse_exceptions.c.exception_id).where(warehouse_exceptions.c.exception_id == exc.exception_id)
            ).first()
            if not exists:
                conn.execute(insert(warehouse_exceptions).values(
                    **exc.model_dump(mode="python", exclude={"kind"}), kind=exc.kind.value, state="open"
                ))
        return exc.exception_id

    @activity.defn(name=W.NOTIFY_WAREHOUSE_LEAD.name)
    async def notify_warehouse_lead(self, exc: WarehouseException, console_url: str = "http://127.0.0.1:8501") -> None:
        content = render_exception_todo(exc, console_url)
        if not self.wecom_webhook_url:
            log.info("no WeCom webhook configured; warehouse to-do not sent:\n%s", mask_phones(content))
            return
        try:
            await WeComClient(self.wecom_webhook_url).send_markdown(content)
        except WeComError as err:
            raise ApplicationError(mask_phones(str(err)), type="WeComError", non_retryable=not err.retryable) from None

    def all(self) -> list:
        return [self.join_wave, self.plan_wave, self.project_wave, self.record_stock_move,
                self.record_warehouse_exception, self.notify_warehouse_lead]


# ---------------------------------------------------------------- store functions


def stock_rows(engine: Engine, warehouse: str, skus: Iterable[str] | None = None) -> list[StockRow]:
    q = select(warehouse_stock).where(warehouse_stock.c.warehouse == warehouse)
    if skus is not None:
        q = q.where(warehouse_stock.c.sku.in_(list(skus)))
    with engine.connect() as conn:
        return [StockRow(bin=r.bin, sku=r.sku, name=r.name, quantity=r.quantity, barcode=r.barcode, notes=r.notes)
                for r in conn.execute(q.order_by(warehouse_stock.c.sku, warehouse_stock.c.bin))]


def record_stock_move(engine: Engine, move: StockMove) -> int:
    """Apply a stock move once (keyed by move_id); returns the bin's quantity afterwards."""
    key = and_(warehouse_stock.c.warehouse == move.warehouse, warehouse_stock.c.bin == move.bin,
               warehouse_stock.c.sku == move.sku)
    with engine.begin() as conn:
        done = conn.execute(select(stock_moves.c.move_id).where(stock_moves.c.move_id == move.move_id)).first()
        row = conn.execute(select(warehouse_stock.c.quantity).where(key)).first()
        if done:
            return row.quantity if row else 0
        conn.execute(insert(stock_moves).values(
            move_id=move.move_id, warehouse=move.warehouse, bin=move.bin, sku=move.sku, delta=move.delta,
            reason=move.reason, at=_now(),
        ))
        if row is None:
            qty = max(0, move.delta)
            if move.bin != "?":
                conn.execute(insert(warehouse_stock).values(
                    warehouse=move.warehouse, bin=move.bin, sku=move.sku, name="", quantity=qty, barcode="", notes="",
                    updated_at=_now(),
                ))
            return qty
        qty = 0 if move.bin_emptied else max(0, row.quantity + move.delta)
        conn.execute(update(warehouse_stock).where(key).values(quantity=qty, updated_at=_now()))
        return qty


def project_wave(engine: Engine, snap: WaveSnapshot) -> None:
    """Upsert the wave and its tasks; an older snapshot (lower version) never overwrites a newer one."""
    counts = {s: 0 for s in TaskState}
    for t in snap.tasks:
        counts[t.state] += 1
    picks = [t for t in snap.tasks if t.kind == "pick"]
    row = dict(
        warehouse=snap.warehouse, wave_no=snap.wave_no, carrier=snap.carrier, state=snap.state,
        opened_at=snap.opened_at, cutoff_at=snap.cutoff_at, closed_at=snap.closed_at, close_reason=snap.close_reason,
        order_ids=snap.order_ids, task_count=len(picks),
        done_count=sum(1 for t in picks if t.state == TaskState.DONE),
        short_count=counts[TaskState.SHORT], qc_pending_count=counts[TaskState.QC_PENDING],
        putaway_pending_count=counts[TaskState.PUTAWAY_PENDING], packed_by=snap.packed_by, packed_at=snap.packed_at,
        version=snap.version, updated_at=snap.at,
    )
    with engine.begin() as conn:
        current = conn.execute(select(waves.c.version).where(waves.c.wave_id == snap.wave_id)).first()
        if current is not None and current.version > snap.version:
            return
        if current is None:
            conn.execute(insert(waves).values(wave_id=snap.wave_id, **row))
        else:
            conn.execute(update(waves).where(waves.c.wave_id == snap.wave_id).values(**row))
        existing = {r.task_id for r in conn.execute(select(pick_tasks.c.task_id).where(pick_tasks.c.wave_id == snap.wave_id))}
        for t in snap.tasks:
            values = dict(
                wave_id=t.wave_id, warehouse=t.warehouse, kind=t.kind.value, seq=t.seq, bin=t.bin, sku=t.sku, name=t.name,
                barcode=t.barcode, quantity=t.quantity, picked_qty=t.picked_qty, image_url=t.image_url, notes=t.notes,
                qc_required=t.qc_required, state=t.state.value,
                allocations=[a.model_dump() for a in t.allocations], device_id=t.device_id, picker=t.picker,
                updated_at=snap.at,
            )
            if t.task_id in existing:
                conn.execute(update(pick_tasks).where(pick_tasks.c.task_id == t.task_id).values(**values))
            else:
                conn.execute(insert(pick_tasks).values(task_id=t.task_id, **values))


def _row(r) -> dict[str, Any]:
    """A row as a dict, its times in UTC with the zone said (SQLite hands them back naive)."""
    return {k: (v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)) if isinstance(v, datetime) else v
            for k, v in r._mapping.items()}


def list_waves(engine: Engine, *, warehouse: str | None = None, state: str | None = None,
               open_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
    q = select(waves)
    if warehouse:
        q = q.where(waves.c.warehouse == warehouse)
    if state:
        q = q.where(waves.c.state == state)
    if open_only:
        q = q.where(waves.c.state != "done")
    with engine.connect() as conn:
        rows = [_row(r) for r in conn.execute(q.order_by(waves.c.opened_at.desc(), waves.c.wave_id.desc()).limit(limit))]
    for r in rows:
        r["progress"] = (r["done_count"] + r["short_count"]) / r["task_count"] if r["task_count"] else 0.0
    return rows


def get_wave(engine: Engine, wave_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        w = conn.execute(select(waves).where(waves.c.wave_id == wave_id)).first()
        if w is None:
            return None
        tasks = [_row(r) for r in conn.execute(
            select(pick_tasks).where(pick_tasks.c.wave_id == wave_id).order_by(pick_tasks.c.kind, pick_tasks.c.seq))]
    wave = _row(w)
    wave["progress"] = (wave["done_count"] + wave["short_count"]) / wave["task_count"] if wave["task_count"] else 0.0
    wave["tasks"] = tasks
    return wave


def get_task(engine: Engine, task_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        r = conn.execute(select(pick_tasks).where(pick_tasks.c.task_id == task_id)).first()
    return _row(r) if r else None


def list_tasks(engine: Engine, *, warehouse: str | None = None, states: Iterable[str] | None = None,
               limit: int = 200) -> list[dict[str, Any]]:
    q = select(pick_tasks)
    if warehouse:
        q = q.where(pick_tasks.c.warehouse == warehouse)
    if states:
        q = q.where(pick_tasks.c.state.in_(list(states)))
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(q.order_by(pick_tasks.c.updated_at.desc()).limit(limit))]


def list_exceptions(engine: Engine, *, warehouse: str | None = None, state: str | None = None,
                    kind: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    q = select(warehouse_exceptions)
    if warehouse:
        q = q.where(warehouse_exceptions.c.warehouse == warehouse)
    if state:
        q = q.where(warehouse_exceptions.c.state == state)
    if kind:
        q = q.where(warehouse_exceptions.c.kind == kind)
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(q.order_by(warehouse_exceptions.c.created_at.desc()).limit(limit))]


def exception_exists(engine: Engine, exception_id: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(warehouse_exceptions.c.exception_id).where(
            warehouse_exceptions.c.exception_id == exception_id)).first() is not None


def resolve_exception(engine: Engine, exception_id: str) -> bool:
    with engine.begin() as conn:
        n = conn.execute(update(warehouse_exceptions).where(
            warehouse_exceptions.c.exception_id == exception_id, warehouse_exceptions.c.state == "open"
        ).values(state="resolved", resolved_at=_now())).rowcount
    return bool(n)


def record_scan_event(engine: Engine, ev: ScanEventIn) -> bool:
    """Store one mis-scan (once per event id); True when it was new."""
    with engine.begin() as conn:
        if conn.execute(select(scan_events.c.event_id).where(scan_events.c.event_id == ev.event_id)).first():
            return False
        conn.execute(insert(scan_events).values(**ev.model_dump(exclude={"at"}), at=ev.at or _now()))
    return True


def picker_stats(engine: Engine, *, warehouse: str | None = None, since: datetime | None = None) -> list[dict[str, Any]]:
    """Mis-scans per picker (by kind) next to the lines each one confirmed: the dashboard's feed."""
    q = select(scan_events.c.picker, scan_events.c.kind, func.count().label("n")).group_by(scan_events.c.picker, scan_events.c.kind)
    p = select(pick_tasks.c.picker, func.count().label("n")).where(
        pick_tasks.c.picker.is_not(None), pick_tasks.c.state.in_(["done", "qc_pending", "short"])
    ).group_by(pick_tasks.c.picker)
    if warehouse:
        q = q.where(scan_events.c.warehouse == warehouse)
        p = p.where(pick_tasks.c.warehouse == warehouse)
    if since:
        q = q.where(scan_events.c.at >= since)
    stats: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for r in conn.execute(q):
            s = stats.setdefault(r.picker, {"picker": r.picker, "mis_scans": 0, "picks": 0})
            s[r.kind] = r.n
            s["mis_scans"] += r.n
        for r in conn.execute(p):
            stats.setdefault(r.picker, {"picker": r.picker, "mis_scans": 0, "picks": 0})["picks"] = r.n
    return sorted(stats.values(), key=lambda s: (-s["mis_scans"], s["picker"]))


# ---------------------------------------------------------------- stock import from Excel

STOCK_COLUMNS = {  # header (Chinese or English) → field
    "仓库": "warehouse", "warehouse": "warehouse",
    "库位": "bin", "bin": "bin",
    "sku": "sku", "商品编码": "sku",
    "品名": "name", "name": "name",
    "数量": "quantity", "quantity": "quantity", "库存": "quantity",
    "条码": "barcode", "barcode": "barcode",
    "备注": "notes", "notes": "notes", "特殊说明": "notes",
}


class StockImportError(ValueError):
    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors[:10]) + (f" (+{len(errors) - 10} more)" if len(errors) > 10 else ""))
        self.errors = errors


def parse_stock_workbook(data: bytes, default_warehouse: str | None = None) -> list[dict[str, Any]]:
    """Rows of the first sheet: a header row (仓库, 库位, SKU, 品名, 数量, 条码, 备注) then data.
    Every bad cell is reported by row and column; nothing is half-imported."""
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None) or ()
    fields = [STOCK_COLUMNS.get(str(h or "").strip().lower()) or STOCK_COLUMNS.get(str(h or "").strip()) for h in header]
    errors: list[str] = []
    missing = {"bin", "sku", "quantity"} - set(fields)
    if not default_warehouse and "warehouse" not in fields:
        missing.add("warehouse")
    if missing:
        raise StockImportError([f"missing column(s): {', '.join(sorted(missing))}"])
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for n, values in enumerate(rows, start=2):
        rec = {f: v for f, v in zip(fields, values, strict=False) if f}
        if all(v in (None, "") for v in rec.values()):
            continue
        wh = str(rec.get("warehouse") or default_warehouse or "").strip()
        try:
            b = parse_bin(str(rec.get("bin") or "")).code
        except ValueError as exc:
            errors.append(f"row {n} 库位: {exc}")
            continue
        sku = str(rec.get("sku") or "").strip()
        quantity: Any = rec.get("quantity")  # whatever the cell holds: int() and float() refuse non-numbers
        try:
            qty = int(quantity)
            if qty < 0 or float(quantity) != qty:
                raise ValueError
        except (TypeError, ValueError):
            errors.append(f"row {n} 数量: {quantity!r} is not a whole number ≥ 0")
            continue
        if not wh or not sku:
            errors.append(f"row {n}: warehouse and SKU are required")
            continue
        if (wh, b, sku) in seen:
            errors.append(f"row {n}: {wh} {b} {sku} appears twice")
            continue
        seen.add((wh, b, sku))
        out.append(dict(warehouse=wh, bin=b, sku=sku, name=str(rec.get("name") or "").strip(), quantity=qty,
                        barcode=str(rec.get("barcode") or "").strip(), notes=str(rec.get("notes") or "").strip()))
    if errors:
        raise StockImportError(errors)
    return out


def import_stock(engine: Engine, rows: list[dict[str, Any]], *, replace: bool = True) -> dict[str, int]:
    """Store the rows; with ``replace`` each warehouse in the file is replaced as a whole."""
    now = _now()
    per: dict[str, int] = {}
    with engine.begin() as conn:
        if replace:
            for wh in {r["warehouse"] for r in rows}:
                conn.execute(delete(warehouse_stock).where(warehouse_stock.c.warehouse == wh))
        for r in rows:
            key = and_(warehouse_stock.c.warehouse == r["warehouse"], warehouse_stock.c.bin == r["bin"],
                       warehouse_stock.c.sku == r["sku"])
            if not replace and conn.execute(select(warehouse_stock.c.sku).where(key)).first():
                conn.execute(update(warehouse_stock).where(key).values(**r, updated_at=now))
            else:
                conn.execute(insert(warehouse_stock).values(**r, updated_at=now))
            per[r["warehouse"]] = per.get(r["warehouse"], 0) + 1
    return per


def stock_workbook(rows: list[dict[str, Any]]) -> bytes:
    """The import format, filled (templates, tests, the bench)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new Workbook always has its one sheet
    ws.title = "库存"
    ws.append(["仓库", "库位", "SKU", "品名", "数量", "条码", "备注"])
    for r in rows:
        ws.append([r["warehouse"], r["bin"], r["sku"], r.get("name", ""), r["quantity"], r.get("barcode", ""), r.get("notes", "")])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ---------------------------------------------------------------- pick list


def pick_list_json(wave: dict[str, Any]) -> dict[str, Any]:
    """The device-facing pick list: the wave and its pick tasks in walking order."""
    tasks = [t for t in wave["tasks"] if t["kind"] == "pick"]
    return {
        "wave_id": wave["wave_id"], "wave_no": wave["wave_no"], "warehouse": wave["warehouse"],
        "carrier": wave["carrier"], "state": wave["state"], "order_ids": wave["order_ids"],
        "instructions": [
            {k: t[k] for k in ("task_id", "seq", "bin", "sku", "name", "barcode", "quantity", "picked_qty",
                               "image_url", "notes", "qc_required", "state")}
            | {"state_label": TASK_LOOK[TaskState(t["state"])].label, "state_icon": TASK_LOOK[TaskState(t["state"])].icon}
            for t in sorted(tasks, key=lambda t: t["seq"])
        ],
    }


def render_pick_list_html(wave: dict[str, Any]) -> str:
    """A printable A4 pick list (拣货单): one row per stop on the walking path, images and notes,
    a tick box per line; QC and put-away states in their colours."""
    e = html.escape
    rows = []
    for t in sorted((t for t in wave["tasks"] if t["kind"] == "pick"), key=lambda t: t["seq"]):
        look = TASK_LOOK[TaskState(t["state"])]
        img = f'<img src="{e(t["image_url"])}" alt="{e(t["sku"])}">' if t.get("image_url") else ""
        notes = "".join(f'<span class="note">{e(n)}</span>' for n in t.get("notes") or [])
        rows.append(
            f'<tr class="state-{e(t["state"])}"><td class="seq">{t["seq"]}</td><td class="bin">{e(t["bin"])}</td>'
            f'<td>{img}</td><td><b>{e(t["sku"])}</b><br>{e(t["name"] or "")}</td><td class="qty">{t["quantity"]}</td>'
            f'<td>{notes}</td><td class="state">{look.icon} {e(look.label)}</td><td class="tick">☐</td></tr>'
        )
    orders = ", ".join(e(o) for o in wave.get("order_ids") or [])
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>拣货单 {e(wave["wave_no"])} · {e(wave["warehouse"])}</title>
<style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:12mm;font-size:12pt}}
h1{{font-size:20pt;margin:0}} .meta{{color:#444;margin:4pt 0 10pt}}
table{{border-collapse:collapse;width:100%}} th,td{{border:1px solid #333;padding:4pt;vertical-align:middle}}
th{{background:#eee}} td.bin{{font-size:16pt;font-weight:bold;font-family:monospace}} td.qty{{font-size:16pt;text-align:center}}
td.seq,td.tick{{text-align:center}} img{{max-width:48pt;max-height:48pt}}
.note{{display:inline-block;border:1px solid #c00;color:#c00;padding:0 3pt;margin:1pt}}
tr.state-qc_pending td.state{{color:#fff;background:#d00}} tr.state-putaway_pending td.state{{color:#fff;background:#1565c0}}
tr.state-short td.state{{color:#fff;background:#7b1fa2}}
@media print{{body{{margin:8mm}} tr{{page-break-inside:avoid}}}}
</style></head><body>
<h1>拣货单 波次 {e(wave["wave_no"])}</h1>
<div class="meta">仓库 {e(wave["warehouse"])} · 承运商 {e(wave["carrier"])} · 波次号 {e(wave["wave_id"])} · 订单 {len(wave.get("order_ids") or [])} 个<br>{orders}</div>
<table><thead><tr><th>序</th><th>库位</th><th>图片</th><th>商品</th><th>数量</th><th>特殊说明</th><th>状态</th><th>✓</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<p class="meta">路径: 按区、巷道蛇形行走 (serpentine). ⚙️⚠️ 红色 = 待质检 · 📦 蓝色 = 待上架</p>
</body></html>"""
