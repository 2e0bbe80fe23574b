"""warehouse execution: stock per bin, stock moves, waves, pick tasks, floor exceptions, scan events

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 10:00:00

Written by hand (not importing store.schema) so the migration stays what it was when later schema
edits land; keep it in step with the "warehouse execution" block of store/schema.py.
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "warehouse_stock",
        sa.Column("warehouse", sa.String(length=32), nullable=False),
        sa.Column("bin", sa.String(length=16), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("barcode", sa.String(length=64), nullable=False),
        sa.Column("notes", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("warehouse", "bin", "sku"),
    )
    op.create_index("ix_warehouse_stock_sku", "warehouse_stock", ["warehouse", "sku"], unique=False)
    op.create_table(
        "stock_moves",
        sa.Column("move_id", sa.String(length=160), nullable=False),
        sa.Column("warehouse", sa.String(length=32), nullable=False),
        sa.Column("bin", sa.String(length=16), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("move_id"),
    )
    op.create_table(
        "waves",
        sa.Column("wave_id", sa.String(length=80), nullable=False),
        sa.Column("warehouse", sa.String(length=32), nullable=False),
        sa.Column("wave_no", sa.String(length=16), nullable=False),
        sa.Column("carrier", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cutoff_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(length=16), nullable=True),
        sa.Column("order_ids", sa.JSON(), nullable=False),
        sa.Column("task_count", sa.Integer(), nullable=False),
        sa.Column("done_count", sa.Integer(), nullable=False),
        sa.Column("short_count", sa.Integer(), nullable=False),
        sa.Column("qc_pending_count", sa.Integer(), nullable=False),
        sa.Column("putaway_pending_count", sa.Integer(), nullable=False),
        sa.Column("packed_by", sa.String(length=64), nullable=True),
        sa.Column("packed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("wave_id"),
    )
    op.create_index("ix_waves_warehouse_state", "waves", ["warehouse", "state", "opened_at"], unique=False)
    op.create_table(
        "pick_tasks",
        sa.Column("task_id", sa.String(length=100), nullable=False),
        sa.Column("wave_id", sa.String(length=80), nullable=False),
        sa.Column("warehouse", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("bin", sa.String(length=16), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("barcode", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("picked_qty", sa.Integer(), nullable=False),
        sa.Column("image_url", sa.String(length=500), nullable=True),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("qc_required", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("allocations", sa.JSON(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("picker", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("task_id"),
    )
    op.create_index("ix_pick_tasks_wave_seq", "pick_tasks", ["wave_id", "seq"], unique=False)
    op.create_index("ix_pick_tasks_warehouse_state", "pick_tasks", ["warehouse", "state"], unique=False)
    op.create_table(
        "warehouse_exceptions",
        sa.Column("exception_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("warehouse", sa.String(length=32), nullable=False),
        sa.Column("wave_id", sa.String(length=80), nullable=True),
        sa.Column("task_id", sa.String(length=100), nullable=True),
        sa.Column("bin", sa.String(length=16), nullable=True),
        sa.Column("sku", sa.String(length=64), nullable=True),
        sa.Column("picker", sa.String(length=64), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("order_ids", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("exception_id"),
    )
    op.create_index(
        "ix_warehouse_exceptions_state", "warehouse_exceptions", ["warehouse", "state", "created_at"], unique=False
    )
    op.create_table(
        "scan_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warehouse", sa.String(length=32), nullable=False),
        sa.Column("picker", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("barcode", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_scan_events_picker_at", "scan_events", ["picker", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_scan_events_picker_at", table_name="scan_events")
    op.drop_table("scan_events")
    op.drop_index("ix_warehouse_exceptions_state", table_name="warehouse_exceptions")
    op.drop_table("warehouse_exceptions")
    op.drop_index("ix_pick_tasks_warehouse_state", table_name="pick_tasks")
    op.drop_index("ix_pick_tasks_wave_seq", table_name="pick_tasks")
    op.drop_table("pick_tasks")
    op.drop_index("ix_waves_warehouse_state", table_name="waves")
    op.drop_table("waves")
    op.drop_table("stock_moves")
    op.drop_index("ix_warehouse_stock_sku", table_name="warehouse_stock")
    op.drop_table("warehouse_stock")
