"""Custom search attributes, so the Temporal UI lists orders by status, channel, customer …"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

if TYPE_CHECKING:
    from domain.contracts.order import OrderRecord

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
CHANNEL = SearchAttributeKey.for_keyword("Channel")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
WAREHOUSE = SearchAttributeKey.for_keyword("Warehouse")
CARRIER = SearchAttributeKey.for_keyword("Carrier")
RISK_LEVEL = SearchAttributeKey.for_keyword("RiskLevel")
ORDER_ID = SearchAttributeKey.for_keyword("OrderId")  # on parts and parcels: the order they belong to

ALL = [ORDER_STATUS, CHANNEL, CUSTOMER_ID, WAREHOUSE, CARRIER, RISK_LEVEL, ORDER_ID]


def changed(rec: OrderRecord, last: dict[str, str]) -> list[SearchAttributeUpdate[Any]]:
    """The order's attributes that differ from ``last`` (updated in place): each upsert is a history event."""
    keys = (ORDER_STATUS, CHANNEL, CUSTOMER_ID, RISK_LEVEL, WAREHOUSE, CARRIER)
    values = (rec.status.value, rec.submission.channel.value, rec.submission.customer.id, rec.risk_level, rec.warehouse,
              rec.carrier)
    out = [k.value_set(v) for k, v in zip(keys, values, strict=True) if v and last.get(k.name) != v]
    last.update({k.name: v for k, v in zip(keys, values, strict=True) if v})
    return out
