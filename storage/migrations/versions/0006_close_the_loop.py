"""Close the loop (staff answer problem answers, customers follow up) and anti-fatigue counts:
tables answer_followup and staff_alert, customer.followup_answer_id / followup_until, and
poll_run.recent_count (customers skipped because they were asked recently); anonymous polls:
poll_run.anonymous and poll_run.salt, delivery.answered

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-29

Only new tables and added columns: the answer table (and its analysis triggers from 0002) is not rebuilt.
An anonymous answer's customer_id names a pseudonym customer row (platform 'anonymous'), never the
customer, so answer.customer_id keeps its NOT NULL and its foreign key.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel



revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('answer_followup',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('answer_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('author', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('staff_user', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['answer_id'], ['answer.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_answer_followup_answer_id', 'answer_followup', ['answer_id'], unique=False)
    op.create_index('ix_answer_followup_customer_id', 'answer_followup', ['customer_id'], unique=False)
    op.create_table('staff_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('answer_id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['answer_id'], ['answer.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['delivery_id'], ['delivery.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('delivery_id')
    )
    op.create_index('ix_staff_alert_answer_id', 'staff_alert', ['answer_id'], unique=False)
    op.add_column('customer', sa.Column('followup_answer_id', sa.Integer(), nullable=True))
    op.add_column('customer', sa.Column('followup_until', sa.DateTime(timezone=True), nullable=True))
    op.add_column('poll_run', sa.Column('recent_count', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('poll_run', sa.Column('anonymous', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('poll_run', sa.Column('salt', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.add_column('delivery', sa.Column('answered', sa.Boolean(), nullable=False, server_default=sa.false()))
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column('poll_run', 'recent_count', server_default=None)
        op.alter_column('poll_run', 'anonymous', server_default=None)
        op.alter_column('delivery', 'answered', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_column('answered')
    with op.batch_alter_table('poll_run', schema=None) as batch_op:
        batch_op.drop_column('salt')
        batch_op.drop_column('anonymous')
        batch_op.drop_column('recent_count')
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('followup_until')
        batch_op.drop_column('followup_answer_id')
    op.drop_index('ix_staff_alert_answer_id', table_name='staff_alert')
    op.drop_table('staff_alert')
    op.drop_index('ix_answer_followup_customer_id', table_name='answer_followup')
    op.drop_index('ix_answer_followup_answer_id', table_name='answer_followup')
    op.drop_table('answer_followup')
