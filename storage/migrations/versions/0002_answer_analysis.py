"""answer analysis: themes, terms and per-run tallies, kept fresh by triggers on answer

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

The triggers append a row to analysis_change for every insert, delete, and text/rating/edit
update of an answer, whoever writes it. A later migration that rebuilds the answer table (SQLite
batch mode copies it into a new table) must create them again: TRIGGERS_SQLITE / TRIGGERS_POSTGRESQL.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

TRIGGERS_SQLITE = (
    "CREATE TRIGGER answer_inserted_analysis AFTER INSERT ON answer "
    "BEGIN INSERT INTO analysis_change (run_id) VALUES (NEW.run_id); END",
    "CREATE TRIGGER answer_updated_analysis AFTER UPDATE OF text, rating, edited_at ON answer "
    "BEGIN INSERT INTO analysis_change (run_id) VALUES (NEW.run_id); END",
    "CREATE TRIGGER answer_deleted_analysis AFTER DELETE ON answer "
    "BEGIN INSERT INTO analysis_change (run_id) VALUES (OLD.run_id); END",
)
DROP_SQLITE = (
    "DROP TRIGGER IF EXISTS answer_inserted_analysis",
    "DROP TRIGGER IF EXISTS answer_updated_analysis",
    "DROP TRIGGER IF EXISTS answer_deleted_analysis",
)
TRIGGERS_POSTGRESQL = (
    """CREATE OR REPLACE FUNCTION feedbot_answer_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO analysis_change (run_id) VALUES (OLD.run_id);
        RETURN OLD;
    END IF;
    INSERT INTO analysis_change (run_id) VALUES (NEW.run_id);
    RETURN NEW;
END
$$""",
    "CREATE TRIGGER answer_changed_analysis AFTER INSERT OR DELETE OR UPDATE OF text, rating, edited_at ON answer "
    "FOR EACH ROW EXECUTE FUNCTION feedbot_answer_changed()",
)
DROP_POSTGRESQL = (
    "DROP TRIGGER IF EXISTS answer_changed_analysis ON answer",
    "DROP FUNCTION IF EXISTS feedbot_answer_changed()",
)


def upgrade() -> None:
    op.create_table('analysis_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('analysis_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analysis_change_run_id'), ['run_id'], unique=False)

    op.create_table('answer_analysis',
    sa.Column('answer_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('analysed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['answer_id'], ['answer.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['poll_run.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('answer_id')
    )
    with op.batch_alter_table('answer_analysis', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answer_analysis_run_id'), ['run_id'], unique=False)

    op.create_table('answer_theme',
    sa.Column('answer_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('theme', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['answer_id'], ['answer.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['poll_run.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('answer_id', 'theme')
    )
    with op.batch_alter_table('answer_theme', schema=None) as batch_op:
        batch_op.create_index('ix_answer_theme_run_theme', ['run_id', 'theme'], unique=False)

    op.create_table('answer_term',
    sa.Column('answer_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('term', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['answer_id'], ['answer.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['poll_run.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('answer_id', 'term')
    )
    with op.batch_alter_table('answer_term', schema=None) as batch_op:
        batch_op.create_index('ix_answer_term_run_term', ['run_id', 'term'], unique=False)

    op.create_table('run_analysis',
    sa.Column('run_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('analysed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['poll_run.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id')
    )
    op.create_table('run_theme_tally',
    sa.Column('run_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('theme', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('tone', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('answers', sa.Integer(), nullable=False),
    sa.Column('rated', sa.Integer(), nullable=False),
    sa.Column('rating_sum', sa.Integer(), nullable=False),
    sa.Column('promoters', sa.Integer(), nullable=False),
    sa.Column('detractors', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['poll_run.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'theme', 'tone')
    )
    op.create_table('run_theme_quote',
    sa.Column('run_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('theme', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('answer_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('rating', sa.Integer(), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['answer_id'], ['answer.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['poll_run.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'theme', 'answer_id')
    )
    for statement in TRIGGERS_POSTGRESQL if op.get_bind().dialect.name == 'postgresql' else TRIGGERS_SQLITE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_POSTGRESQL if op.get_bind().dialect.name == 'postgresql' else DROP_SQLITE:
        op.execute(statement)
    op.drop_table('run_theme_quote')
    op.drop_table('run_theme_tally')
    op.drop_table('run_analysis')
    with op.batch_alter_table('answer_term', schema=None) as batch_op:
        batch_op.drop_index('ix_answer_term_run_term')
    op.drop_table('answer_term')
    with op.batch_alter_table('answer_theme', schema=None) as batch_op:
        batch_op.drop_index('ix_answer_theme_run_theme')
    op.drop_table('answer_theme')
    with op.batch_alter_table('answer_analysis', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_analysis_run_id'))
    op.drop_table('answer_analysis')
    with op.batch_alter_table('analysis_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analysis_change_run_id'))
    op.drop_table('analysis_change')
