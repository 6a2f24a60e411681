"""platform_chat: what an adapter remembers about a chat across restarts (a group's new id after a
migration, the command menu set for it); delivery.parts_sent (a message sent in parts: how many arrived)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel



revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'platform_chat',
        sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('chat_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('moved_to', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('menu', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('platform', 'chat_id'),
    )
    op.add_column('delivery', sa.Column('parts_sent', sa.Integer(), nullable=False, server_default='0'))
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column('delivery', 'parts_sent', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_column('parts_sent')
    op.drop_table('platform_chat')
