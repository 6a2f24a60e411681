"""/pause: customer.paused_until and the customers a run skipped while paused; honest names:
poll_run.rating (a flag: the run asks for a rating) becomes asks_rating

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain rename (SQLite 3.25+ and PostgreSQL): no table rebuild, so nothing else is disturbed.
    op.execute("ALTER TABLE poll_run RENAME COLUMN rating TO asks_rating")
    op.add_column('poll_run', sa.Column('paused_count', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('customer', sa.Column('paused_until', sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column('poll_run', 'paused_count', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('paused_until')
    with op.batch_alter_table('poll_run', schema=None) as batch_op:
        batch_op.drop_column('paused_count')
    op.execute("ALTER TABLE poll_run RENAME COLUMN asks_rating TO rating")
