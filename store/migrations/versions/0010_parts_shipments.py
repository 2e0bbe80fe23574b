"""fulfilment parts, parcels, stuck alerts; timeline events keyed by the workflow that wrote them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 12:00:00

The redesigned order runs one workflow per warehouse part and one per parcel. Each projects its own
row (order_parts, shipments) and its own timeline events into the order's timeline: the events'
key becomes (order_id, source, seq), source being the writing workflow ('' for the order itself).
Written by hand; keep it in step with store/schema.py.
"""
import warnings

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("timeline_events", sa.Column("source", sa.String(length=140), nullable=False, server_default=""))
        op.drop_constraint("timeline_events_pkey", "timeline_events", type_="primary")
        op.create_primary_key("timeline_events_pkey", "timeline_events", ["order_id", "source", "seq"])
    else:  # SQLite: batch mode rebuilds the table with the new key
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sa.exc.SAWarning)  # "primary key columns differ": that is the point
            with op.batch_alter_table("timeline_events", recreate="always") as batch_op:
                batch_op.add_column(sa.Column("source", sa.String(length=140), nullable=False, server_default=""))
                batch_op.create_primary_key("timeline_events_pkey", ["order_id", "source", "seq"])
    op.add_column("orders", sa.Column("rule_version", sa.Integer(), nullable=True))
    op.add_column("orders", sa.Column("parts", sa.Integer(), nullable=True))
    op.add_column("orders", sa.Column("stuck", sa.JSON(), nullable=True))
    op.create_table(
        "order_parts",
        sa.Column("part_id", sa.String(length=120), primary_key=True),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("part_no", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("warehouse", sa.String(length=32), nullable=False),
        sa.Column("carrier", sa.String(length=32)),
        sa.Column("wave_no", sa.String(length=16)),
        sa.Column("waybill_no", sa.String(length=40)),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True)),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
    )
    op.create_index("ix_order_parts_order", "order_parts", ["order_id"])
    op.create_table(
        "shipments",
        sa.Column("shipment_id", sa.String(length=140), primary_key=True),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.String(length=130), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("carrier", sa.String(length=16), nullable=False),
        sa.Column("waybill_no", sa.String(length=40)),
        sa.Column("label_url", sa.String(length=500)),
        sa.Column("shipped_at", sa.DateTime(timezone=True)),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("last_event", sa.String(length=24)),
        sa.Column("last_event_at", sa.DateTime(timezone=True)),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
    )
    op.create_index("ix_shipments_order", "shipments", ["order_id"])
    op.create_index("ix_shipments_waybill", "shipments", ["waybill_no"])
    op.create_table(
        "stuck_alerts",
        sa.Column("review_id", sa.String(length=160), primary_key=True),
        sa.Column("workflow_id", sa.String(length=140), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("activity", sa.String(length=64), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_stuck_alerts_open", "stuck_alerts", ["resolved", "at"])


def downgrade() -> None:
    op.drop_table("stuck_alerts")
    op.drop_table("shipments")
    op.drop_table("order_parts")
    for col in ("stuck", "parts", "rule_version"):
        op.drop_column("orders", col)
    with op.batch_alter_table("timeline_events", recreate="always") as batch_op:
        batch_op.drop_constraint("timeline_events_pkey", type_="primary")
        batch_op.drop_column("source")
        batch_op.create_primary_key("timeline_events_pkey", ["order_id", "seq"])
