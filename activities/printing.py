"""PDFs for the floor: pick lists, packing slips and bin labels, with Code128 and QR barcodes.

Pure rendering of the page models in ``domain/printouts.py`` to PDF bytes (reportlab, its own
barcode widgets): no database, no network, the same bytes for the same input (``invariant``), so
API routes and the console serve them as they are and tests read them back.

Chinese needs a CJK font. A TrueType CJK font found on the machine is embedded (subset), so the PDF
looks the same in every viewer and printer: ``ZHONGSHU_PDF_FONT`` names one (``path`` or
``path#index`` for a collection), else the Debian packages' fonts are looked for
(``fonts-wqy-microhei``, ``fonts-wqy-zenhei``, ``fonts-droid-fallback``, ``fonts-arphic-uming``).
Without one the PDF uses Adobe's standard CID font STSong-Light, which is not embedded: Acrobat and
the browsers on a Chinese desktop show it with their own 宋体, a viewer without any CJK font shows
boxes. (Noto CJK ships as CFF/OpenType, which reportlab cannot embed.)
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.graphics.barcode import code128, qr
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, A5
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from domain.printouts import BinLabel, PackingSlip, PickList, beijing

FONT_ENV = "ZHONGSHU_PDF_FONT"
FONT_CANDIDATES = (  # (path, index in a collection): Debian's TrueType CJK fonts
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
)
CID_FONT = "STSong-Light"
RED = colors.HexColor("#C62828")
GREY = colors.HexColor("#555555")
LIGHT = colors.HexColor("#BBBBBB")


@dataclass(frozen=True)
class PdfFont:
    name: str  # the name registered with reportlab
    path: str | None  # the embedded file; None: the CID font, not embedded

    @property
    def embedded(self) -> bool:
        return self.path is not None


def _parse_font_setting(value: str) -> tuple[str, int]:
    path, _, index = value.partition("#")
    return path, int(index) if index.isdigit() else 0


@cache
def pdf_font(setting: str | None = None) -> PdfFont:
    """The CJK font the PDFs use (registered once): ``setting`` or ``$ZHONGSHU_PDF_FONT``, else the
    first Debian font present, else the CID font. A setting that names no usable font is an error
    (a typo must not silently print boxes); ``setting="cid"`` asks for the CID font."""
    setting = setting if setting is not None else os.environ.get(FONT_ENV, "")
    if setting.strip().lower() == "cid":
        return _cid()
    if setting.strip():
        path, index = _parse_font_setting(setting.strip())
        return _ttf(path, index)  # raises: the operator asked for this font
    for path, index in FONT_CANDIDATES:
        if Path(path).is_file():
            try:
                return _ttf(path, index)
            except Exception:  # noqa: BLE001 - a broken or CFF font file: try the next one
                continue
    return _cid()


def _ttf(path: str, index: int) -> PdfFont:
    name = f"ZhongshuCJK-{Path(path).stem}-{index}"
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, path, subfontIndex=index))
    return PdfFont(name=name, path=path)


def _cid() -> PdfFont:
    if CID_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    return PdfFont(name=CID_FONT, path=None)


# ---------------------------------------------------------------- drawing helpers


class _Page:
    """A canvas with the font chosen once and a few text and barcode helpers (mm everywhere)."""

    def __init__(self, title: str, pagesize: tuple[float, float], font: PdfFont | None = None):
        self.buf = io.BytesIO()
        self.font = font or pdf_font()
        self.width, self.height = pagesize
        # the font is set from the start: no Helvetica in the PDF (the reportlab stub types initialFontName as float)
        self.c = Canvas(self.buf, pagesize=pagesize, invariant=1, pageCompression=1,
                        initialFontName=self.font.name, initialFontSize=10)  # type: ignore[arg-type]
        self.c.setTitle(title)
        self.c.setAuthor("中枢 Zhongshu")
        self.c.setSubject(title)
        self.c.setCreator("Zhongshu 订单中枢")

    def text_width(self, s: str, size: float) -> float:
        return pdfmetrics.stringWidth(s, self.font.name, size)

    def fit(self, s: str, size: float, width: float) -> str:
        """``s`` cut with … so it fits ``width`` points."""
        if self.text_width(s, size) <= width:
            return s
        while s and self.text_width(s + "…", size) > width:
            s = s[:-1]
        return s + "…"

    def fit_tail(self, s: str, size: float, width: float) -> str:
        """``s`` with its start cut to … so it fits: an order id differs in its tail (its channel's number)."""
        if self.text_width(s, size) <= width:
            return s
        while s and self.text_width("…" + s, size) > width:
            s = s[1:]
        return "…" + s

    def wrap(self, s: str, size: float, width: float, max_lines: int) -> list[str]:
        """Lines of ``s`` at most ``width`` wide (CJK breaks anywhere; ASCII words are kept whole
        where they fit); the last kept line ends in … when text is left over."""
        lines: list[str] = []
        for para in (s or "").splitlines() or [""]:
            line = ""
            for ch in para:
                if self.text_width(line + ch, size) <= width:
                    line += ch
                    continue
                cut = line.rfind(" ")
                if ch != " " and cut > 0 and line[cut + 1:].isascii() and line[cut + 1:].strip():
                    lines.append(line[:cut])
                    line = line[cut + 1:] + ch
                else:
                    lines.append(line)
                    line = ch.lstrip()
            lines.append(line)
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            lines[-1] = self.fit(lines[-1] + "……", size, width)
        return [ln for ln in lines if ln] or ([""] if not lines else lines[:1])

    def text(self, x: float, y: float, s: str, size: float, *, bold: bool = False, align: str = "left",
             colour=colors.black) -> None:
        c = self.c
        c.saveState()
        c.setFillColor(colour)
        c.setStrokeColor(colour)
        t = c.beginText()
        t.setFont(self.font.name, size)
        if bold:  # the CJK fonts have one weight: stroke the glyphs as well
            t.setTextRenderMode(2)
            c.setLineWidth(size * 0.035)
        w = self.text_width(s, size)
        t.setTextOrigin(x - (w if align == "right" else w / 2 if align == "center" else 0), y)
        t.textOut(s)
        c.drawText(t)
        c.restoreState()

    def code128(self, value: str, x: float, y: float, *, max_width: float, height: float,
                max_bar: float = 0.5 * mm) -> float:
        """A Code128 of ``value`` with its quiet zones, bars as wide as fit ``max_width`` (at most
        ``max_bar``, at least 0.19 mm, the thinnest a handheld scanner reads); returns its width."""
        probe = code128.Code128(value, barWidth=1, barHeight=height, humanReadable=0, quiet=1)
        bar = max(0.19 * mm, min(max_bar, max_width / probe.width))
        bc = code128.Code128(value, barWidth=bar, barHeight=height, humanReadable=0, quiet=1)
        bc.drawOn(self.c, x, y)
        return bc.width

    def qr(self, value: str, x: float, y: float, size: float) -> None:
        """A QR code (level M, its 4-module quiet zone inside ``size``), drawn as plain rectangles."""
        self.c.saveState()
        self.c.setFillColor(colors.black)
        qr.QrCode(value, width=size, height=size, qrLevel="M").drawOn(self.c, x, y)
        self.c.restoreState()

    def line(self, x0: float, y0: float, x1: float, y1: float, *, width: float = 0.5, colour=colors.black) -> None:
        self.c.saveState()
        self.c.setStrokeColor(colour)
        self.c.setLineWidth(width)
        self.c.line(x0, y0, x1, y1)
        self.c.restoreState()

    def box(self, x: float, y: float, w: float, h: float, *, width: float = 0.8, colour=colors.black) -> None:
        self.c.saveState()
        self.c.setStrokeColor(colour)
        self.c.setLineWidth(width)
        self.c.rect(x, y, w, h)
        self.c.restoreState()

    def new_page(self) -> None:
        self.c.showPage()

    def bytes(self) -> bytes:
        self.c.save()
        return self.buf.getvalue()


def _many(x, kind) -> list:
    return [x] if isinstance(x, kind) else list(x)


# ---------------------------------------------------------------- 波次拣货单

_PL_MARGIN = 12 * mm
_PL_ROW = 21 * mm
_PL_ROWS_PER_PAGE = 10
_PL_COLS = (("序", 10), ("库位", 50), ("商品", 48), ("数量", 14), ("特殊说明", 30), ("订单", 26), ("✓", 8))


def _pick_page(p: _Page, pl: PickList, rows, page: int, pages: int) -> None:
    m, top = _PL_MARGIN, p.height - _PL_MARGIN
    # header: title, wave number big, its barcode on the right
    p.text(m, top - 8 * mm, "波次拣货单", 18, bold=True)
    p.text(m, top - 19 * mm, f"波次 {pl.wave_no}", 24, bold=True)
    bw = p.code128(pl.wave_no, p.width - m - 62 * mm, top - 18 * mm, max_width=62 * mm, height=15 * mm)
    p.text(p.width - m - 62 * mm + bw / 2, top - 22 * mm, pl.wave_no, 9, align="center")
    meta = (f"仓库: {pl.warehouse_label} ({pl.warehouse})    承运商: {pl.carrier_label} ({pl.carrier})    "
            f"截单: {beijing(pl.cutoff_at)}    打印: {beijing(pl.printed_at)}")
    p.text(m, top - 28 * mm, p.fit(meta, 9, p.width - 2 * m), 9)
    summary = (f"波次号 {pl.wave_id} · 订单 {len(pl.order_ids)} 个 · 库位 {len(pl.rows)} 个 · 共 {pl.total_quantity} 件 · "
               "按序号顺序走: 按区、巷道蛇形行走")
    p.text(m, top - 33 * mm, p.fit(summary, 9, p.width - 2 * m), 9, colour=GREY)
    # table header
    y = top - 37 * mm
    head_h = 7 * mm
    x = m
    p.c.saveState()
    p.c.setFillColor(colors.HexColor("#EEEEEE"))
    p.c.rect(m, y - head_h, p.width - 2 * m, head_h, stroke=0, fill=1)
    p.c.restoreState()
    for title, w in _PL_COLS:
        p.text(x + 1.5 * mm, y - head_h + 2.2 * mm, title, 9, bold=True)
        x += w * mm
    p.box(m, y - head_h, p.width - 2 * m, head_h)
    y -= head_h
    if not rows:
        p.text(m + 3 * mm, y - 10 * mm, "本波次没有拣货任务", 12)
    for r in rows:
        _pick_row(p, r, m, y)
        y -= _PL_ROW
    # footer
    p.line(m, _PL_MARGIN + 5 * mm, p.width - m, _PL_MARGIN + 5 * mm, width=0.3, colour=LIGHT)
    p.text(m, _PL_MARGIN, f"波次 {pl.wave_no} · {pl.warehouse_label}", 8, colour=GREY)
    p.text(p.width / 2, _PL_MARGIN, f"第{page}页/共{pages}页", 10, align="center")
    p.text(p.width - m, _PL_MARGIN, "拣货人: ________  复核: ________", 8, align="right", colour=GREY)


def _pick_row(p: _Page, r, m: float, y: float) -> None:
    h = _PL_ROW
    bottom = y - h
    xs = [m]
    for _, w in _PL_COLS:
        xs.append(xs[-1] + w * mm)
    p.box(m, bottom, xs[-1] - m, h, width=0.5)
    for x in xs[1:-1]:
        p.line(x, bottom, x, y, width=0.3)
    pad = 1.5 * mm
    # 序
    p.text(xs[0] + (xs[1] - xs[0]) / 2, y - 12 * mm, str(r.seq), 12, bold=True, align="center")
    # 库位: code big + its barcode
    p.text(xs[1] + pad, y - 7.5 * mm, r.bin, 16, bold=True)
    p.code128(r.bin, xs[1] + pad, bottom + 1.8 * mm, max_width=xs[2] - xs[1] - 2 * pad, height=9 * mm, max_bar=0.4 * mm)
    # 商品: SKU, name (2 lines)
    gw = xs[3] - xs[2] - 2 * pad
    p.text(xs[2] + pad, y - 5.5 * mm, p.fit(r.sku, 9, gw), 9, bold=True)
    for i, ln in enumerate(p.wrap(r.name, 9, gw, 2)):
        p.text(xs[2] + pad, y - 10.5 * mm - i * 4.3 * mm, ln, 9)
    # 数量
    p.text(xs[3] + (xs[4] - xs[3]) / 2, y - 12.5 * mm, str(r.quantity), 18, bold=True, align="center")
    p.text(xs[3] + (xs[4] - xs[3]) / 2, y - 17 * mm, "件", 8, align="center", colour=GREY)
    # 特殊说明: state when not plain pending, then the notes in red
    nw = xs[5] - xs[4] - 2 * pad
    notes = ([f"【{r.state_label}】"] if r.state not in ("pending", "picking") else []) + list(r.notes)
    lines: list[str] = []
    for n in notes:
        lines += p.wrap(n, 8, nw, 4)
    for i, ln in enumerate(lines[:4]):
        p.text(xs[4] + pad, y - 5 * mm - i * 3.9 * mm, ln, 8, colour=RED, bold=i == 0 and ln.startswith("【"))
    # 订单
    ow = xs[6] - xs[5] - 2 * pad
    shown = r.order_ids[:3] if len(r.order_ids) <= 3 else r.order_ids[:2]
    for i, oid in enumerate(shown):
        # without "order-": the channel and its order number, the end kept when it is long
        p.text(xs[5] + pad, y - 5 * mm - i * 3.6 * mm, p.fit_tail(oid.removeprefix("order-"), 6.5, ow), 6.5)
    if len(r.order_ids) > 3:
        p.text(xs[5] + pad, y - 5 * mm - 2 * 3.6 * mm, f"等 {len(r.order_ids)} 单", 6.5, colour=GREY)
    # ✓ tick box
    p.box(xs[6] + 1.5 * mm, y - 13 * mm, 5 * mm, 5 * mm, width=0.6)


def pick_list_pdf(lists: PickList | Sequence[PickList], *, font: PdfFont | None = None) -> bytes:
    """波次拣货单: one or several waves in one PDF, each starting on a new page, its stops in
    walking order with the wave's and each bin's Code128, numbered 第1页/共2页 per wave."""
    lists = _many(lists, PickList)
    if not lists:
        raise ValueError("没有要打印的波次 no wave to print")
    title = "波次拣货单 " + "、".join(pl.wave_no for pl in lists)
    p = _Page(title, A4, font)
    for n, pl in enumerate(lists):
        chunks = [pl.rows[i:i + _PL_ROWS_PER_PAGE] for i in range(0, len(pl.rows), _PL_ROWS_PER_PAGE)] or [[]]
        for i, rows in enumerate(chunks, start=1):
            if n or i > 1:
                p.new_page()
            _pick_page(p, pl, rows, i, len(chunks))
    return p.bytes()


# ---------------------------------------------------------------- 发货单

_PS_COLS = (("序", 10), ("SKU", 40), ("商品名称", 62), ("适配车型", 40), ("数量", 18))


def _slip_pages(slip: PackingSlip, first_rows: int, rows_per_page: int) -> list[list]:
    items = list(slip.items)
    pages = [items[:first_rows]]
    items = items[first_rows:]
    while items:
        pages.append(items[:rows_per_page])
        items = items[rows_per_page:]
    return pages


def _slip(p: _Page, slip: PackingSlip) -> None:
    m = 12 * mm
    scale = p.width / A4[0]  # A5 is the same layout, smaller
    row_h = 8 * mm * scale
    top = p.height - m
    head_bottom = top - 80 * mm * scale
    table_top = head_bottom - 4 * mm * scale
    first_rows = max(1, int((table_top - (m + 22 * mm * scale)) // row_h) - 1)
    later_rows = max(1, int((top - 20 * mm * scale - (m + 22 * mm * scale)) // row_h) - 1)
    pages = _slip_pages(slip, first_rows, later_rows)
    total = sum(w for _, w in _PS_COLS)
    cols = [(t, w / total * (p.width - 2 * m)) for t, w in _PS_COLS]  # the columns fill the width
    s = scale
    for page_no, items in enumerate(pages, start=1):
        if page_no > 1:
            p.new_page()
        if page_no == 1:
            p.text(m, top - 10 * mm * s, "发货单", 22 * s, bold=True)
            if slip.part_text:
                p.text(m + 30 * mm * s, top - 10 * mm * s, slip.part_text, 14 * s, bold=True, colour=RED)
            qr_size = 30 * mm * s
            p.qr(slip.order_id, p.width - m - qr_size, top - qr_size - 2 * mm * s, qr_size)
            p.code128(slip.order_id, m, top - 30 * mm * s, max_width=100 * mm * s, height=14 * mm * s, max_bar=0.4 * mm)
            p.text(m, top - 35 * mm * s, f"订单号 {slip.order_id}", 10 * s)
            info_top = top - 44 * mm * s
            left = [
                ("渠道", f"{slip.channel_label} · 订单号 {slip.channel_order_id}" if slip.channel_order_id
                 else slip.channel_label),
                ("下单时间", beijing(slip.ordered_at)),
                ("收货人", slip.customer_name),
                ("电话", slip.phone_masked),
            ]
            for i, (k, v) in enumerate(left):
                p.text(m, info_top - i * 6 * mm * s, f"{k}:", 10 * s, colour=GREY)
                p.text(m + 18 * mm * s, info_top - i * 6 * mm * s, p.fit(v, 11 * s, 70 * mm * s), 11 * s,
                       bold=k == "收货人")
            rx = m + 95 * mm * s
            right = [("发货仓", slip.warehouse_label), ("承运商", slip.carrier_label)]
            for i, (k, v) in enumerate(right):
                p.text(rx, info_top - i * 6 * mm * s, f"{k}:", 10 * s, colour=GREY)
                p.text(rx + 16 * mm * s, info_top - i * 6 * mm * s, p.fit(v, 11 * s, p.width - m - rx - 16 * mm * s),
                       11 * s)
            p.text(rx, info_top - 12 * mm * s, "运单号:", 10 * s, colour=GREY)
            if slip.waybill_no:
                p.text(rx + 16 * mm * s, info_top - 12 * mm * s, slip.waybill_no, 11 * s, bold=True)
                p.code128(slip.waybill_no, rx, info_top - 27 * mm * s, max_width=p.width - m - rx, height=12 * mm * s,
                          max_bar=0.4 * mm)
            else:
                p.text(rx + 16 * mm * s, info_top - 12 * mm * s, "运单未生成", 11 * s, colour=RED)
            addr_y = info_top - 4 * 6 * mm * s
            p.text(m, addr_y, "地址:", 10 * s, colour=GREY)
            for i, ln in enumerate(p.wrap(slip.address, 11 * s, 75 * mm * s, 3)):
                p.text(m + 18 * mm * s, addr_y - i * 5 * mm * s, ln, 11 * s)
            p.line(m, head_bottom, p.width - m, head_bottom, width=0.6)
            y = table_top
        else:
            p.text(m, top - 8 * mm * s, f"发货单(续) {slip.order_id}", 12 * s, bold=True)
            y = top - 14 * mm * s
        # items table
        p.c.saveState()
        p.c.setFillColor(colors.HexColor("#EEEEEE"))
        p.c.rect(m, y - row_h, p.width - 2 * m, row_h, stroke=0, fill=1)
        p.c.restoreState()
        x = m
        for title, w in cols:
            p.text(x + 1.5 * mm * s, y - row_h + 2.6 * mm * s, title, 9.5 * s, bold=True)
            x += w
        p.box(m, y - row_h, p.width - 2 * m, row_h, width=0.6)
        y -= row_h
        for it in items:
            x = m
            values = [str(it.line_no), it.sku, it.name, it.vehicle_label, f"{it.quantity} 件"]
            for (title, w), v in zip(cols, values, strict=True):
                size = 12 * s if title == "数量" else 9.5 * s
                p.text(x + 1.5 * mm * s, y - row_h + 2.6 * mm * s, p.fit(v, size, w - 3 * mm * s), size,
                       bold=title == "数量")
                x += w
            p.line(m, y - row_h, p.width - m, y - row_h, width=0.3, colour=LIGHT)
            y -= row_h
        if page_no == len(pages):
            p.text(p.width - m, y - 6 * mm * s, f"合计 {len(slip.items)} 种 {slip.total_quantity} 件", 11 * s,
                   bold=True, align="right")
            if slip.note:
                for i, ln in enumerate(p.wrap(f"备注: {slip.note}", 10 * s, p.width - 2 * m - 50 * mm * s, 3)):
                    p.text(m, y - 6 * mm * s - i * 5 * mm * s, ln, 10 * s, colour=RED)
            p.text(m, m + 8 * mm * s, "请核对商品与数量; 如有破损请拒收并联系客服。", 9 * s, colour=GREY)
        p.line(m, m + 5 * mm * s, p.width - m, m + 5 * mm * s, width=0.3, colour=LIGHT)
        p.text(m, m, f"{slip.order_id} · 打印 {beijing(slip.printed_at)}", 8 * s, colour=GREY)
        p.text(p.width / 2, m, f"第{page_no}页/共{len(pages)}页", 9 * s, align="center")
        p.text(p.width - m, m, "打包: ________", 8 * s, align="right", colour=GREY)


def packing_slip_pdf(slips: PackingSlip | Sequence[PackingSlip], *, page_size: str = "A4",
                     font: PdfFont | None = None) -> bytes:
    """发货单: one slip per order or part, each on its own page(s) (A4 or A5), with the order id as
    Code128 and QR, the waybill number as Code128 and the masked phone."""
    slips = _many(slips, PackingSlip)
    if not slips:
        raise ValueError("没有要打印的发货单 no packing slip to print")
    sizes = {"A4": A4, "A5": A5}
    if page_size not in sizes:
        raise ValueError(f"纸张 {page_size!r} 不支持, 可选: A4、A5")
    p = _Page("发货单 " + "、".join(s.order_id for s in slips), sizes[page_size], font)
    for i, slip in enumerate(slips):
        if i:
            p.new_page()
        _slip(p, slip)
    return p.bytes()


# ---------------------------------------------------------------- 库位标签

SHEET = {"cols": 3, "rows": 7, "w": 70 * mm, "h": 42.3 * mm}  # A4, 21 labels (70 × 42.3 mm)
SINGLE = (60 * mm, 40 * mm)  # one thermal label: the reprint-label task


def _label(p: _Page, lb: BinLabel, x: float, y: float, w: float, h: float) -> None:
    """One label in the box (x, y, w, h): the code big, in words, as Code128 across and as QR."""
    k = h / (42.3 * mm)  # scale to the box
    pad = 3 * mm * k
    qr_size = min(17 * mm * k, h - 2 * pad - 14 * mm * k)
    size = 24 * k
    while p.text_width(lb.code, size) > w - 2 * pad - qr_size - 2 * mm * k and size > 10:
        size -= 1
    p.text(x + pad, y + h - pad - size * 0.85, lb.code, size, bold=True)
    small = 7.5 * k
    under = y + h - pad - size * 0.85 - small - 2.2 * mm * k
    p.text(x + pad, under, p.fit(lb.caption, small, w - 2 * pad - qr_size), small)
    if lb.warehouse:
        p.text(x + pad, under - small - 1 * mm * k, p.fit(lb.warehouse_label, small, w - 2 * pad - qr_size), small,
               colour=GREY)
    p.qr(lb.code, x + w - pad - qr_size, y + h - pad - qr_size, qr_size)
    p.code128(lb.code, x + pad, y + pad, max_width=w - 2 * pad, height=11 * mm * k, max_bar=0.45 * mm)


def bin_labels_pdf(labels: Iterable[BinLabel], *, layout: str = "sheet", font: PdfFont | None = None) -> bytes:
    """库位标签: ``layout="sheet"`` puts 21 on each A4 sheet (3 × 7, 70 × 42.3 mm, light cut lines);
    ``layout="single"`` one per 60 × 40 mm page, for a thermal printer and the reprint-label task."""
    labels = list(labels)
    if not labels:
        raise ValueError("没有要打印的库位标签 no bin label to print")
    if layout == "single":
        p = _Page("库位标签 " + "、".join(lb.code for lb in labels), SINGLE, font)
        for i, lb in enumerate(labels):
            if i:
                p.new_page()
            _label(p, lb, 0, 0, *SINGLE)
        return p.bytes()
    if layout != "sheet":
        raise ValueError(f"标签版式 {layout!r} 不支持, 可选: sheet(A4 整张)、single(60×40 mm 单张)")
    p = _Page("库位标签 " + "、".join(lb.code for lb in labels[:5]) + ("…" if len(labels) > 5 else ""), A4, font)
    per = SHEET["cols"] * SHEET["rows"]
    x0 = (p.width - SHEET["cols"] * SHEET["w"]) / 2
    y0 = (p.height - SHEET["rows"] * SHEET["h"]) / 2
    for i, lb in enumerate(labels):
        if i and i % per == 0:
            p.new_page()
        n = i % per
        col, row = n % SHEET["cols"], n // SHEET["cols"]
        x = x0 + col * SHEET["w"]
        y = p.height - y0 - (row + 1) * SHEET["h"]
        p.box(x, y, SHEET["w"], SHEET["h"], width=0.2, colour=LIGHT)
        _label(p, lb, x, y, SHEET["w"], SHEET["h"])
    return p.bytes()
