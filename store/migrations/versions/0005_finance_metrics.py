"""finance and metrics: order money at completion, settlement snapshots, reconciliation runs,
status enquiries, timeline sync time, period indexes on orders

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 14:00:00

Written by hand (not importing store.schema); keep it in step with the "finance and metrics" block
at the end of store/schema.py.

``timeline_events.recorded_at`` is filled by the database itself (server default) when the
projection inserts an event, so the sync delay (recorded_at − at) is measured without touching the
projection code. Rows that existed before this migration keep NULL: their delay is unknown, and
they are left out of the sync ratio rather than counted as late.
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_finance",
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),  # Beijing date of completion
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("goods_fen", sa.BigInteger(), nullable=False),
        sa.Column("coupon_code", sa.String(length=64), nullable=True),
        sa.Column("coupon_fen", sa.BigInteger(), nullable=False),
        sa.Column("freight_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_index("ix_order_finance_day", "order_finance", ["day", "order_id"], unique=False)
    op.create_table(
        "finance_statements",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),  # channel:<name> | erp
        sa.Column("ref", sa.String(length=160), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", "source", "ref"),
    )
    op.create_table(
        "reconciliation_runs",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("differences", sa.JSON(), nullable=False),
        sa.Column("workbook", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "status_enquiries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_status_enquiries_order", "status_enquiries", ["order_id"], unique=False)
    op.create_index("ix_status_enquiries_at", "status_enquiries", ["at"], unique=False)

    # periods over all channels, and per warehouse
    op.create_index("ix_orders_ordered", "orders", ["ordered_at"], unique=False)
    op.create_index("ix_orders_warehouse_ordered", "orders", ["warehouse", "ordered_at"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.add_column("timeline_events", sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True))
        op.alter_column("timeline_events", "recorded_at", server_default=sa.text("clock_timestamp()"))
    else:
        # SQLite cannot ADD COLUMN with a non-constant default: batch mode rebuilds the table
        with op.batch_alter_table("timeline_events") as batch_op:
            batch_op.add_column(
                sa.Column(
                    "recorded_at", sa.DateTime(timezone=True), nullable=True,
                    server_default=sa.text("(strftime('%Y-%m-%d %H:%M:%f', 'now'))"),
                )
            )
        op.execute("UPDATE timeline_events SET recorded_at = NULL")


def downgrade() -> None:
    with op.batch_alter_table("timeline_events") as batch_op:
        batch_op.drop_column("recorded_at")
    op.drop_index("ix_orders_warehouse_ordered", table_name="orders")
    op.drop_index("ix_orders_ordered", table_name="orders")
    op.drop_index("ix_status_enquiries_at", table_name="status_enquiries")
    op.drop_index("ix_status_enquiries_order", table_name="status_enquiries")
    op.drop_table("status_enquiries")
    op.drop_table("reconciliation_runs")
    op.drop_table("finance_statements")
    op.drop_index("ix_order_finance_day", table_name="order_finance")
    op.drop_table("order_finance")
