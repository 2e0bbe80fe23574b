"""Tables of the read model. Alembic migrations in store/migrations create them; keep both in step."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

metadata = MetaData()

orders = Table(
    "orders",
    metadata,
    Column("order_id", String(100), primary_key=True),
    Column("channel", String(20), nullable=False),
    Column("channel_order_id", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("customer_name", String(64)),
    Column("phone", String(32)),
    Column("province", String(32)),
    Column("city", String(32)),
    Column("district", String(32)),
    Column("adcode", String(12)),
    Column("address_text", String(300)),
    Column("goods_amount", Numeric(14, 2)),
    Column("coupon_code", String(64)),
    Column("coupon_amount", Numeric(14, 2)),
    Column("freight", Numeric(14, 2)),
    Column("paid_amount", Numeric(14, 2)),
    Column("flags", JSON, nullable=False, default=list),
    Column("risk_level", String(10)),
    Column("merged_into", String(100)),
    Column("warehouse", String(32)),
    Column("carrier", String(32)),
    Column("ordered_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_seq", Integer, nullable=False),
    Column("projected_at", DateTime(timezone=True), nullable=False),
)
Index("ix_orders_status_updated", orders.c.status, orders.c.updated_at)
Index("ix_orders_channel_ordered", orders.c.channel, orders.c.ordered_at)
Index("ix_orders_customer_ordered", orders.c.customer_id, orders.c.ordered_at)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", String(100), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku", String(64), nullable=False),
    Column("name", String(128), nullable=False),
    Column("category", String(32), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Numeric(14, 2), nullable=False),
    Column("vehicle_model", String(64)),
)
Index("ix_order_lines_sku", order_lines.c.sku)

timeline_events = Table(
    "timeline_events",
    metadata,
    Column("order_id", String(100), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("event", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("data", JSON, nullable=False, default=dict),
)
Index("ix_timeline_at", timeline_events.c.at)

review_tasks = Table(
    "review_tasks",
    metadata,
    Column("review_id", String(140), primary_key=True),
    Column("order_id", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("features", JSON, nullable=False, default=list),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("escalated_at", DateTime(timezone=True)),
    Column("red_at", DateTime(timezone=True)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision", String(20)),
    Column("reviewer", String(64)),
    Column("note", Text),
)
Index("ix_review_tasks_state_created", review_tasks.c.state, review_tasks.c.created_at)
Index("ix_review_tasks_order", review_tasks.c.order_id)

rejected_payloads = Table(
    "rejected_payloads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("source", String(32), nullable=False),  # api, webhook:douyin, workflow …
    Column("channel", String(20)),
    Column("channel_order_id", String(64)),
    Column("payload", JSON, nullable=False),
    Column("errors", JSON, nullable=False),
    Column("replayed_at", DateTime(timezone=True)),
    Column("replay_order_id", String(100)),
)
Index("ix_rejected_received", rejected_payloads.c.received_at)

dedupe_keys = Table(
    "dedupe_keys",
    metadata,
    Column("phone", String(32), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("order_id", String(100), primary_key=True),
    Column("ordered_at", DateTime(timezone=True), nullable=False),
)
Index("ix_dedupe_phone_sku_at", dedupe_keys.c.phone, dedupe_keys.c.sku, dedupe_keys.c.ordered_at)

# ---- risk reference data (migration 0003) ----
blacklist = Table(
    "blacklist",
    metadata,
    Column("kind", String(16), primary_key=True),  # customer | phone | address
    Column("value", String(300), primary_key=True),
    Column("reason", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

sku_reference = Table(
    "sku_reference",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("name", String(128), nullable=False, default=""),
    Column("floor_price", Numeric(14, 2), nullable=False),
    Column("fitment", JSON, nullable=False, default=list),  # VehicleModel names
)

coupon_redemptions = Table(
    "coupon_redemptions",
    metadata,
    Column("coupon_code", String(64), primary_key=True),
    Column("order_id", String(100), primary_key=True),
    Column("amount", Numeric(14, 2), nullable=False),
    Column("redeemed_at", DateTime(timezone=True), nullable=False),
)
Index("ix_orders_customer_address_ordered", orders.c.customer_id, orders.c.address_text, orders.c.ordered_at)

# --- routing rule versions (store/rules.py; migration 0002) ---
from sqlalchemy import Boolean, LargeBinary, text  # noqa: E402

rule_versions = Table(
    "rule_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),  # max+1, immutable once written
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("source_filename", String(255), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("ruleset", JSON, nullable=False),
    Column("workbook", LargeBinary, nullable=False),
    Column("active", Boolean, nullable=False, default=False),
    Column("activated_at", DateTime(timezone=True)),
)
# at most one active version, enforced by the database on both backends
Index(
    "ux_rule_versions_active",
    rule_versions.c.active,
    unique=True,
    postgresql_where=text("active"),
    sqlite_where=text("active"),
)
