"""Custom search attributes, so the Temporal UI lists orders by status, channel, customer …: the upserts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio.common import SearchAttributeUpdate

# the keys are a contract (the intake starts orders with them, the API lists by them): domain.contracts
from domain.contracts.search_attributes import ALL as ALL
from domain.contracts.search_attributes import CARRIER as CARRIER
from domain.contracts.search_attributes import CHANNEL as CHANNEL
from domain.contracts.search_attributes import CUSTOMER_ID as CUSTOMER_ID
from domain.contracts.search_attributes import ORDER_ID as ORDER_ID
from domain.contracts.search_attributes import ORDER_STATUS as ORDER_STATUS
from domain.contracts.search_attributes import RISK_LEVEL as RISK_LEVEL
from domain.contracts.search_attributes import UNTOUCHED as UNTOUCHED
from domain.contracts.search_attributes import WAREHOUSE as WAREHOUSE

if TYPE_CHECKING:
    from domain.contracts.order import OrderRecord


def changed(rec: OrderRecord, last: dict[str, str]) -> list[SearchAttributeUpdate[Any]]:
    """The order's attributes that differ from ``last`` (updated in place): each upsert is a history event."""
    keys = (ORDER_STATUS, CHANNEL, CUSTOMER_ID, RISK_LEVEL, WAREHOUSE, CARRIER)
    values = (rec.status.value, rec.submission.channel.value, rec.submission.customer.id, rec.risk_level, rec.warehouse,
              rec.carrier)
    out = [k.value_set(v) for k, v in zip(keys, values, strict=True) if v and last.get(k.name) != v]
    last.update({k.name: v for k, v in zip(keys, values, strict=True) if v})
    return out
