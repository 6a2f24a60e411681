"""Scale-out: send_pace (one row per platform, the send pace every process shares) and the claim order index

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'send_pace',
        sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('next_slot_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('platform'),
    )
    op.create_index('ix_delivery_claim_order', 'delivery', ['status', 'platform', 'priority', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_delivery_claim_order', table_name='delivery')
    op.drop_table('send_pace')
