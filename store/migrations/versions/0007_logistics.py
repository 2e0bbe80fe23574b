"""logistics: e-waybills, carrier tracking events, orders.waybill_no/shipped_at/delivered_at

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 10:00:00

Written by hand (not importing store.schema) so the migration stays what it was when later schema
edits land; keep it in step with the "logistics" block of store/schema.py.
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "waybills",
        sa.Column("waybill_no", sa.String(length=40), nullable=False),
        sa.Column("carrier", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("warehouse", sa.String(length=32), nullable=True),
        sa.Column("label_url", sa.String(length=500), nullable=False),
        sa.Column("label_zpl", sa.Text(), nullable=False),
        sa.Column("weight_kg", sa.Numeric(9, 3), nullable=True),
        sa.Column("parcels", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("waybill_no"),
    )
    op.create_index("ux_waybills_order_carrier", "waybills", ["order_id", "carrier"], unique=True)
    op.create_table(
        "tracking_events",
        sa.Column("carrier", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("waybill_no", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("location", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("carrier", "event_id"),
    )
    op.create_index("ix_tracking_events_order_at", "tracking_events", ["order_id", "at"], unique=False)
    op.create_index("ix_tracking_events_waybill", "tracking_events", ["waybill_no"], unique=False)
    op.add_column("orders", sa.Column("waybill_no", sa.String(length=40), nullable=True))
    op.add_column("orders", sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("orders", sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_orders_waybill_no", "orders", ["waybill_no"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_orders_waybill_no", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("delivered_at")
        batch.drop_column("shipped_at")
        batch.drop_column("waybill_no")
    op.drop_index("ix_tracking_events_waybill", table_name="tracking_events")
    op.drop_index("ix_tracking_events_order_at", table_name="tracking_events")
    op.drop_table("tracking_events")
    op.drop_index("ux_waybills_order_carrier", table_name="waybills")
    op.drop_table("waybills")
