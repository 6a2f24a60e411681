"""Table models, and nothing else. Every datetime column is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, DateTime, Dialect, ForeignKey, Index, Integer, LargeBinary, Text, UniqueConstraint
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
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


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
    # /pause: no questions until then (/start resumes early).
    paused_until: datetime | None = Field(default=None, sa_column=_utc(True))
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
    question: str = Field(sa_column=Column(Text, nullable=False))  # in the default language
    # The question by language, as JSON ({"de": "..."}), when the poll gives it per language; else NULL.
    question_translations: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    asks_rating: bool = Field(default=True)
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
    # Customers the run would have asked but who had paused their questions (/pause) at fan-out.
    paused_count: int = Field(default=0)


class DeliveryKind(StrEnum):
    QUESTION = "question"  # a run's question to one customer (rendered from the run at send time)
    REMINDER = "reminder"  # the run's one reminder to a customer who has not answered
    REPLY = "reply"  # the engine's answer to an inbound message (rendered when queued)
    DIGEST = "digest"  # a scheduled digest posted to a team chat


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for `next_attempt_at`
    SENDING = "sending"  # claimed by a worker (`claimed_by`, fenced by `claim_token`)
    SENT = "sent"
    FAILED = "failed"  # given up: the reason is in `last_error`
    SKIPPED = "skipped"  # no longer wanted (customer stopped, answered already)


# Replies go before digests, digests before poll questions: a waiting customer is answered first.
PRIORITY = {DeliveryKind.REPLY: 0, DeliveryKind.DIGEST: 1, DeliveryKind.QUESTION: 2, DeliveryKind.REMINDER: 2}


class Delivery(SQLModel, table=True):
    """The durable outbox: everything feedbot sends is a row here first, committed with its cause.

    Question rows are unique per run and customer (reminders too): fan-out, resumes and second
    processes can never queue one twice. Replies and digests carry their rendered message in `body`
    (JSON) and `image`. A worker claims a row by setting `status = sending`, `claimed_by` and a fresh
    `claim_token`; every write-back checks the token, so a claim released from a worker that went
    silent can never be recorded twice.
    """

    __table_args__ = (
        UniqueConstraint("run_id", "customer_id", "kind", name="uq_delivery_run_customer_kind"),
        Index("ix_delivery_status_next", "status", "next_attempt_at"),
        Index("ix_delivery_chat_status", "platform", "chat_id", "status"),
        # A claim walks the due rows in its order and stops at its limit (storage.outbox.claim).
        Index("ix_delivery_claim_order", "status", "platform", "priority", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default=DeliveryKind.QUESTION, max_length=16)
    status: str = Field(default=DeliveryStatus.PENDING, max_length=16)
    priority: int = Field(default=2)
    # Where it goes. Question rows copy the customer's address when they are queued.
    platform: str = Field(max_length=32)
    chat_id: str = Field(max_length=64)
    user_id: str | None = Field(default=None, max_length=64)
    run_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("poll_run.id", ondelete="CASCADE"), nullable=True)
    )
    customer_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=True, index=True),
    )
    body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    image: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    # An adapter's short-lived handle for answering in place (a Discord interaction token); cleared once sent.
    reply_handle: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    attempts: int = Field(default=0)
    # A message sent in several parts (a long text): how many leading parts arrived, so a retry sends the rest.
    parts_sent: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=512)
    platform_message_id: str | None = Field(default=None, max_length=64)
    claimed_by: str | None = Field(default=None, max_length=64)
    claim_token: str | None = Field(default=None, max_length=32)
    # A claim released from a worker that died mid-send: the message may have arrived.
    outcome_unknown: bool = Field(default=False)
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
    """Platform updates already handled: the dedupe claim of the unit of work.

    Inserted (ON CONFLICT DO NOTHING) in the same transaction as the update's effects and replies: a
    row here means the update was handled completely, and a redelivery finds it and stops.
    """

    __tablename__ = "inbound_seen"
    __table_args__ = (UniqueConstraint("platform", "chat_id", "message_id", "kind", name="uq_inbound_seen"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    chat_id: str = Field(max_length=64)
    message_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class DeadLetterStatus(StrEnum):
    RETRYING = "retrying"  # failed before; the platform delivers it again
    DEAD = "dead"  # failed too often: set aside and acknowledged; `feedbot deadletters --retry ID` replays it
    REPLAYED = "replayed"


class DeadLetter(SQLModel, table=True):
    """An inbound update whose handling failed with an unexpected error (a bug), with its attempts."""

    __tablename__ = "dead_letter"
    __table_args__ = (UniqueConstraint("platform", "chat_id", "message_id", "kind", name="uq_dead_letter"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    chat_id: str = Field(max_length=64)
    message_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    user_id: str = Field(max_length=64)
    inbound: str = Field(sa_column=Column(Text, nullable=False))  # the Inbound as JSON, to replay it
    error: str = Field(sa_column=Column(Text, nullable=False))
    attempts: int = Field(default=1)
    status: str = Field(default=DeadLetterStatus.RETRYING, max_length=16)
    first_failed_at: datetime = Field(sa_column=_utc())
    last_failed_at: datetime = Field(sa_column=_utc())


class Worker(SQLModel, table=True):
    """A running delivery worker and its heartbeat; claims of a worker silent too long are released."""

    id: str = Field(primary_key=True, max_length=64)
    host: str = Field(max_length=255)
    pid: int
    started_at: datetime = Field(sa_column=_utc())
    heartbeat_at: datetime = Field(sa_column=_utc(index=True))


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


class PlatformChat(SQLModel, table=True):
    """What an adapter must remember about a shared or staff chat across restarts: the id it moved to
    (a Telegram group upgraded to a supergroup) and the command menu set for it (to delete it later)."""

    __tablename__ = "platform_chat"

    platform: str = Field(max_length=32, primary_key=True)
    chat_id: str = Field(max_length=64, primary_key=True)
    moved_to: str | None = Field(default=None, max_length=64)
    menu: str | None = Field(default=None, max_length=512)
    updated_at: datetime = Field(sa_column=_utc())


# ------------------------------------------------------------------------------------ answer analysis
# Derived from answers by bot.reporting.analyser; everything here can be deleted and rebuilt. Rows of an
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


class SendPace(SQLModel, table=True):
    """One platform's send pace shared by every process (PostgreSQL): the moment the next send slot
    starts. Processes reserve slots by moving it forward atomically (storage.pace)."""

    __tablename__ = "send_pace"

    platform: str = Field(primary_key=True, max_length=32)
    next_slot_at: datetime = Field(sa_column=_utc())
