"""channels: channel accounts, webhook attempts, OAuth2 clients and tokens; ERP document number on orders

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 10:00:00

Written by hand (not importing store.schema) so the migration stays what it was when later schema
edits land; keep it in step with the "channels" block of store/schema.py.
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_accounts",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("base_url", sa.String(length=300), nullable=False),
        sa.Column("app_key", sa.String(length=128), nullable=False),
        sa.Column("app_secret", sa.String(length=256), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("body_bytes", sa.Integer(), nullable=False),
        sa.Column("order_ids", sa.JSON(), nullable=False),
        sa.Column("remote", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_attempts_received", "webhook_attempts", ["received_at"], unique=False)
    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("token_ttl_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id"),
    )
    op.create_table(
        "oauth_tokens",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    op.create_index("ix_oauth_tokens_expires", "oauth_tokens", ["expires_at"], unique=False)
    op.add_column("orders", sa.Column("erp_doc_no", sa.String(length=40), nullable=True))
    op.add_column("orders", sa.Column("erp_pushed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("erp_pushed_at")
        batch.drop_column("erp_doc_no")
    op.drop_index("ix_oauth_tokens_expires", table_name="oauth_tokens")
    op.drop_table("oauth_tokens")
    op.drop_table("oauth_clients")
    op.drop_index("ix_webhook_attempts_received", table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_table("channel_accounts")
