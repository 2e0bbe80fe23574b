"""Printing for the floor: the page models (domain/printouts.py) and their PDFs (activities/printing.py).

Each PDF is rendered from realistic Chinese data and read back the way a person and a scanner
would: its text (pypdf), its pages as images (pdfium) and the barcodes on them (zxing-cpp). PNGs of
the first pages are written under var/printing/ for a person to look at."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pypdf
import pypdfium2
import pytest
import zxingcpp
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError

from activities.printing import bin_labels_pdf, packing_slip_pdf, pdf_font, pick_list_pdf
from domain.order import Channel, CleanLine, CleanOrder, ResolvedAddress
from domain.printouts import BinLabel, bin_labels, masked_phone, packing_slip, packing_slips_from_view, pick_list
from domain.warehouse import OpenWave, StockRow, WaveLine, WaveOrder, plan_tasks, walking_order

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "var" / "printing"
NOW = datetime(2026, 11, 26, 7, 2, tzinfo=UTC)  # 15:02 in Hangzhou
CUTOFF = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)

# ---------------------------------------------------------------- data


def wave_dict(n_stops: int = 12) -> dict:
    """A wave as the read model returns it (activities.warehouse.get_wave), stops out of order."""
    bins = ["A-01-03", "A-01-07", "A-02-11", "A-02-04", "B-01-02", "B-03-09", "A-03-12", "C-02-01", "C-02-05",
            "B-02-08", "A-04-01", "B-01-10", "C-01-01", "C-03-03"][:n_stops]
    names = ["博世刹车片(前) 卡罗拉/轩逸 陶瓷配方", "曼牌机油滤清器", "NGK铱金火花塞", "瓦尔塔蓄电池 60Ah"]
    tasks = []
    for i, b in enumerate(walking_order(bins)):
        tasks.append({
            "task_id": f"HZ-DIRECT-20261126-07-{i + 1:03d}", "kind": "pick", "seq": i + 1, "bin": b,
            "sku": f"SKU-{i + 1:02d}", "name": names[i % len(names)], "quantity": i + 1,
            "notes": ["易碎, 轻拿轻放"] if i % 3 == 0 else [], "qc_required": False, "state": "pending",
            "allocations": [{"order_id": f"order-tmall-T10{i:02d}", "quantity": 1},
                            {"order_id": "order-douyin-D2001", "quantity": i}],
        })
    tasks.reverse()  # the read model orders by (kind, seq); the page model must not rely on it
    tasks.append({"task_id": "X-PUT", "kind": "putaway", "seq": 1, "bin": "Z-09-09", "sku": "PUT-1", "name": "退回上架",
                  "quantity": 1, "notes": [], "state": "putaway_pending", "allocations": []})
    return {"wave_id": "HZ-DIRECT-20261126-07", "wave_no": "B26-07", "warehouse": "HZ-DIRECT", "carrier": "SF",
            "state": "picking", "cutoff_at": CUTOFF, "order_ids": [f"order-tmall-T10{i:02d}" for i in range(n_stops)]
            + ["order-douyin-D2001"], "tasks": tasks}


XIHU = ResolvedAddress(province="浙江省", city="杭州市", district="西湖区", adcode="330106",
                       detail="三墩镇西园八路8号 中枢大厦3楼", text="浙江省杭州市西湖区三墩镇西园八路8号 中枢大厦3楼")


def clean_order(n_lines: int = 2) -> CleanOrder:
    names = [("BOSCH-BP-COROLLA18", "博世刹车片(前)", "TOYOTA_COROLLA_2018"), ("MANN-OF-01", "曼牌机油滤清器", None),
             ("NGK-SP-03", "NGK铱金火花塞", "HONDA_CIVIC_2020")]
    lines = [CleanLine(line_no=i + 1, sku=f"{names[i % 3][0]}" + (f"-{i}" if i >= 3 else ""), name=names[i % 3][1],
                       category="刹车片", quantity=i + 1, unit_price=Decimal("268.00"), vehicle_model=names[i % 3][2])
             for i in range(n_lines)]
    goods = sum((ln.amount for ln in lines), Decimal(0))
    return CleanOrder(order_id="order-tmall-T1001", channel=Channel.TMALL, channel_order_id="T1001", ordered_at=NOW,
                      customer_id="C-HZ-001", customer_name="张三", phone="+8613812345678", address_raw="杭州西湖区西园八路8号",
                      address=XIHU, lines=lines, coupon=None, freight=Decimal("0"), paid_amount=goods,
                      note="易碎, 轻拿轻放; 请勿倒置")


# ---------------------------------------------------------------- reading PDFs back


def text_of(pdf: bytes) -> list[str]:
    return [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def barcodes_of(pdf: bytes, page: int = 0, scale: float = 3) -> set[tuple[str, str]]:
    doc = pypdfium2.PdfDocument(pdf)
    img = doc[page].render(scale=scale).to_pil()
    return {(r.format.name, r.text) for r in zxingcpp.read_barcodes(img)}


def screenshot(pdf: bytes, name: str) -> Path:
    """Page 1 as PNG under var/printing/ (not committed) for a person to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    pypdfium2.PdfDocument(pdf)[0].render(scale=2).to_pil().save(path)
    return path


def page_count(pdf: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


# ---------------------------------------------------------------- page models


def test_pick_list_rows_follow_the_walking_path_with_their_orders():
    pl = pick_list(wave_dict(), printed_at=NOW)
    assert [r.seq for r in pl.rows] == list(range(1, 13))
    assert [r.bin for r in pl.rows] == walking_order(r.bin for r in pl.rows)
    assert "Z-09-09" not in [r.bin for r in pl.rows]  # put-away tasks are not picks
    assert pl.rows[0].order_ids == ["order-tmall-T1000", "order-douyin-D2001"]
    assert (pl.warehouse_label, pl.carrier_label, pl.total_quantity) == ("杭州自营仓", "顺丰速运", 78)


def test_pick_list_of_a_planned_wave_is_in_walking_order():
    opened = NOW - timedelta(hours=1)
    orders = [WaveOrder(order_id=f"order-erp-E{i}", warehouse="HZ-DIRECT", carrier="ZTO", ordered_at=opened,
                        lines=[WaveLine(sku=sku, name=name, category="刹车片", quantity=q, note="易碎" if q == 2 else "")])
              for i, (sku, name, q) in enumerate([("BP-1", "刹车片", 2), ("OF-1", "机油滤清器", 1), ("SP-1", "火花塞", 4)])]
    wave = OpenWave(wave_id="HZ-DIRECT-20261126-03", wave_no="B26-03", warehouse="HZ-DIRECT", carrier="ZTO",
                    opened_at=opened, cutoff_at=CUTOFF, orders=orders)
    stock = [StockRow(bin="B-02-01", sku="SP-1", quantity=10), StockRow(bin="A-01-05", sku="BP-1", quantity=10),
             StockRow(bin="A-02-09", sku="OF-1", quantity=10)]
    tasks = plan_tasks(wave, stock)
    pl = pick_list({**wave.model_dump(), "order_ids": [o.order_id for o in orders], "tasks": tasks}, printed_at=NOW)
    assert [r.bin for r in pl.rows] == ["A-01-05", "A-02-09", "B-02-01"]
    assert pl.rows[0].notes == ["易碎"] and pl.rows[0].order_ids == ["order-erp-E0"]


def test_tasks_without_a_sequence_are_ordered_by_their_bins():
    wave = wave_dict(4)
    for t in wave["tasks"]:
        t.pop("seq")
    pl = pick_list(wave, printed_at=NOW)
    assert [r.bin for r in pl.rows] == walking_order(["A-01-03", "A-01-07", "A-02-11", "A-02-04"])


@pytest.mark.parametrize("phone,masked", [("+8613812345678", "138****5678"), ("13812345678", "138****5678"),
                                          ("8613812345678", "138****5678"), ("+86 571 8800 1234", "057*****1234"),
                                          ("", "****"), (None, "****")])
def test_phones_are_masked_for_paper(phone, masked):
    assert masked_phone(phone) == masked


def test_packing_slip_of_an_order_and_of_a_part():
    o = clean_order(3)
    slip = packing_slip(o, printed_at=NOW, warehouse="HZ-DIRECT", carrier="SF", waybill_no="SF123456789012")
    assert (slip.phone_masked, slip.address, slip.channel_label) == ("138****5678", XIHU.text, "天猫")
    assert [i.vehicle_label for i in slip.items] == ["丰田 卡罗拉 2018款", "", "本田 思域 2020款"]
    part = packing_slip(o, printed_at=NOW, line_nos=[2], part_no=2, parts=2)
    assert [i.sku for i in part.items] == ["MANN-OF-01"] and part.part_text == "包裹 2/2"


def test_packing_slips_from_the_order_view_one_per_part():
    o = clean_order(3)
    state = {"order_id": o.order_id, "order": o.model_dump(mode="json"), "warehouse": "HZ-DIRECT", "carrier": "SF",
             "shipment": {"waybill": {"waybill_no": "SF123456789012"}}}
    [slip] = packing_slips_from_view(state, printed_at=NOW)
    assert (slip.waybill_no, slip.customer_name, slip.phone_masked, len(slip.items)) == ("SF123456789012", "张三",
                                                                                         "138****5678", 3)
    view = {"order_id": o.order_id, "channel": "tmall", "channel_order_id": "T1001", "customer_name": "张三",
            "phone": "+8613812345678", "address": XIHU.model_dump(), "lines": [ln.model_dump(mode="json") for ln in o.lines],
            "warehouse": "HZ-DIRECT,GZ-CLOUD", "parts": [
                {"part_no": 1, "status": "shipped", "warehouse": "HZ-DIRECT", "carrier": "SF", "waybill_no": "SF100000000001",
                 "lines": [{"line_no": 1, "sku": "BOSCH-BP-COROLLA18", "quantity": 1}, {"line_no": 2, "sku": "MANN-OF-01",
                                                                                      "quantity": 2}]},
                {"part_no": 2, "status": "picking", "warehouse": "GZ-CLOUD", "carrier": "ZTO", "waybill_no": None,
                 "lines": [{"line_no": 3, "sku": "NGK-SP-03", "quantity": 3}]},
                {"part_no": 3, "status": "cancelled", "warehouse": "SH-CLOUD", "lines": [{"line_no": 1, "sku": "x", "quantity": 1}]},
            ]}
    slips = packing_slips_from_view(view, printed_at=NOW)
    assert [(s.part_text, s.warehouse_label, s.waybill_no) for s in slips] == [
        ("包裹 1/2", "杭州自营仓", "SF100000000001"), ("包裹 2/2", "广州云仓", None)]
    assert [(i.sku, i.quantity) for i in slips[0].items] == [("BOSCH-BP-COROLLA18", 1), ("MANN-OF-01", 2)]
    assert [(i.sku, i.quantity) for i in slips[1].items] == [("NGK-SP-03", 3)]


def test_bin_labels_are_normalised_once_each_in_shelf_order():
    labels = bin_labels(["B-01-02", "a-3-12", "A-03-12", " A 01 07 "], warehouse="HZ-DIRECT")
    assert [lb.code for lb in labels] == ["A-01-07", "A-03-12", "B-01-02"]
    assert labels[1].caption == "A区 03巷 12位" and labels[1].warehouse_label == "杭州自营仓"
    with pytest.raises(ValueError, match="不是 区-巷道-货位 格式"):
        bin_labels(["A-03-12", "货架三"])


# ---------------------------------------------------------------- 波次拣货单 PDF


def test_a_long_order_id_on_the_pick_list_keeps_the_end_that_tells_orders_apart():
    w = wave_dict(2)
    long_ids = ["order-miniprogram-MP20261206029450235", "order-miniprogram-MP20261206029450236"]
    for t in w["tasks"]:
        t["allocations"] = [{"order_id": o, "quantity": 1} for o in long_ids]
    w["order_ids"] = long_ids
    text = text_of(pick_list_pdf(pick_list(w, printed_at=NOW)))[0]
    assert "…0235" in text.replace("\n", "") or "029450235" in text, text
    assert "0236" in text and "order-miniprogram…" not in text


def test_pick_list_pdf_has_the_wave_in_chinese_with_page_numbers():
    pl = pick_list(wave_dict(12), printed_at=NOW)
    pdf = pick_list_pdf(pl)
    screenshot(pdf, "pick_list")
    pages = text_of(pdf)
    assert len(pages) == 2
    first = pages[0]
    for s in ("波次拣货单", "波次 B26-07", "仓库: 杭州自营仓 (HZ-DIRECT)", "承运商: 顺丰速运 (SF)", "截单: 2026-11-26 16:00",
              "打印: 2026-11-26 15:02", "第1页/共2页", "库位", "数量", "特殊说明", "易碎, 轻拿轻放", "曼牌机油滤清器",
              "tmall-T1000", "订单 13 个"):
        assert s in first, s
    assert "miniprogram…" not in first  # a long id keeps its tail (the channel's number), not its start
    assert "第2页/共2页" in pages[1]
    for r in pl.rows:
        page = pages[0] if r.seq <= 10 else pages[1]
        assert r.bin in page and r.sku in page and re.search(rf"(?m)^{r.quantity}$|\b{r.quantity}\b", page)


def test_pick_list_barcodes_scan_as_the_wave_and_bins():
    pl = pick_list(wave_dict(12), printed_at=NOW)
    pdf = pick_list_pdf(pl)
    first = barcodes_of(pdf, 0)
    assert ("Code128", "B26-07") in first
    assert {("Code128", r.bin) for r in pl.rows[:10]} <= first
    assert {("Code128", r.bin) for r in pl.rows[10:]} | {("Code128", "B26-07")} <= barcodes_of(pdf, 1)


def test_several_waves_print_in_one_pdf_each_numbered_on_its_own():
    a = pick_list(wave_dict(12), printed_at=NOW)
    b = a.model_copy(update={"wave_id": "HZ-DIRECT-20261126-08", "wave_no": "B26-08", "rows": a.rows[:3]})
    empty = a.model_copy(update={"wave_id": "HZ-DIRECT-20261126-09", "wave_no": "B26-09", "rows": []})
    pdf = pick_list_pdf([a, b, empty])
    pages = text_of(pdf)
    assert len(pages) == 4
    assert "波次 B26-08" in pages[2] and "第1页/共1页" in pages[2]
    assert "本波次没有拣货任务" in pages[3]
    assert ("Code128", "B26-08") in barcodes_of(pdf, 2)
    with pytest.raises(ValueError):
        pick_list_pdf([])


def test_the_same_pick_list_prints_the_same_bytes():
    pl = pick_list(wave_dict(5), printed_at=NOW)
    assert pick_list_pdf(pl) == pick_list_pdf(pl)


# ---------------------------------------------------------------- 发货单 PDF


def test_packing_slip_pdf_says_who_what_and_how_with_a_masked_phone():
    slip = packing_slip(clean_order(3), printed_at=NOW, warehouse="HZ-DIRECT", carrier="SF", waybill_no="SF123456789012")
    pdf = packing_slip_pdf(slip)
    screenshot(pdf, "packing_slip")
    [text] = text_of(pdf)
    for s in ("发货单", "订单号 order-tmall-T1001", "天猫 · 订单号 T1001", "张三", "138****5678", "浙江省杭州市西湖区三墩镇",
              "杭州自营仓", "顺丰速运", "SF123456789012", "博世刹车片(前)", "丰田 卡罗拉 2018款", "NGK铱金火花塞", "3 件",
              "合计 3 种 6 件", "备注: 易碎, 轻拿轻放; 请勿倒置", "第1页/共1页"):
        assert s in text, s
    assert "13812345678" not in text and "+86" not in text
    assert barcodes_of(pdf) >= {("Code128", "order-tmall-T1001"), ("QRCode", "order-tmall-T1001"),
                                ("Code128", "SF123456789012")}


def test_packing_slips_batch_parts_without_waybill_and_long_orders():
    o = clean_order(40)
    parts = [packing_slip(o, printed_at=NOW, line_nos=range(1, 39), part_no=1, parts=2, warehouse="HZ-DIRECT",
                          carrier="SF", waybill_no="SF100000000001"),
             packing_slip(o, printed_at=NOW, line_nos=[39, 40], part_no=2, parts=2, warehouse="GZ-CLOUD")]
    pdf = packing_slip_pdf(parts)
    pages = text_of(pdf)
    assert len(pages) == 3  # 38 lines take two pages, the second part one
    assert "包裹 1/2" in pages[0] and "第1页/共2页" in pages[0]
    assert "发货单(续) order-tmall-T1001" in pages[1] and "第2页/共2页" in pages[1] and "合计 38 种" in pages[1]
    assert "包裹 2/2" in pages[2] and "运单未生成" in pages[2] and "广州云仓" in pages[2]
    assert ("Code128", "order-tmall-T1001") in barcodes_of(pdf, 2)
    a5 = packing_slip_pdf(parts[1], page_size="A5")
    assert "包裹 2/2" in text_of(a5)[0] and ("QRCode", "order-tmall-T1001") in barcodes_of(a5, 0, scale=4)
    with pytest.raises(ValueError, match="可选: A4、A5"):
        packing_slip_pdf(parts[1], page_size="Letter")


# ---------------------------------------------------------------- 库位标签 PDF


def test_bin_label_sheet_has_21_labels_a_page_each_scanning_as_its_bin():
    codes = [f"{z}-{a:02d}-{s:02d}" for z in "AB" for a in (1, 2) for s in range(1, 7)]  # 24 bins
    labels = bin_labels(codes, warehouse="HZ-DIRECT")
    pdf = bin_labels_pdf(labels)
    screenshot(pdf, "bin_labels_sheet")
    pages = text_of(pdf)
    assert len(pages) == 2
    assert "A-01-01" in pages[0] and "A区 01巷 01位" in pages[0] and "杭州自营仓" in pages[0]
    assert "B-02-06" in pages[1]
    first = barcodes_of(pdf, 0)
    assert {("Code128", c) for c in codes[:21]} | {("QRCode", c) for c in codes[:21]} <= first
    assert {("Code128", c) for c in codes[21:]} <= barcodes_of(pdf, 1)


def test_a_single_60x40_label_for_the_reprint_task():
    pdf = bin_labels_pdf([BinLabel(code="A-03-12", warehouse="HZ-DIRECT")], layout="single")
    screenshot(pdf, "bin_label_single")
    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    assert (round(float(page.mediabox.width) / 72 * 25.4), round(float(page.mediabox.height) / 72 * 25.4)) == (60, 40)
    assert "A-03-12" in text_of(pdf)[0] and "A区 03巷 12位" in text_of(pdf)[0]
    assert barcodes_of(pdf, 0, scale=6) >= {("Code128", "A-03-12"), ("QRCode", "A-03-12")}
    with pytest.raises(ValueError, match="single"):
        bin_labels_pdf([BinLabel(code="A-03-12")], layout="roll")
    with pytest.raises(ValueError):
        bin_labels_pdf([])


# ---------------------------------------------------------------- fonts


def _fonts(pdf: bytes) -> list[dict]:
    out = []
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        for f in page["/Resources"]["/Font"].values():
            f = f.get_object()
            desc = f.get("/FontDescriptor") or (f["/DescendantFonts"][0].get_object().get("/FontDescriptor")
                                                 if "/DescendantFonts" in f else None)
            desc = desc.get_object() if desc is not None else {}
            out.append({"name": str(f.get("/BaseFont")), "embedded": any(k in desc for k in ("/FontFile", "/FontFile2",
                                                                                           "/FontFile3"))})
    return out


def test_an_embedded_cjk_font_has_every_glyph_the_pages_use():
    font = pdf_font()
    if not font.embedded:
        pytest.skip("no TrueType CJK font on this machine (Debian: apt-get install fonts-wqy-microhei); "
                    "the PDFs use the CID font STSong-Light")
    slip = packing_slip(clean_order(3), printed_at=NOW, warehouse="HZ-DIRECT", carrier="SF", waybill_no="SF123456789012")
    pdfs = [pick_list_pdf(pick_list(wave_dict(12), printed_at=NOW)), packing_slip_pdf(slip),
            bin_labels_pdf(bin_labels(["A-03-12"], warehouse="HZ-DIRECT"))]
    face = pdfmetrics.getFont(font.name).face
    for pdf in pdfs:
        assert all(f["embedded"] for f in _fonts(pdf)), _fonts(pdf)
        used = {ch for page in text_of(pdf) for ch in page if not ch.isspace()}
        missing = sorted(ch for ch in used if ord(ch) not in face.charToGlyph)
        assert not missing, f"glyphs missing from {font.path}: {missing}"


def test_without_a_font_file_the_cid_font_still_carries_the_text_and_barcodes():
    cid = pdf_font("cid")
    assert not cid.embedded and cid.name == "STSong-Light"
    pdf = pick_list_pdf(pick_list(wave_dict(3), printed_at=NOW), font=cid)
    assert any("STSong-Light" in f["name"] for f in _fonts(pdf))
    assert "波次拣货单" in text_of(pdf)[0] and "杭州自营仓" in text_of(pdf)[0]
    assert ("Code128", "B26-07") in barcodes_of(pdf)


def test_a_font_setting_that_names_no_font_is_an_error():
    with pytest.raises(TTFError):
        pdf_font("/nonexistent/font.ttf")


def test_the_read_models_wave_prints_in_walking_order(db_url):
    """The wave as ``GET /v1/waves/{id}`` reads it from the read model (SQLite and PostgreSQL)."""
    from activities import warehouse as wh
    from store.db import engine_for, migrate

    migrate(db_url)
    eng = engine_for(db_url)
    opened = NOW - timedelta(hours=1)
    orders = [WaveOrder(order_id=f"order-tmall-T20{i}", warehouse="HZ-DIRECT", carrier="SF", ordered_at=opened,
                        lines=[WaveLine(sku=sku, name=name, category="刹车片", quantity=2)])
              for i, (sku, name) in enumerate([("BP-1", "博世刹车片(前)"), ("OF-1", "曼牌机油滤清器"), ("SP-1", "NGK火花塞")])]
    wave = OpenWave(wave_id="HZ-DIRECT-20261126-07", wave_no="B26-07", warehouse="HZ-DIRECT", carrier="SF",
                    opened_at=opened, cutoff_at=CUTOFF, orders=orders)
    stock = [StockRow(bin="B-01-04", sku="SP-1", quantity=9), StockRow(bin="A-02-02", sku="OF-1", quantity=9),
             StockRow(bin="A-02-08", sku="BP-1", quantity=9, notes="易碎, 轻拿轻放")]
    wh.project_wave(eng, wh.WaveSnapshot(wave_id=wave.wave_id, warehouse="HZ-DIRECT", wave_no="B26-07", carrier="SF",
                                         state="picking", opened_at=opened, cutoff_at=CUTOFF,
                                         order_ids=[o.order_id for o in orders], tasks=plan_tasks(wave, stock), at=NOW))
    pl = pick_list(wh.get_wave(eng, wave.wave_id), printed_at=NOW)
    assert [(r.bin, r.sku, r.order_ids) for r in pl.rows] == [
        ("A-02-02", "OF-1", ["order-tmall-T201"]), ("A-02-08", "BP-1", ["order-tmall-T200"]),
        ("B-01-04", "SP-1", ["order-tmall-T202"])]  # the first aisle visited is walked up, then zone B
    pdf = pick_list_pdf(pl)
    assert "易碎, 轻拿轻放" in text_of(pdf)[0] and "截单: 2026-11-26 16:00" in text_of(pdf)[0]
    assert {("Code128", b) for b in ("B26-07", "A-02-08", "A-02-02", "B-01-04")} <= barcodes_of(pdf)
    eng.dispose()
