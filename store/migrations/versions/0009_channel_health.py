"""channel health, channel delivery versions, processed push message ids

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 10:00:00

Written by hand (not importing store.schema) so the migration stays what it was when later schema
edits land; keep it in step with the "channel health" block at the end of store/schema.py.
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_health",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("state_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("workflow_id", sa.String(length=140), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("interval_seconds", sa.Float(), nullable=True),
        sa.Column("stall_after_seconds", sa.Float(), nullable=True),
        sa.Column("last_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("consecutive_errors", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.DateTime(timezone=True), nullable=True),
        sa.Column("backlog_trades", sa.Integer(), nullable=False),
        sa.Column("imported_day", sa.String(length=10), nullable=True),
        sa.Column("imported_today", sa.Integer(), nullable=False),
        sa.Column("pushes", sa.BigInteger(), nullable=False),
        sa.Column("typical_gap_seconds", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "channel_versions",
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("channel_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=True),
        sa.Column("content_sha256", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_table(
        "webhook_messages",
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("msg_id", sa.String(length=100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("replays", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "msg_id"),
    )
    op.create_index("ix_webhook_messages_received", "webhook_messages", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_messages_received", table_name="webhook_messages")
    op.drop_table("webhook_messages")
    op.drop_table("channel_versions")
    op.drop_table("channel_health")
