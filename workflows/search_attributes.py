"""Custom search attributes, so the Temporal UI lists orders by status, channel, customer …"""

from temporalio.common import SearchAttributeKey

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
CHANNEL = SearchAttributeKey.for_keyword("Channel")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
WAREHOUSE = SearchAttributeKey.for_keyword("Warehouse")
CARRIER = SearchAttributeKey.for_keyword("Carrier")
RISK_LEVEL = SearchAttributeKey.for_keyword("RiskLevel")

ALL = [ORDER_STATUS, CHANNEL, CUSTOMER_ID, WAREHOUSE, CARRIER, RISK_LEVEL]
