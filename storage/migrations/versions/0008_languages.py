"""Texts in the customer's language: a run snapshots its question per language
(poll_run.question_translations, JSON; NULL when the poll has one question for everyone)

Revision ID: 0008
Revises: 0004
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('poll_run', sa.Column('question_translations', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('poll_run', schema=None) as batch_op:
        batch_op.drop_column('question_translations')
