"""Table models, and nothing else. Every datetime column is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Dialect, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on every backend (SQLite hands back naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; feedbot stores aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc(nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Customer(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("platform", "platform_user_id", name="uq_customer_platform_user"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    platform_user_id: str = Field(max_length=64)
    chat_id: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=256)
    language: str | None = Field(default=None, max_length=16)
    subscribed: bool = Field(default=True)
    reachable: bool = Field(default=True)
    unreachable_reason: str | None = Field(default=None, max_length=512)
    # Conversation state: the answer waiting for a rating, and a pending /forget confirmation.
    awaiting_rating_answer_id: int | None = Field(default=None)
    forget_requested_at: datetime | None = Field(default=None, sa_column=_utc(True))
    created_at: datetime = Field(sa_column=_utc())
    updated_at: datetime = Field(sa_column=_utc())


class CustomerTag(SQLModel, table=True):
    __tablename__ = "customer_tag"
    __table_args__ = (UniqueConstraint("customer_id", "tag", name="uq_customer_tag"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(sa_column=Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False))
    tag: str = Field(max_length=64, index=True)
    created_at: datetime = Field(sa_column=_utc())


class PollRun(SQLModel, table=True):
    """One sending of a poll. Scheduled runs are unique on (poll, scheduled time)."""

    __tablename__ = "poll_run"
    __table_args__ = (UniqueConstraint("poll_id", "scheduled_for", name="uq_run_poll_scheduled"),)

    id: int | None = Field(default=None, primary_key=True)
    poll_id: str = Field(max_length=64, index=True)
    question: str = Field(sa_column=Column(Text, nullable=False))
    rating: bool = Field(default=True)
    scale: int = Field(default=5)
    tag: str | None = Field(default=None, max_length=64)
    triggered_by: str = Field(max_length=128)
    scheduled_for: datetime | None = Field(default=None, sa_column=_utc(True))
    created_at: datetime = Field(sa_column=_utc(index=True))  # digests select runs by creation time
    remind_at: datetime | None = Field(default=None, sa_column=_utc(True))
    closes_at: datetime = Field(sa_column=_utc())
    # True once every delivery row for the run has been written (a crash before that resumes the fan-out).
    fanned_out: bool = Field(default=False)
    reminders_queued: bool = Field(default=False)


class Delivery(SQLModel, table=True):
    """The durable outbox: one question row per run and customer, and at most one reminder row.

    `kind` is 'question' or 'reminder'; counts of people asked and delivered use the question rows.
    """

    __table_args__ = (
        UniqueConstraint("run_id", "customer_id", "kind", name="uq_delivery_run_customer_kind"),
        Index("ix_delivery_status_next", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(sa_column=Column(Integer, ForeignKey("poll_run.id", ondelete="CASCADE"), nullable=False))
    customer_id: int = Field(
        sa_column=Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    kind: str = Field(default="question", max_length=16)
    status: str = Field(default="pending", max_length=16)  # pending | sending | sent | failed | skipped
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=512)
    platform_message_id: str | None = Field(default=None, max_length=64)
    next_attempt_at: datetime = Field(sa_column=_utc())
    created_at: datetime = Field(sa_column=_utc())
    sent_at: datetime | None = Field(default=None, sa_column=_utc(True))
    # On a question row: when its reminder went out (at most one per customer and run).
    reminded_at: datetime | None = Field(default=None, sa_column=_utc(True))


class Answer(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("run_id", "customer_id", name="uq_answer_run_customer"),
        UniqueConstraint("source_message_id", name="uq_answer_source_message"),
        Index("ix_answer_answered_at", "answered_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(sa_column=Column(Integer, ForeignKey("poll_run.id", ondelete="CASCADE"), nullable=False))
    customer_id: int = Field(
        sa_column=Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    text: str = Field(sa_column=Column(Text, nullable=False))
    rating: int | None = Field(default=None)
    late: bool = Field(default=False)
    # "platform:chat_id:message_id": a re-delivered update can never be stored twice.
    source_message_id: str = Field(max_length=200)
    answered_at: datetime = Field(sa_column=_utc())
    edited_at: datetime | None = Field(default=None, sa_column=_utc(True))


class InboundSeen(SQLModel, table=True):
    """Platform updates already handled, so a re-delivered update gets no second reply.

    Written after the update's effects are committed; the effects themselves are idempotent through
    their own unique keys, so a crash between the two only means the update is handled again.
    """

    __tablename__ = "inbound_seen"
    __table_args__ = (UniqueConstraint("platform", "chat_id", "message_id", "kind", name="uq_inbound_seen"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    chat_id: str = Field(max_length=64)
    message_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class DigestPost(SQLModel, table=True):
    """A scheduled digest posted (or being posted) to one chat; unique so it is posted once per period."""

    __tablename__ = "digest_post"
    __table_args__ = (UniqueConstraint("platform", "chat_id", "period", "period_start", name="uq_digest_post"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    chat_id: str = Field(max_length=64)
    period: str = Field(max_length=8)
    period_start: datetime = Field(sa_column=_utc())
    posted_at: datetime = Field(sa_column=_utc())


# ------------------------------------------------------------------------------------ answer analysis
# Derived from answers by bot.analyser; everything here can be deleted and rebuilt. Rows of an
# answer go with it (ON DELETE CASCADE), so /forget erases what was derived from the text too.


class AnalysisChange(SQLModel, table=True):
    """A queue written by database triggers on `answer` (insert, delete, text/rating/edit update).

    Each row says "this run's answers changed": the analyser re-reads that run and deletes the rows
    it saw. Triggers, not the repository, write it, so no write path can forget to. No foreign key:
    a run deleted with its answers still leaves its (harmless, later discarded) change rows.
    """

    __tablename__ = "analysis_change"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(index=True)


class AnswerAnalysis(SQLModel, table=True):
    """One row per analysed answer: under which configuration, and which edit of the text."""

    __tablename__ = "answer_analysis"

    answer_id: int = Field(
        sa_column=Column(Integer, ForeignKey("answer.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    )
    run_id: int = Field(
        sa_column=Column(Integer, ForeignKey("poll_run.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    fingerprint: str = Field(max_length=32)  # of languages + themes + analyser version
    edited_at: datetime | None = Field(default=None, sa_column=_utc(True))  # the answer's edited_at analysed
    analysed_at: datetime = Field(sa_column=_utc())


class AnswerTheme(SQLModel, table=True):
    """A configured theme an answer mentions."""

    __tablename__ = "answer_theme"
    __table_args__ = (Index("ix_answer_theme_run_theme", "run_id", "theme"),)

    answer_id: int = Field(
        sa_column=Column(Integer, ForeignKey("answer.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    )
    theme: str = Field(max_length=100, primary_key=True)
    run_id: int = Field(sa_column=Column(Integer, ForeignKey("poll_run.id", ondelete="CASCADE"), nullable=False))


class AnswerTerm(SQLModel, table=True):
    """A word or two-word phrase (lemmatised) of an answer that matched no theme."""

    __tablename__ = "answer_term"
    __table_args__ = (Index("ix_answer_term_run_term", "run_id", "term"),)

    answer_id: int = Field(
        sa_column=Column(Integer, ForeignKey("answer.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    )
    term: str = Field(max_length=100, primary_key=True)
    run_id: int = Field(sa_column=Column(Integer, ForeignKey("poll_run.id", ondelete="CASCADE"), nullable=False))


class RunAnalysis(SQLModel, table=True):
    """A run whose tallies are up to date for `fingerprint` (as of its last change row)."""

    __tablename__ = "run_analysis"

    run_id: int = Field(
        sa_column=Column(Integer, ForeignKey("poll_run.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    )
    fingerprint: str = Field(max_length=32)
    analysed_at: datetime = Field(sa_column=_utc())


class RunThemeTally(SQLModel, table=True):
    """Answer counts of one run by theme and tone, so a digest sums a few rows per run.

    `theme` is a configured theme's name, '' for analysed answers that matched none, or '*' for
    all the run's answers. Ratings are summed raw; the run's scale says how to read them.
    """

    __tablename__ = "run_theme_tally"

    run_id: int = Field(
        sa_column=Column(Integer, ForeignKey("poll_run.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    )
    theme: str = Field(max_length=100, primary_key=True)
    tone: str = Field(max_length=8, primary_key=True)
    answers: int
    rated: int
    rating_sum: int
    promoters: int  # rated 9-10 (meaningful on 0-10 runs)
    detractors: int  # rated 0-6 (meaningful on 0-10 runs)


class RunThemeQuote(SQLModel, table=True):
    """The lowest-rated problem answers of one run for each theme ('' = no theme): quote candidates."""

    __tablename__ = "run_theme_quote"

    run_id: int = Field(
        sa_column=Column(Integer, ForeignKey("poll_run.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    )
    theme: str = Field(max_length=100, primary_key=True)
    answer_id: int = Field(
        sa_column=Column(Integer, ForeignKey("answer.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    )
    rating: int
    answered_at: datetime = Field(sa_column=_utc())
