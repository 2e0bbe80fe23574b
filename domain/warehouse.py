"""Warehouse execution (仓内作业), the pure part: waves, bins, pick tasks, scan checks, voice texts.

Everything here is deterministic and free of I/O, so the WaveWorkflow (sandboxed), the activities,
the device worker and the console all import it and it is unit-tested without servers.

* **Waves (波次)** batch the routed orders of one warehouse per carrier. A wave closes at
  ``WavePolicy.size`` orders or at the carrier's next cut-off time, whichever comes first. Waves
  are numbered ``B{day}-{seq}`` — ``B26-07`` is the 7th wave opened on the 26th (Beijing time) in
  that warehouse; ``wave_id`` (``HZ-DIRECT-20261126-07``) is unique for ever.
* **Bins (库位)** are ``zone-aisle-slot`` (``A-03-12``). The walking path visits zones in order,
  aisles in order, and walks each visited aisle alternately up and down (serpentine / S-shape), so
  the picker never walks an aisle twice.
* **Pick tasks**: one per (bin, SKU) of a wave, the quantity summed over its orders and allocated
  back to them first come, first served. A task's state has an unmistakable icon and colour:
  待质检 (QC pending) red gear ⚠️, 待上架 (put-away pending) blue shelf 📦.
* **Scan checks**: a pick is bin label → item barcode → quantity; 3 consecutive unreadable or
  wrong bin labels ask for a reprinted label (the picker waits); a wrong item is rejected with a
  spoken reason. Every mis-scan is counted per picker.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from domain import labels

if TYPE_CHECKING:
    from domain.state import OrderState

CN_TZ = timezone(timedelta(hours=8))  # China has no DST

# ---------------------------------------------------------------- policy


class WavePolicy(BaseModel):
    """How one warehouse's waves are cut; fixed when its WaveWorkflow starts (carried over
    continue-as-new)."""

    size: int = Field(default=30, ge=1, description="close a wave at this many orders")
    cutoffs: list[str] = Field(default=["11:00", "16:00"], description="Beijing clock times a wave closes at")
    carrier_cutoffs: dict[str, list[str]] = Field(default_factory=dict, description="per-carrier override")
    qc_categories: list[str] = Field(default=["发动机总成"], description="categories that go to QC after picking")
    auto_pack: bool = False  # pack confirms itself once picking is done (bench/demo; a packer confirms otherwise)
    history_limit: int = 8000  # continue-as-new beyond this many history events
    updates_per_run: int = 1500  # … or this many device updates (the server refuses more than 2000 per run)
    console_url: str = "http://127.0.0.1:8501"

    def cutoff_times(self, carrier: str) -> list[time]:
        return sorted(parse_clock(c) for c in self.carrier_cutoffs.get(carrier, self.cutoffs))


def parse_clock(text: str) -> time:
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*", text)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59 or int(m.group(3) or 0) > 59:
        raise ValueError(f"cut-off {text!r} is not a clock time like 16:00")
    return time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def next_cutoff(now: datetime, cutoffs: list[time]) -> datetime | None:
    """The first cut-off strictly after ``now`` (Beijing clock), today or tomorrow; None if none set."""
    if not cutoffs:
        return None
    local = now.astimezone(CN_TZ)
    for day in (0, 1):
        d = (local + timedelta(days=day)).date()
        for c in sorted(cutoffs):
            at = datetime.combine(d, c, tzinfo=CN_TZ)
            if at > local:
                return at.astimezone(UTC)
    return None  # pragma: no cover - unreachable with a non-empty list


# ---------------------------------------------------------------- bins and the walking path

_BIN_RE = re.compile(r"^([A-Z]{1,2})-(\d{2})-(\d{2})$")
BIN_LABEL_PREFIXES = ("LOC:", "BIN:", "库位:")


class BinLocation(BaseModel, frozen=True):
    zone: str
    aisle: int
    slot: int

    @property
    def code(self) -> str:
        return f"{self.zone}-{self.aisle:02d}-{self.slot:02d}"

    def __str__(self) -> str:
        return self.code


def parse_bin(text: str) -> BinLocation:
    """'A-03-12' (also 'a-3-12', ' A 03 12 ', 'LOC:A-03-12' as printed on labels) → BinLocation."""
    raw = (text or "").strip().upper()
    for p in BIN_LABEL_PREFIXES:
        if raw.startswith(p.upper()):
            raw = raw[len(p):].strip()
    parts = re.split(r"[-\s_]+", raw)
    if (len(parts) == 3 and re.fullmatch(r"[A-Z]{1,2}", parts[0])
            and re.fullmatch(r"\d{1,2}", parts[1]) and re.fullmatch(r"\d{1,2}", parts[2])):
        raw = f"{parts[0]}-{int(parts[1]):02d}-{int(parts[2]):02d}"
    m = _BIN_RE.match(raw)
    if not m:
        raise ValueError(f"库位 {text!r} 不是 区-巷道-货位 格式 (e.g. A-03-12)")
    return BinLocation(zone=m.group(1), aisle=int(m.group(2)), slot=int(m.group(3)))


def try_parse_bin(text: str) -> BinLocation | None:
    try:
        return parse_bin(text)
    except ValueError:
        return None


def walking_order(bins: Iterable[str]) -> list[str]:
    """Distinct bins in serpentine order: zones A→Z, aisles ascending, the 1st visited aisle walked
    up (slots ascending), the 2nd down, and so on. Aisles without a pick are skipped and do not
    flip the direction. Unparseable bins go last, sorted."""
    good: dict[str, BinLocation] = {}
    bad: list[str] = []
    for b in set(bins):
        loc = try_parse_bin(b)
        if loc is None:
            bad.append(b)
        else:
            good[b] = loc
    aisles = sorted({(loc.zone, loc.aisle) for loc in good.values()})
    rank = {a: i for i, a in enumerate(aisles)}

    def key(b: str) -> tuple[int, int, str]:
        loc = good[b]
        r = rank[(loc.zone, loc.aisle)]
        return (r, loc.slot if r % 2 == 0 else -loc.slot, b)

    return sorted(good, key=key) + sorted(bad)


# ---------------------------------------------------------------- waves


def wave_number(opened_at: datetime, seq: int) -> str:
    """B26-07: the 7th wave of the 26th (Beijing date)."""
    return f"B{opened_at.astimezone(CN_TZ).day:02d}-{seq:02d}"


def wave_day(at: datetime) -> str:
    return at.astimezone(CN_TZ).strftime("%Y%m%d")


def wave_id(warehouse: str, opened_at: datetime, seq: int) -> str:
    return f"{warehouse}-{wave_day(opened_at)}-{seq:02d}"


class WaveLine(BaseModel):
    sku: str
    name: str = ""
    category: str = ""
    quantity: int = Field(gt=0)
    note: str = ""


class WaveOrder(BaseModel):
    """What an order brings into its warehouse's wave (sent by ``join_wave`` with signal-with-start)."""

    order_id: str
    warehouse: str
    carrier: str
    ordered_at: datetime
    lines: list[WaveLine]
    note: str = ""
    reply_to: str | None = None  # the workflow the wave tells when done (a fulfilment part); None: the order
    urgent: bool = False  # marked 加急 (console): its wave closes at once and its picks come first


def wave_order_for(state: OrderState) -> WaveOrder:
    """What a routed order brings into its wave: ``domain.state.OrderState`` → ``WaveOrder``."""
    order = state.order
    assert order is not None and state.warehouse and state.carrier, "only a routed order joins a wave"
    return WaveOrder(
        order_id=state.order_id, warehouse=state.warehouse, carrier=state.carrier, ordered_at=order.ordered_at,
        lines=[WaveLine(sku=line.sku, name=line.name, category=str(getattr(line.category, "value", line.category)),
                        quantity=line.quantity) for line in order.lines],
    )


class CloseReason(StrEnum):
    SIZE = "size"  # reached N orders
    CUTOFF = "cutoff"  # the carrier's cut-off time came
    MANUAL = "manual"  # the warehouse lead closed the open waves now (signal close_open_waves)
    URGENT = "urgent"  # an urgent (加急) order joined it or was marked while it was open


class OpenWave(BaseModel):
    wave_id: str
    wave_no: str
    warehouse: str
    carrier: str
    opened_at: datetime
    cutoff_at: datetime | None
    orders: list[WaveOrder] = []


class WaveBatcher(BaseModel):
    """The open waves of one warehouse (one per carrier) and the per-day wave counter. Pure: the
    workflow feeds it orders and the clock; it answers which waves close and why."""

    warehouse: str
    policy: WavePolicy = WavePolicy()
    open: dict[str, OpenWave] = {}  # carrier → its open wave
    day_seq: dict[str, int] = {}  # YYYYMMDD → last wave sequence that day

    def _open(self, carrier: str, now: datetime) -> OpenWave:
        day = wave_day(now)
        seq = self.day_seq.get(day, 0) + 1
        self.day_seq = {day: seq}  # older days are never needed again
        w = OpenWave(
            wave_id=wave_id(self.warehouse, now, seq), wave_no=wave_number(now, seq), warehouse=self.warehouse,
            carrier=carrier, opened_at=now, cutoff_at=next_cutoff(now, self.policy.cutoff_times(carrier)),
        )
        self.open[carrier] = w
        return w

    def add(self, order: WaveOrder, now: datetime) -> tuple[OpenWave, OpenWave | None]:
        """Put the order into its carrier's open wave (opening one if needed). Returns (the wave it
        joined, that wave if the order filled it — now closed)."""
        if self.contains(order.order_id):
            w = self.wave_of(order.order_id)
            assert w is not None
            return w, None
        w = self.open.get(order.carrier) or self._open(order.carrier, now)
        w.orders.append(order)
        if len(w.orders) >= self.policy.size or order.urgent:  # an urgent order does not wait for others
            del self.open[order.carrier]
            return w, w
        return w, None

    def take(self, order_id: str) -> OpenWave | None:
        """Close and return the open wave that holds ``order_id`` (it was marked urgent), if any."""
        w = self.wave_of(order_id)
        if w is not None:
            del self.open[w.carrier]
        return w

    def due(self, now: datetime) -> list[OpenWave]:
        """Close and return every open wave whose cut-off has come."""
        closing = [w for w in self.open.values() if w.cutoff_at is not None and w.cutoff_at <= now]
        for w in closing:
            del self.open[w.carrier]
        return sorted(closing, key=lambda w: w.wave_id)

    def close_all(self) -> list[OpenWave]:
        closing = sorted(self.open.values(), key=lambda w: w.wave_id)
        self.open = {}
        return closing

    def next_deadline(self) -> datetime | None:
        times = [w.cutoff_at for w in self.open.values() if w.cutoff_at is not None]
        return min(times) if times else None

    def contains(self, order_id: str) -> bool:
        return self.wave_of(order_id) is not None

    def wave_of(self, order_id: str) -> OpenWave | None:
        return next((w for w in self.open.values() if any(o.order_id == order_id for o in w.orders)), None)

    def remove(self, order_id: str) -> bool:
        for carrier, w in list(self.open.items()):
            kept = [o for o in w.orders if o.order_id != order_id]
            if len(kept) != len(w.orders):
                w.orders = kept
                if not kept:
                    del self.open[carrier]
                return True
        return False


# ---------------------------------------------------------------- pick tasks


class TaskKind(StrEnum):
    PICK = "pick"
    PUTAWAY = "putaway"


class TaskState(StrEnum):
    PENDING = "pending"  # 待拣货
    PICKING = "picking"  # claimed by a device
    QC_PENDING = "qc_pending"  # 待质检: red gear ⚠️
    PUTAWAY_PENDING = "putaway_pending"  # 待上架: blue shelf 📦
    SHORT = "short"  # 缺货异常: an exception task is open
    DONE = "done"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (TaskState.DONE, TaskState.SHORT, TaskState.CANCELLED)


class StateLook(BaseModel):
    icon: str
    symbol: str  # what the icon depicts, for people and screen readers
    label: str
    colour: str  # console badge colour
    spoken: str


_T = labels.task_state  # the words live in domain/labels.py; icons, colours and voice here
TASK_LOOK: dict[TaskState, StateLook] = {
    TaskState.PENDING: StateLook(icon="🛒", symbol="cart", label=_T("pending"), colour="gray", spoken="待拣货"),
    TaskState.PICKING: StateLook(icon="🔄", symbol="arrows", label=_T("picking"), colour="orange", spoken="拣货中"),
    TaskState.QC_PENDING: StateLook(icon="⚙️⚠️", symbol="红色齿轮 red gear", label=_T("qc_pending"), colour="red",
                                    spoken="待质检,红色齿轮,请送质检区,不要上架"),
    TaskState.PUTAWAY_PENDING: StateLook(icon="📦", symbol="蓝色货架 blue shelf", label=_T("putaway_pending"), colour="blue",
                                         spoken="待上架,蓝色货架,请放回库位,不要送质检"),
    TaskState.SHORT: StateLook(icon="⛔", symbol="stop", label=_T("short"), colour="violet", spoken="缺货,已通知组长"),
    TaskState.DONE: StateLook(icon="✅", symbol="check", label=_T("done"), colour="green", spoken="已完成"),
    TaskState.CANCELLED: StateLook(icon="✖️", symbol="cross", label=_T("cancelled"), colour="gray", spoken="已取消"),
}


def state_badge(state: str) -> str:
    look = TASK_LOOK.get(TaskState(state)) if state in TaskState._value2member_map_ else None
    return f"{look.icon} {look.label}" if look else state


class Allocation(BaseModel):
    order_id: str
    quantity: int
    picked: int = 0


class PickTask(BaseModel):
    """One instruction for a picker: go to ``bin``, take ``quantity`` of ``sku``."""

    task_id: str
    kind: TaskKind = TaskKind.PICK
    wave_id: str
    wave_no: str
    warehouse: str
    seq: int  # position on the walking path
    bin: str
    sku: str
    name: str = ""
    barcode: str = ""  # the item's barcode; the SKU itself when the item master has none
    quantity: int
    picked_qty: int = 0
    image_url: str | None = None
    notes: list[str] = []
    qc_required: bool = False
    state: TaskState = TaskState.PENDING
    allocations: list[Allocation] = []
    device_id: str | None = None
    picker: str | None = None

    @property
    def expected_barcodes(self) -> set[str]:
        return {c.strip().upper() for c in (self.barcode, self.sku) if c and c.strip()}


class StockRow(BaseModel):
    bin: str
    sku: str
    name: str = ""
    quantity: int
    barcode: str = ""
    notes: str = ""


URGENT_NOTE = "⚡加急"  # first on an urgent order's pick line (pick list, device, voice)


def plan_tasks(
    wave: OpenWave,
    stock: list[StockRow],
    *,
    qc_categories: Iterable[str] = (),
    image_url: Callable[[str], str | None] = lambda sku: None,
) -> list[PickTask]:
    """The wave's pick tasks in walking order.

    Each SKU's summed quantity is taken from its bins in walking order, each bin as far as its
    stock goes; what no bin holds stays on the bin with the most stock (the picker will find it
    short there and raise the exception). A SKU with no bin in the warehouse gets a task on bin
    ``?`` that starts as short.
    """
    qc = set(qc_categories)
    demand: dict[str, list[tuple[WaveOrder, WaveLine]]] = {}
    for o in wave.orders:
        for line in o.lines:
            demand.setdefault(line.sku, []).append((o, line))
    by_sku: dict[str, list[StockRow]] = {}
    for row in stock:
        by_sku.setdefault(row.sku, []).append(row)

    drafts: list[tuple[str, str, int, list[Allocation]]] = []  # bin, sku, qty, allocations
    for sku, wanted in demand.items():
        queue = [Allocation(order_id=o.order_id, quantity=line.quantity) for o, line in wanted]
        rows = by_sku.get(sku, [])
        order = {b: i for i, b in enumerate(walking_order(r.bin for r in rows))}
        rows = sorted(rows, key=lambda r: order.get(r.bin, 10**6))
        plan: dict[str, list[Allocation]] = {}
        remaining = [a.model_copy() for a in queue]
        for row in rows:
            room = max(0, row.quantity)
            while room > 0 and remaining:
                a = remaining[0]
                take = min(room, a.quantity)
                plan.setdefault(row.bin, []).append(Allocation(order_id=a.order_id, quantity=take))
                room -= take
                if take == a.quantity:
                    remaining.pop(0)
                else:
                    remaining[0] = Allocation(order_id=a.order_id, quantity=a.quantity - take)
        if remaining:
            fallback = max(rows, key=lambda r: r.quantity).bin if rows else "?"
            plan.setdefault(fallback, []).extend(remaining)
        for b, allocs in plan.items():
            merged: dict[str, int] = {}
            for a in allocs:
                merged[a.order_id] = merged.get(a.order_id, 0) + a.quantity
            drafts.append((b, sku, sum(merged.values()), [Allocation(order_id=k, quantity=v) for k, v in merged.items()]))

    path = {b: i for i, b in enumerate(walking_order(d[0] for d in drafts))}
    drafts.sort(key=lambda d: (path[d[0]], d[1]))
    tasks = []
    for i, (b, sku, qty, allocs) in enumerate(drafts, start=1):
        at_bin = next((r for r in by_sku.get(sku, []) if r.bin == b), None) or next(iter(by_sku.get(sku, [])), None)
        lines = [line for _, line in demand[sku]]
        notes: list[str] = []
        for n in [at_bin.notes if at_bin else ""] + [line.note for line in lines]:
            for part in re.split(r"[;;]", n or ""):
                if part.strip() and part.strip() not in notes:
                    notes.append(part.strip())
        if any(o.urgent for o, _ in demand[sku] if any(a.order_id == o.order_id for a in allocs)):
            notes.insert(0, URGENT_NOTE)
        needs_qc = any(line.category in qc for line in lines)
        if needs_qc:
            notes.append("拣货后送质检")
        tasks.append(PickTask(
            task_id=f"{wave.wave_id}-{i:03d}", wave_id=wave.wave_id, wave_no=wave.wave_no, warehouse=wave.warehouse,
            seq=i, bin=b, sku=sku, name=(at_bin.name if at_bin and at_bin.name else lines[0].name),
            barcode=at_bin.barcode if at_bin else "",
            quantity=qty, image_url=image_url(sku), notes=notes, qc_required=needs_qc,
            state=TaskState.SHORT if b == "?" else TaskState.PENDING, allocations=allocs,
        ))
    return tasks


def apply_pick(task: PickTask, picked: int) -> list[Allocation]:
    """Record ``picked`` units on the task, allocated first come first served; returns the
    allocations left short (empty when the pick was complete)."""
    task.picked_qty = picked
    left = picked
    short = []
    for a in task.allocations:
        a.picked = min(a.quantity, left)
        left -= a.picked
        if a.picked < a.quantity:
            short.append(a)
    return short


# ---------------------------------------------------------------- voice prompts


def pick_prompt(task: PickTask) -> str:
    """'波次B26-07,目标库位A-03-12,数量3件' (+ notes)."""
    if task.kind == TaskKind.PUTAWAY:
        text = f"待上架,波次{task.wave_no},请将{task.name or task.sku}{task.quantity}件放回库位{task.bin}"
    else:
        text = f"波次{task.wave_no},目标库位{task.bin},数量{task.quantity}件"
    if task.notes:
        text += "," + ",".join(task.notes)
    return text


# ---------------------------------------------------------------- scan validation


class ScanStep(StrEnum):
    BIN = "bin"  # scan the bin label
    ITEM = "item"  # scan the item barcode
    QUANTITY = "quantity"  # scan/enter the quantity (QTY:3 or 3)
    WAIT = "wait"  # a reprinted label is on its way; scan the new label to go on
    DONE = "done"


class ScanResult(StrEnum):
    ACCEPTED = "accepted"  # step passed, next step announced
    REJECTED = "rejected"  # a wrong scan; the step stays
    REPRINT = "reprint"  # 3rd consecutive bad bin label: ask the lead for a new label, wait
    CONFIRMED = "confirmed"  # the full quantity is confirmed
    SHORT = "short"  # fewer units than asked: a short pick


class MisScan(StrEnum):
    UNREADABLE = "unreadable"
    WRONG_BIN = "wrong_bin"
    WRONG_ITEM = "wrong_item"
    WRONG_QUANTITY = "wrong_quantity"


class ScanOutcome(BaseModel):
    result: ScanResult
    step: ScanStep  # the step after this scan
    prompt: str  # what the device says
    mis_scan: MisScan | None = None
    picked_qty: int | None = None


REPRINT_AFTER = 3
_QTY_RE = re.compile(r"^(?:QTY[:=]?|数量[:=]?)?\s*(\d{1,5})\s*(?:件)?$", re.IGNORECASE)


def parse_quantity(text: str) -> int | None:
    m = _QTY_RE.match((text or "").strip())
    return int(m.group(1)) if m else None


def readable(text: str) -> bool:
    """A scanner's no-read or a mangled frame: empty, control characters, replacement chars."""
    t = (text or "").strip()
    return bool(t) and "\ufffd" not in t and all(ch.isprintable() for ch in t) and t.upper() not in {"NOREAD", "NR"}


class ScanSession(BaseModel):
    """Checks one task's scans: pick = bin → item → quantity; put-away = item → bin → quantity."""

    task: PickTask
    step: ScanStep = ScanStep.BIN
    bad_bin_streak: int = 0
    mis_scans: int = 0
    items_scanned: int = 0

    @classmethod
    def start(cls, task: PickTask) -> ScanSession:
        return cls(task=task, step=ScanStep.ITEM if task.kind == TaskKind.PUTAWAY else ScanStep.BIN)

    @property
    def steps(self) -> list[ScanStep]:
        if self.task.kind == TaskKind.PUTAWAY:
            return [ScanStep.ITEM, ScanStep.BIN, ScanStep.QUANTITY]
        return [ScanStep.BIN, ScanStep.ITEM, ScanStep.QUANTITY]

    def _advance(self, spoken: str) -> ScanOutcome:
        order = self.steps
        self.step = order[order.index(self.step) + 1] if order.index(self.step) + 1 < len(order) else ScanStep.DONE
        return ScanOutcome(result=ScanResult.ACCEPTED, step=self.step, prompt=f"{spoken},{self.ask()}")

    def ask(self) -> str:
        t = self.task
        return {
            ScanStep.BIN: f"请扫描库位{t.bin}",
            ScanStep.ITEM: f"请扫描商品{t.name or t.sku}",
            ScanStep.QUANTITY: f"请确认数量{t.quantity}件",
            ScanStep.WAIT: f"请等待组长补打库位{t.bin}标签",
            ScanStep.DONE: "本任务已完成",
        }[self.step]

    def _reject(self, kind: MisScan, prompt: str) -> ScanOutcome:
        self.mis_scans += 1
        return ScanOutcome(result=ScanResult.REJECTED, step=self.step, prompt=prompt, mis_scan=kind)

    def scan(self, raw: str) -> ScanOutcome:
        text = (raw or "").strip()
        t = self.task
        if self.step == ScanStep.DONE:
            return ScanOutcome(result=ScanResult.REJECTED, step=self.step, prompt="本任务已完成,请领取下一个任务")
        if self.step in (ScanStep.BIN, ScanStep.WAIT):
            loc = try_parse_bin(text) if readable(text) else None
            if loc is not None and loc.code == t.bin:
                self.bad_bin_streak = 0
                if self.step == ScanStep.WAIT:
                    self.step = ScanStep.BIN
                return self._advance(f"库位{t.bin}正确")
            self.bad_bin_streak += 1
            kind = MisScan.UNREADABLE if loc is None else MisScan.WRONG_BIN
            self.mis_scans += 1
            if self.step == ScanStep.WAIT:
                return ScanOutcome(result=ScanResult.REJECTED, step=self.step, prompt=self.ask(), mis_scan=kind)
            if self.bad_bin_streak >= REPRINT_AFTER:
                self.step = ScanStep.WAIT
                return ScanOutcome(
                    result=ScanResult.REPRINT, step=self.step, mis_scan=kind,
                    prompt=f"库位标签连续{REPRINT_AFTER}次无法识别或不符,已通知组长补打标签,请原地等待",
                )
            why = "标签无法识别" if loc is None else f"库位错误,扫到{loc.code},应为{t.bin}"
            return ScanOutcome(result=ScanResult.REJECTED, step=self.step, mis_scan=kind, prompt=f"{why},请重新扫描库位{t.bin}")
        if self.step == ScanStep.ITEM:
            if not readable(text):
                return self._reject(MisScan.UNREADABLE, f"条码无法识别,请重新扫描商品{t.name or t.sku}")
            if text.upper() in t.expected_barcodes:
                self.items_scanned += 1
                if t.kind == TaskKind.PICK and self.items_scanned >= t.quantity:
                    return self._confirm(t.quantity)  # a single unit: the item scan is the count
                return self._advance(f"商品{t.name or t.sku}正确")
            if t.kind == TaskKind.PICK and parse_quantity(text) == 0:  # QTY:0 at the bin: nothing there
                self.step = ScanStep.DONE
                return ScanOutcome(result=ScanResult.SHORT, step=self.step, picked_qty=0,
                                   prompt=f"库位{t.bin}缺货,实拣0件,应拣{t.quantity}件,已生成异常任务")
            if try_parse_bin(text) is not None:
                return self._reject(MisScan.WRONG_ITEM, f"这是库位标签{text},请扫描商品条码")
            return self._reject(MisScan.WRONG_ITEM, f"商品错误,扫到{text},应为{t.sku},请放回并重新拣货")
        # quantity: a quantity code confirms; the item barcode again counts one more unit
        if text.upper() in t.expected_barcodes:
            self.items_scanned += 1
            if self.items_scanned == t.quantity:
                return self._confirm(t.quantity)
            return ScanOutcome(result=ScanResult.ACCEPTED, step=self.step, prompt=f"已扫{self.items_scanned}件,共{t.quantity}件")
        qty = parse_quantity(text)
        if qty is None:
            kind = MisScan.UNREADABLE if not readable(text) else MisScan.WRONG_ITEM
            return self._reject(kind, f"数量无法识别,请扫描数量条码,应为{t.quantity}件")
        if qty > t.quantity:
            return self._reject(MisScan.WRONG_QUANTITY, f"数量{qty}件超过应拣{t.quantity}件,请重新确认")
        if qty == t.quantity:
            return self._confirm(qty)
        self.step = ScanStep.DONE
        return ScanOutcome(result=ScanResult.SHORT, step=self.step, picked_qty=qty,
                           prompt=f"库位{t.bin}缺货,实拣{qty}件,应拣{t.quantity}件,已生成异常任务")

    def _confirm(self, qty: int) -> ScanOutcome:
        self.step = ScanStep.DONE
        spoken = "数量正确,拣货完成" if self.task.kind == TaskKind.PICK else "上架完成"
        if self.task.qc_required and self.task.kind == TaskKind.PICK:
            spoken += "," + TASK_LOOK[TaskState.QC_PENDING].spoken
        return ScanOutcome(result=ScanResult.CONFIRMED, step=self.step, picked_qty=qty, prompt=spoken)


# ---------------------------------------------------------------- exceptions and wave payloads


class ExceptionKind(StrEnum):
    SHORT_PICK = "short_pick"
    REPRINT_LABEL = "reprint_label"
    QC_FAILED = "qc_failed"


EXCEPTION_TITLES = {k: labels.exception_kind(k) for k in ExceptionKind}  # the words live in domain/labels.py


class WarehouseException(BaseModel):
    exception_id: str
    kind: ExceptionKind
    warehouse: str
    wave_id: str | None = None
    task_id: str | None = None
    bin: str | None = None
    sku: str | None = None
    picker: str | None = None
    device_id: str | None = None
    reason: str
    order_ids: list[str] = []
    created_at: datetime


def render_exception_todo(exc: WarehouseException, console_url: str) -> str:
    """The WeCom markdown for the warehouse lead."""
    lines = [
        f"## 🏭 仓内异常 · {EXCEPTION_TITLES[exc.kind]}",
        f"> 仓库:<font color=\"info\">{exc.warehouse}</font>",
    ]
    if exc.wave_id:
        lines.append(f"> 波次:{exc.wave_id}")
    if exc.bin:
        lines.append(f"> 库位:<font color=\"warning\">{exc.bin}</font>")
    if exc.sku:
        lines.append(f"> 商品:{exc.sku}")
    if exc.picker or exc.device_id:
        lines.append(f"> 拣货员:{exc.picker or '-'} · 设备 {exc.device_id or '-'}")
    lines.append(f"> 原因:{exc.reason}")
    if exc.kind == ExceptionKind.REPRINT_LABEL:
        lines.append("**请立即补打库位标签并送到现场,拣货员正在等待。**")
    lines.append("")
    lines.append(f"[打开仓库看板]({console_url.rstrip('/')}/warehouse)")
    return "\n".join(lines)


class OrderShortage(BaseModel):
    sku: str
    bin: str
    wanted: int
    picked: int


class PickedLine(BaseModel):
    """What was picked for one order from one bin (what goes back there if the order does not ship)."""

    sku: str
    bin: str
    quantity: int
    name: str = ""
    barcode: str = ""


class ReturnToStock(BaseModel):
    """Signal ``return_to_stock`` to a wave workflow: an order rejected or cancelled after its wave
    finished gives its picked goods back — one put-away task (待上架) per bin."""

    order_id: str
    lines: list[PickedLine]
    reason: str = ""


class WaveDone(BaseModel):
    """Signal ``wave_done`` to an order workflow: its picking and packing in the wave are over."""

    order_id: str
    warehouse: str
    wave_id: str
    wave_no: str
    outcome: str  # "packed" | "short" | "cancelled"
    shortages: list[OrderShortage] = []
    exception_ids: list[str] = []
    picked: list[PickedLine] = []  # what was picked for the order, per bin
    at: datetime


class PickConfirmation(BaseModel):
    task_id: str
    picked_qty: int = Field(ge=0)
    picker: str = ""
    device_id: str = ""


class QcResult(BaseModel):
    task_id: str
    passed: bool
    inspector: str = ""
    note: str = ""


class PackConfirmation(BaseModel):
    wave_id: str
    packer: str = ""


class TaskClaim(BaseModel):
    device_id: str
    picker: str = ""


class DeviceException(BaseModel):
    """A device asks for a reprinted bin label (or reports another floor exception)."""

    kind: ExceptionKind = ExceptionKind.REPRINT_LABEL
    task_id: str | None = None
    bin: str | None = None
    picker: str = ""
    device_id: str = ""
    reason: str = ""
