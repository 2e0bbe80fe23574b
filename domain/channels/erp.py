"""Kingdee K3 Cloud-style sales order (SAL_SaleOrder) ↔ canonical order.

Two directions:

* ``to_submission`` — a historical ERP sales order (as the query API returns it) → canonical
  payload, for ``zhongshu import erp --since`` (channel ``erp``, id = the ERP bill number, so an
  import run twice never starts an order twice)::

      {"FBillNo": "XSDD000123", "FDate": "2026-10-08 09:30:00",
       "FCustId": {"FNumber": "CUST-HZ-0012", "FName": "杭州顺达汽配"},
       "FLinkMan": "陈 强", "FLinkPhone": "0571-8765 4321", "FReceiveAddress": "杭州市余杭区文一西路998号",
       "FBillAllAmount": 12800.0, "FFreight": 0, "FNote": "",
       "FSaleOrderEntry": [{"FMaterialId": {"FNumber": "ENG-1.5T-EA211", "FName": "大众EA211 1.5T 发动机总成"},
                            "FMaterialGroup": "发动机总成", "FQty": 1, "FTaxPrice": 12800.0,
                            "F_Fitment": "朗逸2019款"}]}

* ``to_erp_bill`` — an accepted (clean) order → the Save payload we push to the ERP; the
  order id goes in ``F_ZS_OrderId`` (the ERP's external-number field), which the ERP keeps unique,
  so a retried push returns the existing bill instead of a second one.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from domain.channels.common import (
    MappingError,
    category,
    china_time,
    dedupe_repeated_prefix,
    not_an_object,
    objects,
    order_id_text,
    phone,
    received,
    require,
    text,
    yuan,
)
from domain.order import CleanOrder


def _quantity(value: Any, field: str) -> int:
    """FQty as the ERP sends it (1, 1.0, "2"; a fraction is cut, as ``int`` cuts it)."""
    try:
        return int(Decimal(str(value)))
    except (InvalidOperation, ValueError, OverflowError):
        raise MappingError(field, f"应为数量, {received(value)} (not a quantity)") from None


def to_submission(bill: dict[str, Any], channel: str = "erp") -> dict[str, Any]:
    if not isinstance(bill, dict):
        raise MappingError("bill", not_an_object(bill))
    no = order_id_text(bill.get("FBillNo"), "FBillNo")
    entries = bill.get("FSaleOrderEntry") or []
    if not entries:
        raise MappingError("FSaleOrderEntry", "销售订单没有明细行 (a sales order without entries)")
    lines = []
    for i, e in enumerate(objects(entries, "FSaleOrderEntry")):
        at = f"FSaleOrderEntry[{i}]"
        mat = e.get("FMaterialId") or {}
        name = text(mat.get("FName")) if isinstance(mat, dict) else None
        sku = text(mat.get("FNumber")) if isinstance(mat, dict) else text(mat)
        if not sku or not name:
            raise MappingError(f"{at}.FMaterialId", "物料编码和物料名称都要有 (material number and name are required)")
        line = {"sku": sku, "name": name[:128], "category": category(e.get("FMaterialGroup"), name),
                "quantity": _quantity(require(e, "FQty", at=at), f"{at}.FQty"),
                "unit_price": yuan(require(e, "FTaxPrice", at=at), f"{at}.FTaxPrice")}
        if text(e.get("F_Fitment")):
            line["vehicle_model"] = text(e.get("F_Fitment"))
        lines.append(line)
    cust = bill.get("FCustId") or {}
    raw_addr = text(require(bill, "FReceiveAddress"))
    if not raw_addr:
        raise MappingError("FReceiveAddress", "缺少收货地址 (missing)")
    return {
        "channel": channel,
        "channel_order_id": no,
        "ordered_at": china_time(require(bill, "FDate"), "FDate"),
        "customer": {
            "id": (text(cust.get("FNumber")) if isinstance(cust, dict) else text(cust)) or "erp-customer",
            "name": text(require(bill, "FLinkMan")),
            "phone": phone(bill.get("FLinkPhone"), field="FLinkPhone"),
        },
        "address": {"raw": dedupe_repeated_prefix(raw_addr)},
        "lines": lines,
        "freight": yuan(bill.get("FFreight") or 0, "FFreight"),
        "paid_amount": yuan(require(bill, "FBillAllAmount"), "FBillAllAmount"),
        "note": (text(bill.get("FNote")) or "")[:500],
    }


def to_erp_bill(order: CleanOrder) -> dict[str, Any]:
    """The SAL_SaleOrder Save model for an accepted order (amounts as yuan strings: exact)."""
    addr = order.address.text if order.address else order.address_raw
    return {
        "FormId": "SAL_SaleOrder",
        "Model": {
            "F_ZS_OrderId": order.order_id,
            "FDate": order.ordered_at.isoformat(),
            "FCustId": {"FNumber": order.customer_id},
            "FLinkMan": order.customer_name,
            "FLinkPhone": order.phone,
            "FReceiveAddress": addr,
            "FNote": f"{order.channel.value} {order.channel_order_id}",
            "FFreight": str(order.freight),
            "FBillAllAmount": str(order.paid_amount),
            "FSaleOrderEntry": [
                {"FMaterialId": {"FNumber": ln.sku, "FName": ln.name}, "FMaterialGroup": ln.category,
                 "FQty": ln.quantity, "FTaxPrice": str(ln.unit_price), "F_Fitment": ln.vehicle_model or ""}
                for ln in order.lines
            ],
        },
    }


def bill_no_of(resp: dict[str, Any]) -> str:
    """The bill number from a Save response; MappingError when the ERP said no."""
    result = resp.get("Result") if isinstance(resp, dict) else None
    status = result.get("ResponseStatus") if isinstance(result, dict) else None
    if not isinstance(status, dict) or not status.get("IsSuccess"):
        errs = status.get("Errors") if isinstance(status, dict) else None
        said = [str(e.get("Message") if isinstance(e, dict) else e) for e in errs] if isinstance(errs, list) else []
        raise MappingError("ResponseStatus", "; ".join(said) or "未说明原因 (unknown error)")
    ents = status.get("SuccessEntitys")
    ent = ents[0] if isinstance(ents, list) and ents and isinstance(ents[0], dict) else {}
    return str(ent.get("Number") or require(resp, "Result", "Number"))
