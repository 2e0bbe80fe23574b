"""aftersales: cases (projected by AftersalesWorkflow) and refunds

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 10:00:00

Written by hand (not importing store.aftersales) so the migration stays what it was when later
schema edits land; keep it in step with the tables in store/aftersales.py.
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aftersales_cases",
        sa.Column("case_id", sa.String(length=140), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("refund_amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("replacement_order_id", sa.String(length=100), nullable=True),
        sa.Column("return_waybill_no", sa.String(length=64), nullable=True),
        sa.Column("return_carrier", sa.String(length=32), nullable=True),
        sa.Column("qc_passed", sa.Boolean(), nullable=True),
        sa.Column("qc_inspector", sa.String(length=64), nullable=True),
        sa.Column("qc_note", sa.Text(), nullable=True),
        sa.Column("timeline", sa.JSON(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index("ix_aftersales_cases_status_updated", "aftersales_cases", ["status", "updated_at"], unique=False)
    op.create_index("ix_aftersales_cases_order", "aftersales_cases", ["order_id"], unique=False)
    op.create_table(
        "refunds",
        sa.Column("case_id", sa.String(length=140), nullable=False),
        sa.Column("refund_no", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index("ix_refunds_day", "refunds", ["day", "order_id"], unique=False)
    op.create_index("ix_refunds_order", "refunds", ["order_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_refunds_order", table_name="refunds")
    op.drop_index("ix_refunds_day", table_name="refunds")
    op.drop_table("refunds")
    op.drop_index("ix_aftersales_cases_order", table_name="aftersales_cases")
    op.drop_index("ix_aftersales_cases_status_updated", table_name="aftersales_cases")
    op.drop_table("aftersales_cases")
