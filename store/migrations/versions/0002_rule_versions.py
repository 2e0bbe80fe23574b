"""rule versions: immutable routing rule workbooks, one active

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 06:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rule_versions',
        sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('source_filename', sa.String(length=255), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('ruleset', sa.JSON(), nullable=False),
        sa.Column('workbook', sa.LargeBinary(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('version'),
    )
    with op.batch_alter_table('rule_versions', schema=None) as batch_op:
        batch_op.create_index(
            'ux_rule_versions_active', ['active'], unique=True,
            postgresql_where=sa.text('active'), sqlite_where=sa.text('active'),
        )


def downgrade() -> None:
    with op.batch_alter_table('rule_versions', schema=None) as batch_op:
        batch_op.drop_index('ux_rule_versions_active')
    op.drop_table('rule_versions')
