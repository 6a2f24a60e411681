"""unit of work: a general outbox (replies, digests), fenced claims, worker heartbeats, dead letters

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Integer(), nullable=False, server_default='2'))
        batch_op.add_column(sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('chat_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('body', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('image', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('reply_handle', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('claim_token', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('outcome_unknown', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.alter_column('run_id', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('customer_id', existing_type=sa.Integer(), nullable=True)

    # Existing question and reminder rows take their customer's address.
    op.execute(
        "UPDATE delivery SET platform = (SELECT platform FROM customer WHERE customer.id = delivery.customer_id), "
        "chat_id = (SELECT chat_id FROM customer WHERE customer.id = delivery.customer_id), "
        "user_id = (SELECT platform_user_id FROM customer WHERE customer.id = delivery.customer_id)"
    )
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.alter_column('platform', existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False)
        batch_op.alter_column('chat_id', existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False)
        batch_op.alter_column('priority', existing_type=sa.Integer(), server_default=None)
        batch_op.alter_column('outcome_unknown', existing_type=sa.Boolean(), server_default=None)
        batch_op.create_index('ix_delivery_chat_status', ['platform', 'chat_id', 'status'], unique=False)

    op.create_table('dead_letter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('chat_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('inbound', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('first_failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'chat_id', 'message_id', 'kind', name='uq_dead_letter')
    )
    op.create_table('worker',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('host', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('worker', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_worker_heartbeat_at'), ['heartbeat_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('worker', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_worker_heartbeat_at'))
    op.drop_table('worker')
    op.drop_table('dead_letter')
    op.execute("DELETE FROM delivery WHERE kind NOT IN ('question', 'reminder')")
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_chat_status')
        batch_op.alter_column('customer_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('run_id', existing_type=sa.Integer(), nullable=False)
        for column in ('outcome_unknown', 'claim_token', 'claimed_by', 'reply_handle', 'image', 'body',
                       'user_id', 'chat_id', 'platform', 'priority'):
            batch_op.drop_column(column)
