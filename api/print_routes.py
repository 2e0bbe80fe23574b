"""The floor's PDFs over HTTP: pick lists (波次拣货单), packing slips (发货单) and bin labels (库位标签).

Thin routes over ``domain/printouts.py`` (what goes on the page) and ``activities/printing.py`` (the
PDF): single or batch (repeat the query parameter), served inline so a browser shows them and the
console offers them as downloads. Bad input (an unknown wave, a code that is no bin) is a 404/422
naming it, in Chinese, never a 500.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from activities import warehouse as wh
from activities.printing import bin_labels_pdf, packing_slip_pdf, pick_list_pdf
from api.auth import READERS, require_or_session
from api.errors import query_refusal
from api.intake import current_view
from api.schemas import AUTH, errors
from domain.printouts import bin_labels, packing_slips_from_view, pick_list
from domain.warehouse import try_parse_bin

router = APIRouter(tags=["printing"])
PDF: dict[int | str, dict[str, Any]] = {200: {"content": {"application/pdf": {}}, "description": "the PDF"}}
PRINTERS = (*READERS, "device")  # the floor prints too


def _pdf(data: bytes, filename: str) -> Response:
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"})


async def _render(fn, *args, **kw) -> bytes:
    """The PDF, off the event loop; a page model the renderer refuses is the caller's input: 422."""
    try:
        return await asyncio.to_thread(fn, *args, **kw)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def _many(values: list[str], field: str) -> list[str]:
    """The repeated parameter's values, blanks dropped, once each; none at all is a 422 naming it."""
    values = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if not values:
        raise query_refusal(field, "至少需要填写一个 (give at least one)")
    return values


@router.get("/v1/print/picklists.pdf", response_class=Response, responses={**PDF, **errors(*AUTH, 404)})
async def pick_lists(request: Request, wave_id: list[str] = Query(..., max_length=50, description="repeat for a batch"),
                     _r: str = Depends(require_or_session(*PRINTERS))):
    """波次拣货单 of one or more waves, in walking order, wave and bin Code128."""
    engine, now = request.app.state.engine, datetime.now(UTC)
    lists = []
    for wid in _many(wave_id, "wave_id"):
        wave = await asyncio.to_thread(wh.get_wave, engine, wid)
        if wave is None:
            raise HTTPException(404, f"波次 {wid!r} 不存在 (wave not found)")
        lists.append(pick_list(wave, printed_at=now))
    data = await _render(pick_list_pdf, lists)
    return _pdf(data, f"picklist-{lists[0].wave_no or lists[0].wave_id}{'-etc' if len(lists) > 1 else ''}.pdf")


@router.get("/v1/print/packing-slips.pdf", response_class=Response, responses={**PDF, **errors(*AUTH, 404)})
async def packing_slips(request: Request, order_id: list[str] = Query(..., max_length=100, description="repeat for a batch"),
                        page_size: Literal["A4", "A5"] = "A4", _r: str = Depends(require_or_session(*PRINTERS))):
    """发货单: one per order (or per warehouse part), order id as Code128 and QR, the waybill as Code128."""
    engine, client, now = request.app.state.engine, request.app.state.client, datetime.now(UTC)
    slips = []
    for oid in _many(order_id, "order_id"):
        view = await current_view(client, engine, oid)
        if view is None:
            raise HTTPException(404, f"订单 {oid!r} 不存在 (order not found)")
        try:
            slips.extend(packing_slips_from_view(view.model_dump(), printed_at=now))
        except ValueError as exc:  # pydantic's too: an order without lines has no slip
            raise HTTPException(422, f"订单 {oid} 无法生成发货单: {exc}") from None
    data = await _render(packing_slip_pdf, slips, page_size=page_size)
    return _pdf(data, f"packing-slip-{slips[0].order_id}{'-etc' if len(slips) > 1 else ''}.pdf")


@router.get("/v1/print/bin-labels.pdf", response_class=Response, responses={**PDF, **errors(*AUTH, 422)})
async def bin_label_sheet(code: list[str] = Query(..., max_length=500, description="bin codes such as A-03-12"),
                          warehouse: str = Query("", max_length=32), layout: Literal["sheet", "single"] = "sheet",
                          _r: str = Depends(require_or_session(*PRINTERS))):
    """库位标签: 21 per A4 sheet, or one per 60 × 40 mm thermal label (``layout=single``)."""
    for i, c in enumerate(code):  # a code that is no bin: a 422 naming it (库位编码(第2项)…), like FastAPI's own
        if c.strip() and try_parse_bin(c) is None:
            raise query_refusal(("code", i), f"应为 区-巷道-货位 格式, 例如 A-03-12, 而不是「{c.strip()}」")
    try:
        items = bin_labels(_many(code, "code"), warehouse=warehouse)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    data = await _render(bin_labels_pdf, items, layout=layout)
    return _pdf(data, f"bin-labels-{items[0].code}{'-etc' if len(items) > 1 else ''}.pdf")
