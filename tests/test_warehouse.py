"""Warehouse execution, the pure part: bins and the walking path, wave batching and numbering, pick
planning, the scan state machine and the voice texts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.warehouse import (
    CN_TZ,
    TASK_LOOK,
    MisScan,
    OpenWave,
    PickTask,
    ScanResult,
    ScanSession,
    ScanStep,
    StockRow,
    TaskKind,
    TaskState,
    WaveBatcher,
    WaveLine,
    WaveOrder,
    WavePolicy,
    apply_pick,
    next_cutoff,
    parse_bin,
    parse_clock,
    parse_quantity,
    pick_prompt,
    plan_tasks,
    walking_order,
    wave_number,
)


def cn(y, mo, d, h, mi=0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CN_TZ)


def order(oid: str, carrier: str = "SF", lines=(("SKU-A", 1),), at: datetime | None = None, category: str = "") -> WaveOrder:
    return WaveOrder(order_id=oid, warehouse="HZ-DIRECT", carrier=carrier, ordered_at=at or cn(2026, 11, 26, 9),
                     lines=[WaveLine(sku=s, name=s.lower(), quantity=q, category=category) for s, q in lines])


# ---------------------------------------------------------------- bins


@pytest.mark.parametrize("text, code", [
    ("A-03-12", "A-03-12"), ("a-3-12", "A-03-12"), (" B 07 01 ", "B-07-01"), ("LOC:A-03-12", "A-03-12"),
    ("库位:C-10-02", "C-10-02"), ("AB-01-01", "AB-01-01"),
])
def test_parse_bin(text, code):
    assert parse_bin(text).code == code


@pytest.mark.parametrize("text", ["", "A0312", "A-03", "1-03-12", "A-003-12", "BOSCH-BP-COROLLA18", "A-03-12-1"])
def test_parse_bin_rejects(text):
    with pytest.raises(ValueError, match="区-巷道-货位"):
        parse_bin(text)


def test_walking_order_is_serpentine_and_skips_empty_aisles():
    bins = ["A-02-05", "A-01-03", "A-01-10", "A-02-01", "A-05-02", "A-05-09", "B-01-04", "A-01-01", "junk"]
    # aisle 1 up, aisle 2 down, aisle 5 up (3 and 4 have no picks and do not flip), zone B aisle 1 down
    assert walking_order(bins) == ["A-01-01", "A-01-03", "A-01-10", "A-02-05", "A-02-01", "A-05-02", "A-05-09",
                                   "B-01-04", "junk"]


def test_walking_order_dedupes():
    assert walking_order(["A-01-02", "A-01-02", "A-01-01"]) == ["A-01-01", "A-01-02"]


# ---------------------------------------------------------------- cut-offs and numbering


def test_parse_clock():
    assert parse_clock("16:00").hour == 16
    assert parse_clock("16:00:30").second == 30
    with pytest.raises(ValueError):
        parse_clock("25:00")


@pytest.mark.parametrize("now, expected", [
    (cn(2026, 11, 26, 9), cn(2026, 11, 26, 11)),
    (cn(2026, 11, 26, 11), cn(2026, 11, 26, 16)),  # strictly after
    (cn(2026, 11, 26, 17), cn(2026, 11, 27, 11)),  # tomorrow
    (cn(2026, 11, 30, 23, 59), cn(2026, 12, 1, 11)),
])
def test_next_cutoff(now, expected):
    assert next_cutoff(now, [parse_clock("16:00"), parse_clock("11:00")]) == expected


def test_next_cutoff_none_without_cutoffs():
    assert next_cutoff(cn(2026, 11, 26, 9), []) is None


def test_wave_number_uses_beijing_day():
    assert wave_number(cn(2026, 11, 26, 10), 7) == "B26-07"
    assert wave_number(datetime(2026, 11, 25, 17, tzinfo=UTC), 1) == "B26-01"  # 01:00 on the 26th in Beijing


# ---------------------------------------------------------------- batching


def test_wave_closes_at_size_per_carrier_and_numbers_continue():
    b = WaveBatcher(warehouse="HZ-DIRECT", policy=WavePolicy(size=3))
    now = cn(2026, 11, 26, 9)
    closed = []
    for i in range(7):
        w, c = b.add(order(f"o{i}", carrier="SF" if i % 2 == 0 else "ZTO"), now)
        if c:
            closed.append(c)
    assert [(w.wave_no, w.carrier, [o.order_id for o in w.orders]) for w in closed] == [
        ("B26-01", "SF", ["o0", "o2", "o4"]), ("B26-02", "ZTO", ["o1", "o3", "o5"])]
    assert closed[0].wave_id == "HZ-DIRECT-20261126-01"
    assert b.open["SF"].wave_no == "B26-03" and [o.order_id for o in b.open["SF"].orders] == ["o6"]


def test_wave_closes_at_cutoff_first():
    b = WaveBatcher(warehouse="HZ-DIRECT", policy=WavePolicy(size=100, carrier_cutoffs={"ZTO": ["10:30"]}))
    b.add(order("a", "SF"), cn(2026, 11, 26, 9))
    b.add(order("b", "ZTO"), cn(2026, 11, 26, 9))
    assert b.next_deadline() == cn(2026, 11, 26, 10, 30)
    assert b.due(cn(2026, 11, 26, 10, 29)) == []
    due = b.due(cn(2026, 11, 26, 10, 30))
    assert [w.carrier for w in due] == ["ZTO"] and b.next_deadline() == cn(2026, 11, 26, 11)
    assert [w.carrier for w in b.due(cn(2026, 11, 26, 11))] == ["SF"] and not b.open


def test_batcher_ignores_a_repeated_order_and_removes_cancelled():
    b = WaveBatcher(warehouse="HZ-DIRECT", policy=WavePolicy(size=2))
    b.add(order("a"), cn(2026, 11, 26, 9))
    _, closed = b.add(order("a"), cn(2026, 11, 26, 9))
    assert closed is None and len(b.open["SF"].orders) == 1
    assert b.remove("a") and not b.open and not b.remove("a")


def test_day_counter_restarts_each_day():
    b = WaveBatcher(warehouse="W", policy=WavePolicy(size=1))
    assert b.add(order("a"), cn(2026, 11, 26, 9))[1].wave_no == "B26-01"
    assert b.add(order("b"), cn(2026, 11, 26, 9))[1].wave_no == "B26-02"
    assert b.add(order("c"), cn(2026, 11, 27, 9))[1].wave_no == "B27-01"


# ---------------------------------------------------------------- planning


def wave(*orders: WaveOrder) -> OpenWave:
    return OpenWave(wave_id="HZ-DIRECT-20261126-07", wave_no="B26-07", warehouse="HZ-DIRECT", carrier="SF",
                    opened_at=cn(2026, 11, 26, 9), cutoff_at=None, orders=list(orders))


STOCK = [
    StockRow(bin="A-02-01", sku="SKU-A", quantity=10, barcode="6901", name="刹车片", notes="易碎品轻拿"),
    StockRow(bin="A-01-05", sku="SKU-B", quantity=2),
    StockRow(bin="A-01-09", sku="SKU-B", quantity=5),
    StockRow(bin="B-01-01", sku="SKU-C", quantity=1),
]


def test_plan_aggregates_per_bin_in_walking_order_with_allocations():
    tasks = plan_tasks(
        wave(order("o1", lines=[("SKU-A", 2), ("SKU-B", 3)]), order("o2", lines=[("SKU-A", 1)], category="发动机总成")),
        STOCK, qc_categories=["发动机总成"], image_url=lambda s: f"http://img/{s}.svg",
    )
    assert [(t.seq, t.bin, t.sku, t.quantity) for t in tasks] == [
        (1, "A-01-05", "SKU-B", 2), (2, "A-01-09", "SKU-B", 1), (3, "A-02-01", "SKU-A", 3)]
    a = tasks[2]
    assert [(x.order_id, x.quantity) for x in a.allocations] == [("o1", 2), ("o2", 1)]
    assert a.task_id == "HZ-DIRECT-20261126-07-003" and a.barcode == "6901" and a.image_url == "http://img/SKU-A.svg"
    assert a.qc_required and a.notes == ["易碎品轻拿", "拣货后送质检"]
    assert not tasks[0].qc_required and tasks[0].state == TaskState.PENDING


def test_plan_leaves_the_shortfall_on_the_fullest_bin_and_unknown_skus_short():
    tasks = plan_tasks(wave(order("o1", lines=[("SKU-C", 3), ("SKU-X", 1)])), STOCK)
    c = next(t for t in tasks if t.sku == "SKU-C")
    assert c.bin == "B-01-01" and c.quantity == 3 and c.state == TaskState.PENDING
    x = next(t for t in tasks if t.sku == "SKU-X")
    assert x.bin == "?" and x.state == TaskState.SHORT and tasks[-1] is x


def test_apply_pick_allocates_first_come_first_served():
    t = plan_tasks(wave(order("o1", lines=[("SKU-A", 2)]), order("o2", lines=[("SKU-A", 3)])), STOCK)[0]
    short = apply_pick(t, 3)
    assert [(a.order_id, a.picked) for a in t.allocations] == [("o1", 2), ("o2", 1)]
    assert [a.order_id for a in short] == ["o2"]


# ---------------------------------------------------------------- voice and states


def task(**kw) -> PickTask:
    base = dict(task_id="W-001", wave_id="W", wave_no="B26-07", warehouse="HZ-DIRECT", seq=1, bin="A-03-12",
                sku="BOSCH-BP-COROLLA18", name="博世刹车片", barcode="6901234567890", quantity=3)
    base.update(kw)
    return PickTask(**base)


def test_pick_prompt_is_the_field_wording():
    assert pick_prompt(task()) == "波次B26-07,目标库位A-03-12,数量3件"
    assert pick_prompt(task(notes=["易碎品轻拿"])) == "波次B26-07,目标库位A-03-12,数量3件,易碎品轻拿"
    assert pick_prompt(task(kind=TaskKind.PUTAWAY)).startswith("待上架,波次B26-07,请将博世刹车片3件放回库位A-03-12")


def test_qc_and_putaway_states_are_unmistakable():
    qc, put = TASK_LOOK[TaskState.QC_PENDING], TASK_LOOK[TaskState.PUTAWAY_PENDING]
    assert (qc.label, qc.colour) == ("待质检", "red") and "⚠️" in qc.icon and "⚙️" in qc.icon and "齿轮" in qc.symbol
    assert (put.label, put.colour) == ("待上架", "blue") and put.icon == "📦" and "货架" in put.symbol
    assert qc.spoken != put.spoken and "质检" in qc.spoken and "上架" in put.spoken


# ---------------------------------------------------------------- scanning


def test_happy_scan_sequence():
    s = ScanSession.start(task())
    o = s.scan("LOC:A-03-12")
    assert o.result == ScanResult.ACCEPTED and s.step == ScanStep.ITEM and "请扫描商品博世刹车片" in o.prompt
    o = s.scan("6901234567890")
    assert o.result == ScanResult.ACCEPTED and s.step == ScanStep.QUANTITY and "请确认数量3件" in o.prompt
    o = s.scan("QTY:3")
    assert o.result == ScanResult.CONFIRMED and o.picked_qty == 3 and s.step == ScanStep.DONE and s.mis_scans == 0


def test_quantity_by_scanning_each_unit():
    s = ScanSession.start(task())
    s.scan("A-03-12"), s.scan("6901234567890")  # the first unit
    assert s.scan("6901234567890").result == ScanResult.ACCEPTED
    o = s.scan("BOSCH-BP-COROLLA18")  # the SKU label counts as well
    assert o.result == ScanResult.CONFIRMED and o.picked_qty == 3


def test_wrong_item_is_rejected_with_a_spoken_reason():
    s = ScanSession.start(task())
    s.scan("A-03-12")
    o = s.scan("6909999999999")
    assert o.result == ScanResult.REJECTED and o.mis_scan == MisScan.WRONG_ITEM and s.step == ScanStep.ITEM
    assert "商品错误" in o.prompt and "6909999999999" in o.prompt and "BOSCH-BP-COROLLA18" in o.prompt
    o = s.scan("A-03-12")  # a bin label where the item belongs
    assert o.mis_scan == MisScan.WRONG_ITEM and "库位标签" in o.prompt
    assert s.mis_scans == 2


@pytest.mark.parametrize("bad", ["", "\x00\x1b", "NOREAD", "A-03-11", "LOC:B-01-01", "garbage\ufffd"])
def test_three_bad_bin_labels_ask_for_a_reprint_and_wait(bad):
    s = ScanSession.start(task())
    for _ in range(2):
        o = s.scan(bad)
        assert o.result == ScanResult.REJECTED and o.mis_scan in (MisScan.UNREADABLE, MisScan.WRONG_BIN)
    o = s.scan(bad)
    assert o.result == ScanResult.REPRINT and s.step == ScanStep.WAIT and "等待" in o.prompt
    assert s.scan("6901234567890").result == ScanResult.REJECTED and s.step == ScanStep.WAIT
    o = s.scan("A-03-12")  # the reprinted label
    assert o.result == ScanResult.ACCEPTED and s.step == ScanStep.ITEM and s.bad_bin_streak == 0


def test_a_good_label_resets_the_streak():
    s = ScanSession.start(task())
    s.scan("A-03-11"), s.scan("A-03-11")
    s.scan("A-03-12")
    assert s.bad_bin_streak == 0 and s.step == ScanStep.ITEM


def test_wrong_bin_prompt_names_both_bins():
    o = ScanSession.start(task()).scan("A-03-11")
    assert o.mis_scan == MisScan.WRONG_BIN and "A-03-11" in o.prompt and "A-03-12" in o.prompt


def test_short_and_excess_quantities():
    s = ScanSession.start(task())
    s.scan("A-03-12"), s.scan("6901234567890")
    o = s.scan("QTY:5")
    assert o.result == ScanResult.REJECTED and o.mis_scan == MisScan.WRONG_QUANTITY and s.step == ScanStep.QUANTITY
    o = s.scan("2")
    assert o.result == ScanResult.SHORT and o.picked_qty == 2 and "缺货" in o.prompt


def test_qc_task_confirmation_speaks_the_qc_state():
    s = ScanSession.start(task(qc_required=True, quantity=1))
    s.scan("A-03-12")
    o = s.scan("6901234567890")
    assert o.result == ScanResult.CONFIRMED and "待质检" in o.prompt and "红色齿轮" in o.prompt


def test_putaway_scans_item_then_bin():
    s = ScanSession.start(task(kind=TaskKind.PUTAWAY, state=TaskState.PUTAWAY_PENDING, quantity=1))
    assert s.step == ScanStep.ITEM
    assert s.scan("A-03-12").mis_scan == MisScan.WRONG_ITEM
    s.scan("6901234567890")
    assert s.step == ScanStep.BIN
    s.scan("A-03-12")
    o = s.scan("1")
    assert o.result == ScanResult.CONFIRMED and "上架完成" in o.prompt


def test_session_survives_serialisation():
    s = ScanSession.start(task())
    s.scan("A-03-12")
    restored = ScanSession.model_validate_json(s.model_dump_json())
    assert restored.step == ScanStep.ITEM and restored.scan("6901234567890").result == ScanResult.ACCEPTED


@pytest.mark.parametrize("text, qty", [("QTY:3", 3), ("qty3", 3), ("3", 3), ("数量:12", 12), ("3件", 3), ("x", None), ("", None)])
def test_parse_quantity(text, qty):
    assert parse_quantity(text) == qty


def test_qty_zero_at_the_item_step_is_a_short_pick_of_nothing():
    s = ScanSession.start(task())
    s.scan("A-03-12")
    o = s.scan("QTY:0")
    assert o.result == ScanResult.SHORT and o.picked_qty == 0


def test_wave_order_for_a_routed_order_state():
    from types import SimpleNamespace

    from domain.warehouse import wave_order_for

    line = SimpleNamespace(sku="BOSCH-BP-COROLLA18", name="博世刹车片", category="刹车片", quantity=2)
    st = SimpleNamespace(order_id="order-x-1", warehouse="HZ-DIRECT", carrier="SF",
                         order=SimpleNamespace(ordered_at=cn(2026, 11, 26, 9), lines=[line]))
    wo = wave_order_for(st)
    assert (wo.order_id, wo.warehouse, wo.carrier) == ("order-x-1", "HZ-DIRECT", "SF")
    assert [(x.sku, x.quantity, x.category) for x in wo.lines] == [("BOSCH-BP-COROLLA18", 2, "刹车片")]


def test_item_images_come_from_the_fake_erp_image_library():
    """Pick instructions carry the ERP library's image URL; the image itself is served."""
    import httpx

    from activities.warehouse import ImageLibrary
    from fakes import erp as fake_erp
    from fakes.serve import serve_in_thread

    server = serve_in_thread(fake_erp.create_app())
    try:
        urls = ImageLibrary(server.url).urls(["BOSCH-BP-COROLLA18", "博世刹车片-BP001"])
        assert urls["BOSCH-BP-COROLLA18"] == f"{server.url}/images/BOSCH-BP-COROLLA18.svg"
        r = httpx.get(urls["博世刹车片-BP001"], timeout=10)
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml") and "博世刹车片" in r.text
        assert ImageLibrary("http://127.0.0.1:9").urls(["X"]) == {"X": None}  # library down: no image, no failure
    finally:
        server.stop()


# ---------------------------------------------------------------- 加急 (urgent) in the batcher and the plan


def test_an_urgent_order_closes_its_wave_at_once_and_take_closes_on_demand():
    from domain.warehouse import CN_TZ, WaveBatcher, WaveLine, WaveOrder, WavePolicy

    now = datetime(2026, 12, 12, 9, 0, tzinfo=CN_TZ)

    def order(oid: str, urgent: bool = False) -> WaveOrder:
        return WaveOrder(order_id=oid, warehouse="HZ", carrier="SF", ordered_at=now, urgent=urgent,
                         lines=[WaveLine(sku="S1", name="S1", quantity=1)])

    b = WaveBatcher(warehouse="HZ", policy=WavePolicy(size=30, cutoffs=[]))
    assert b.add(order("o1"), now)[1] is None
    joined, closed = b.add(order("o2", urgent=True), now)
    assert closed is joined and [o.order_id for o in closed.orders] == ["o1", "o2"] and not b.open
    b.add(order("o3"), now)
    assert b.take("nobody") is None and b.contains("o3")
    taken = b.take("o3")
    assert taken is not None and [o.order_id for o in taken.orders] == ["o3"] and not b.open


def test_an_urgent_orders_pick_lines_say_so_first():
    from domain.warehouse import CN_TZ, URGENT_NOTE, OpenWave, StockRow, WaveLine, WaveOrder, plan_tasks

    now = datetime(2026, 12, 12, 9, 0, tzinfo=CN_TZ)
    orders = [WaveOrder(order_id=oid, warehouse="HZ", carrier="SF", ordered_at=now, urgent=oid == "rush",
                        lines=[WaveLine(sku=sku, name=sku, quantity=1, note="易碎品轻拿" if sku == "S1" else "")])
              for oid, sku in (("calm", "S2"), ("rush", "S1"))]
    wave = OpenWave(wave_id="W1", wave_no="B1212-01", warehouse="HZ", carrier="SF", opened_at=now, cutoff_at=None,
                    orders=orders)
    stock = [StockRow(bin="A-01-01", sku="S1", quantity=5), StockRow(bin="A-01-02", sku="S2", quantity=5)]
    notes = {t.sku: t.notes for t in plan_tasks(wave, stock)}
    assert notes == {"S1": [URGENT_NOTE, "易碎品轻拿"], "S2": []}
