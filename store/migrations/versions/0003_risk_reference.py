"""risk reference data: blacklist, SKU floor prices and fitment, coupon ledger; burst index on orders

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:00:00

Written by hand (not importing store.schema) so the migration stays what it was when later schema
edits land; keep it in step with the "risk reference data" block of store/schema.py.
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blacklist",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "value"),
    )
    op.create_table(
        "sku_reference",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("floor_price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("fitment", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("sku"),
    )
    op.create_table(
        "coupon_redemptions",
        sa.Column("coupon_code", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("coupon_code", "order_id"),
    )
    # the 30-minute burst count: one customer, one address, a time range — never a scan of orders
    op.create_index(
        "ix_orders_customer_address_ordered", "orders", ["customer_id", "address_text", "ordered_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_orders_customer_address_ordered", table_name="orders")
    op.drop_table("coupon_redemptions")
    op.drop_table("sku_reference")
    op.drop_table("blacklist")
