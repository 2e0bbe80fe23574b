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
    Column("source", String(140), primary_key=True, default="", server_default=""),  # the workflow that wrote it ('' = the order)
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

# ---- finance and metrics (store/metrics.py, store/finance.py; migration 0005) ----
from sqlalchemy import BigInteger  # noqa: E402

order_finance = Table(  # an order's money at completion, allocated per line in fen
    "order_finance",
    metadata,
    Column("order_id", String(100), primary_key=True),
    Column("day", String(10), nullable=False),  # Beijing date of completion, YYYY-MM-DD
    Column("channel", String(20), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=False),
    Column("goods_fen", BigInteger, nullable=False),
    Column("coupon_code", String(64)),
    Column("coupon_fen", BigInteger, nullable=False),
    Column("freight_fen", BigInteger, nullable=False),
    Column("paid_fen", BigInteger, nullable=False),
    Column("lines", JSON, nullable=False, default=list),  # [LineAllocation]
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
Index("ix_order_finance_day", order_finance.c.day, order_finance.c.order_id)

finance_statements = Table(  # what the channels and the ERP said about a day, as fetched
    "finance_statements",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("source", String(32), primary_key=True),  # channel:<name> | erp
    Column("ref", String(160), primary_key=True),
    Column("order_id", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
)

reconciliation_runs = Table(  # the latest report per day (a re-run replaces it)
    "reconciliation_runs",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("run_at", DateTime(timezone=True), nullable=False),
    Column("workflow_id", String(200), nullable=False),
    Column("summary", JSON, nullable=False),
    Column("differences", JSON, nullable=False),
    Column("workbook", LargeBinary, nullable=False),
)

status_enquiries = Table(  # each call of GET /v1/orders/{id}/status: the experience index
    "status_enquiries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", String(100), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("role", String(16), nullable=False),
)
Index("ix_status_enquiries_order", status_enquiries.c.order_id)
Index("ix_status_enquiries_at", status_enquiries.c.at)
Index("ix_orders_ordered", orders.c.ordered_at)
Index("ix_orders_warehouse_ordered", orders.c.warehouse, orders.c.ordered_at)
# Migration 0005 also adds timeline_events.recorded_at (filled by a server default when the
# projection inserts the event). It is deliberately not declared on the Table above, so existing
# selects and inserts stay as they are; store/metrics.py reads it as a literal column.

# ---- warehouse execution: stock per bin, waves, pick tasks, floor exceptions, scans (migration 0006) ----
warehouse_stock = Table(  # imported from Excel (`zhongshu stock import`); picking decrements it
    "warehouse_stock",
    metadata,
    Column("warehouse", String(32), primary_key=True),
    Column("bin", String(16), primary_key=True),  # A-03-12
    Column("sku", String(64), primary_key=True),
    Column("name", String(128), nullable=False, default=""),
    Column("quantity", Integer, nullable=False),
    Column("barcode", String(64), nullable=False, default=""),
    Column("notes", String(200), nullable=False, default=""),  # e.g. 易碎品轻拿
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_warehouse_stock_sku", warehouse_stock.c.warehouse, warehouse_stock.c.sku)

stock_moves = Table(  # one row per confirmed pick / put-away: the idempotency key of a decrement
    "stock_moves",
    metadata,
    Column("move_id", String(160), primary_key=True),
    Column("warehouse", String(32), nullable=False),
    Column("bin", String(16), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("delta", Integer, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

waves = Table(
    "waves",
    metadata,
    Column("wave_id", String(80), primary_key=True),  # HZ-DIRECT-20261126-07
    Column("warehouse", String(32), nullable=False),
    Column("wave_no", String(16), nullable=False),  # B26-07
    Column("carrier", String(32), nullable=False),
    Column("state", String(16), nullable=False),  # open | picking | packing | done
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("cutoff_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    Column("close_reason", String(16)),
    Column("order_ids", JSON, nullable=False, default=list),
    Column("task_count", Integer, nullable=False, default=0),
    Column("done_count", Integer, nullable=False, default=0),
    Column("short_count", Integer, nullable=False, default=0),
    Column("qc_pending_count", Integer, nullable=False, default=0),
    Column("putaway_pending_count", Integer, nullable=False, default=0),
    Column("packed_by", String(64)),
    Column("packed_at", DateTime(timezone=True)),
    Column("version", Integer, nullable=False, default=0),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_waves_warehouse_state", waves.c.warehouse, waves.c.state, waves.c.opened_at)

pick_tasks = Table(
    "pick_tasks",
    metadata,
    Column("task_id", String(100), primary_key=True),
    Column("wave_id", String(80), nullable=False),
    Column("warehouse", String(32), nullable=False),
    Column("kind", String(16), nullable=False),  # pick | putaway
    Column("seq", Integer, nullable=False),  # walking order
    Column("bin", String(16), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("name", String(128), nullable=False, default=""),
    Column("barcode", String(64), nullable=False, default=""),
    Column("quantity", Integer, nullable=False),
    Column("picked_qty", Integer, nullable=False, default=0),
    Column("image_url", String(500)),
    Column("notes", JSON, nullable=False, default=list),
    Column("qc_required", Boolean, nullable=False, default=False),
    Column("state", String(20), nullable=False),
    Column("allocations", JSON, nullable=False, default=list),
    Column("device_id", String(64)),
    Column("picker", String(64)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_pick_tasks_wave_seq", pick_tasks.c.wave_id, pick_tasks.c.seq)
Index("ix_pick_tasks_warehouse_state", pick_tasks.c.warehouse, pick_tasks.c.state)

warehouse_exceptions = Table(  # short picks, reprint-label requests, QC failures: the lead's tasks
    "warehouse_exceptions",
    metadata,
    Column("exception_id", String(64), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("warehouse", String(32), nullable=False),
    Column("wave_id", String(80)),
    Column("task_id", String(100)),
    Column("bin", String(16)),
    Column("sku", String(64)),
    Column("picker", String(64)),
    Column("device_id", String(64)),
    Column("reason", Text, nullable=False),
    Column("order_ids", JSON, nullable=False, default=list),
    Column("state", String(16), nullable=False),  # open | resolved
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
)
Index("ix_warehouse_exceptions_state", warehouse_exceptions.c.warehouse, warehouse_exceptions.c.state, warehouse_exceptions.c.created_at)

scan_events = Table(  # every mis-scan a device caught, per picker: the dashboard's error rate
    "scan_events",
    metadata,
    Column("event_id", String(64), primary_key=True),  # chosen by the device: retries never double-count
    Column("at", DateTime(timezone=True), nullable=False),
    Column("warehouse", String(32), nullable=False),
    Column("picker", String(64), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("task_id", String(100)),
    Column("kind", String(20), nullable=False),  # unreadable | wrong_bin | wrong_item | wrong_quantity
    Column("barcode", String(200), nullable=False, default=""),
)
Index("ix_scan_events_picker_at", scan_events.c.picker, scan_events.c.at)

# ---- channels: accounts, webhook attempts, OAuth2 clients/tokens, ERP document no. (migration 0004) ----
channel_accounts = Table(  # one row per polled/pushed channel account (`zhongshu channels add`)
    "channel_accounts",
    metadata,
    Column("account_id", String(64), primary_key=True),  # e.g. tmall-hz-flagship
    Column("channel", String(20), nullable=False),
    Column("base_url", String(300), nullable=False),
    Column("app_key", String(128), nullable=False),
    Column("app_secret", String(256), nullable=False),  # never put in workflow inputs/histories
    Column("options", JSON, nullable=False, default=dict),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

webhook_attempts = Table(  # every push we received, accepted or not (bad signatures included)
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("outcome", String(20), nullable=False),  # accepted | bad_signature | unmappable | ignored | error
    Column("http_status", Integer, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("body_sha256", String(64), nullable=False),
    Column("body_bytes", Integer, nullable=False),
    Column("order_ids", JSON, nullable=False, default=list),
    Column("remote", String(64)),
)
Index("ix_webhook_attempts_received", webhook_attempts.c.received_at)

oauth_clients = Table(  # OAuth2 client-credentials callers (the mini-program backend)
    "oauth_clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("token_ttl_seconds", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

oauth_tokens = Table(  # issued bearer tokens, stored hashed
    "oauth_tokens",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
Index("ix_oauth_tokens_expires", oauth_tokens.c.expires_at)
orders.append_column(Column("erp_doc_no", String(40)))  # set by push_order_to_erp, never by the projection
orders.append_column(Column("erp_pushed_at", DateTime(timezone=True)))

# ---- logistics: e-waybills and carrier tracking pushes (activities/logistics.py; migration 0007) ----
waybills = Table(  # one per (carrier, order id): the carrier's idempotency key is the order id
    "waybills",
    metadata,
    Column("waybill_no", String(40), primary_key=True),
    Column("carrier", String(16), nullable=False),
    Column("order_id", String(100), nullable=False),  # or an aftersales case id (return parcels)
    Column("direction", String(10), nullable=False),  # outbound | return
    Column("warehouse", String(32)),
    Column("label_url", String(500), nullable=False, default=""),
    Column("label_zpl", Text, nullable=False, default=""),
    Column("weight_kg", Numeric(9, 3)),
    Column("parcels", Integer, nullable=False, default=1),
    Column("created_at", DateTime(timezone=True), nullable=False),  # the carrier's time
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
Index("ux_waybills_order_carrier", waybills.c.order_id, waybills.c.carrier, unique=True)

tracking_events = Table(  # every event a carrier pushed, once per (carrier, event id)
    "tracking_events",
    metadata,
    Column("carrier", String(16), primary_key=True),
    Column("event_id", String(100), primary_key=True),
    Column("waybill_no", String(40), nullable=False),
    Column("order_id", String(100), nullable=False),
    Column("code", String(24), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("location", String(100), nullable=False, default=""),
    Column("description", String(300), nullable=False, default=""),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("result", String(20), nullable=False),  # pending | delivered | unknown_order
)
Index("ix_tracking_events_order_at", tracking_events.c.order_id, tracking_events.c.at)
Index("ix_tracking_events_waybill", tracking_events.c.waybill_no)

orders.append_column(Column("waybill_no", String(40)))  # projected from OrderState.shipment
orders.append_column(Column("shipped_at", DateTime(timezone=True)))
orders.append_column(Column("delivered_at", DateTime(timezone=True)))
Index("ix_orders_waybill_no", orders.c.waybill_no)

# ---- channel health, delivery versions, push message ids (issue 11; migration 0009) ----
from sqlalchemy import Float  # noqa: E402

channel_health = Table(  # one row per channel account, projected by its sync / watchdog workflow
    "channel_health",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("channel", String(20), nullable=False),
    Column("kind", String(10), nullable=False),  # sync (polled) | webhook (pushed)
    Column("state", String(12), nullable=False),  # domain.channels.health.HealthState
    Column("state_since", DateTime(timezone=True), nullable=False),
    Column("workflow_id", String(140), nullable=False),
    Column("seq", BigInteger, nullable=False, default=0),  # the workflow's report number: a retry never counts twice
    Column("interval_seconds", Float),  # sync: the poll interval
    Column("stall_after_seconds", Float),  # sync: N × interval; webhook: the silence threshold (None: learning)
    Column("last_poll_at", DateTime(timezone=True)),
    Column("last_success_at", DateTime(timezone=True)),  # sync: last successful poll; webhook: last push
    Column("last_error", Text),
    Column("consecutive_errors", Integer, nullable=False, default=0),
    Column("cursor", DateTime(timezone=True)),  # sync: every trade modified before it was read
    Column("backlog_trades", Integer, nullable=False, default=0),  # sync: counted in the window, not yet read
    Column("imported_day", String(10)),  # Beijing day of imported_today
    Column("imported_today", Integer, nullable=False, default=0),
    Column("pushes", BigInteger, nullable=False, default=0),  # webhook: pushes seen by the watchdog
    Column("typical_gap_seconds", Float),  # webhook: the median gap between pushes
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

channel_versions = Table(  # the channel's version of the copy each order was last given (newest wins)
    "channel_versions",
    metadata,
    Column("order_id", String(100), primary_key=True),
    Column("channel", String(20), nullable=False),
    Column("channel_updated_at", DateTime(timezone=True)),
    Column("version", BigInteger),
    Column("content_sha256", String(64)),  # the copy's canonical content: the same copy again is no news
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

webhook_messages = Table(  # push messages processed, by the platform's message id: a replay is recognised
    "webhook_messages",
    metadata,
    Column("channel", String(20), primary_key=True),
    Column("msg_id", String(100), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("result", JSON, nullable=False, default=dict),  # what the first delivery answered: order / rejection ids
    Column("replays", Integer, nullable=False, default=0),
)
Index("ix_webhook_messages_received", webhook_messages.c.received_at)
# ---- the redesigned order: parts, parcels, stuck alerts (migration 0010) ----
orders.append_column(Column("rule_version", Integer))
orders.append_column(Column("parts", Integer))  # live fulfilment parts (more than 1: a split order)
orders.append_column(Column("stuck", JSON))  # domain.contracts.order.Stuck while an ops task is open

order_parts = Table(  # one per FulfilmentWorkflow ({order}~F{n})
    "order_parts",
    metadata,
    Column("part_id", String(120), primary_key=True),
    Column("order_id", String(100), nullable=False),
    Column("part_no", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("warehouse", String(32), nullable=False),
    Column("carrier", String(32)),
    Column("wave_no", String(16)),
    Column("waybill_no", String(40)),
    Column("lines", JSON, nullable=False, default=list),
    Column("shipped_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_seq", Integer, nullable=False),
)
Index("ix_order_parts_order", order_parts.c.order_id)

shipments = Table(  # one per ShipmentWorkflow (a parcel: outbound, re-shipped, returned)
    "shipments",
    metadata,
    Column("shipment_id", String(140), primary_key=True),
    Column("order_id", String(100), nullable=False),
    Column("owner_id", String(130), nullable=False),
    Column("direction", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("carrier", String(16), nullable=False),
    Column("waybill_no", String(40)),
    Column("label_url", String(500)),
    Column("shipped_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("last_event", String(24)),
    Column("last_event_at", DateTime(timezone=True)),
    Column("events", Integer, nullable=False, default=0),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_seq", Integer, nullable=False),
)
Index("ix_shipments_order", shipments.c.order_id)
Index("ix_shipments_waybill", shipments.c.waybill_no)

stuck_alerts = Table(  # an activity that kept failing: shown even when the projection is what fails
    "stuck_alerts",
    metadata,
    Column("review_id", String(160), primary_key=True),
    Column("workflow_id", String(140), nullable=False),
    Column("order_id", String(100), nullable=False),
    Column("activity", String(64), nullable=False),
    Column("error", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("resolved", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_stuck_alerts_open", stuck_alerts.c.resolved, stuck_alerts.c.at)

# ---- people and the audit log (issue 13; migration 0011) ----
users = Table(  # people who sign in: reviewer, customer_service, warehouse_lead, finance, admin
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("display_name", String(64), nullable=False),
    Column("role", String(20), nullable=False),
    Column("password_hash", String(200)),  # argon2id; NULL: WeCom sign-in only
    Column("wecom_userid", String(64), unique=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

user_sessions = Table(  # sign-in tokens, stored hashed; they expire
    "user_sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("username", String(64), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("client_ip", String(64)),
)
Index("ix_user_sessions_user", user_sessions.c.username)

audit_log = Table(  # every human and credentialed action: who, role, when, what, from where, result
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("role", String(20), nullable=False),
    Column("kind", String(10), nullable=False),  # user | key | token | anonymous
    Column("action", String(120), nullable=False),  # "POST /v1/reviews/{review_id}/decision" or "login"
    Column("target", String(300)),  # the concrete path (ids) or username
    Column("client_ip", String(64)),
    Column("status", Integer, nullable=False),
    Column("detail", Text),
)
Index("ix_audit_log_at", audit_log.c.at)
Index("ix_audit_log_actor", audit_log.c.actor, audit_log.c.at)
