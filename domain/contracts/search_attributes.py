"""Custom search attributes, so the Temporal UI lists orders by status, channel, customer …: their keys.

Set by the intake when it starts an order, upserted by the workflows (workflows/search_attributes.py),
registered on a server by zhongshu/search_attributes.py. ``SearchAttributeKey`` is a typed name only
(temporalio.common, no I/O): safe in the workflow sandbox.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
CHANNEL = SearchAttributeKey.for_keyword("Channel")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
WAREHOUSE = SearchAttributeKey.for_keyword("Warehouse")
CARRIER = SearchAttributeKey.for_keyword("Carrier")
RISK_LEVEL = SearchAttributeKey.for_keyword("RiskLevel")
ORDER_ID = SearchAttributeKey.for_keyword("OrderId")  # on parts and parcels: the order they belong to
UNTOUCHED = SearchAttributeKey.for_keyword("Untouched")  # "red": a small team's order nobody acted on for 24 h

ALL = [ORDER_STATUS, CHANNEL, CUSTOMER_ID, WAREHOUSE, CARRIER, RISK_LEVEL, ORDER_ID, UNTOUCHED]
