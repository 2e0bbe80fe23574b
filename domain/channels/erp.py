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

from decimal import Decimal
from typing import Any

from domain.channels.common import (
    MappingError,
    category,
    china_time,
    dedupe_repeated_prefix,
    order_id_text,
    phone,
    require,
    text,
    yuan,
)
from domain.order import CleanOrder


def to_submission(bill: dict[str, Any], channel: str = "erp") -> dict[str, Any]:
    if not isinstance(bill, dict):
        raise MappingError("bill", "not an object")
    no = order_id_text(bill.get("FBillNo"), "FBillNo")
    entries = bill.get("FSaleOrderEntry") or []
    if not entries:
        raise MappingError("FSaleOrderEntry", "a sales order without entries")
    lines = []
    for i, e in enumerate(entries):
        mat = e.get("FMaterialId") or {}
        name = text(mat.get("FName")) if isinstance(mat, dict) else None
        sku = text(mat.get("FNumber")) if isinstance(mat, dict) else text(mat)
        if not sku or not name:
            raise MappingError(f"FSaleOrderEntry[{i}].FMaterialId", "material number and name are required")
        line = {"sku": sku, "name": name[:128], "category": category(e.get("FMaterialGroup"), name),
                "quantity": int(Decimal(str(require(e, "FQty")))),
                "unit_price": yuan(require(e, "FTaxPrice"), f"FSaleOrderEntry[{i}].FTaxPrice")}
        if text(e.get("F_Fitment")):
            line["vehicle_model"] = text(e.get("F_Fitment"))
        lines.append(line)
    cust = bill.get("FCustId") or {}
    raw_addr = text(require(bill, "FReceiveAddress"))
    if not raw_addr:
        raise MappingError("FReceiveAddress", "missing")
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
    status = (resp.get("Result") or {}).get("ResponseStatus") or {}
    if not status.get("IsSuccess"):
        errs = status.get("Errors") or [{"Message": "unknown error"}]
        raise MappingError("ResponseStatus", "; ".join(str(e.get("Message")) for e in errs))
    ent = (status.get("SuccessEntitys") or [{}])[0]
    return str(ent.get("Number") or require(resp, "Result", "Number"))
