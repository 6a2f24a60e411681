"""One customer's conversation: the snapshot the engine decides on, and the answers it stores."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, exists, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables as t
from storage.customers import CustomerRecord, clean
from storage.models import DeliveryKind, DeliveryStatus, UTCDateTime
from storage.runs import ANONYMOUS, RUN_COLUMNS, RunRecord

d, a, r = t.delivery.c, t.answer.c, t.poll_run.c


def _digest(salt: str, value: str) -> str:
    return hashlib.sha256(f"{salt}:{value}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AwaitingRating:
    answer_id: int
    run: RunRecord


@dataclass(frozen=True, slots=True)
class ConversationSnapshot:
    """What the engine needs to decide on one customer message, read in the message's transaction."""

    customer: CustomerRecord | None
    awaiting_rating: AwaitingRating | None = None
    open_run: RunRecord | None = None  # the question waiting for this customer's answer
    source_answered: bool = False  # this very message is already stored as an answer
    targeted_run: RunRecord | None = None  # the run a targeted answer names, if asked and unanswered
    # The customer's answer to their latest question when it holds a rating but no words yet (they
    # replied with a bare number): their next words complete it.
    wordless_answer_id: int | None = None


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    id: int
    run_id: int
    customer_id: int
    user_id: str
    text: str
    rating: int | None
    late: bool
    answered_at: datetime
    edited_at: datetime | None


@dataclass(frozen=True, slots=True)
class OpenQuestionRecord:
    chat_id: str
    user_id: str | None
    message_id: str  # the question's platform message id


def asked(customer_id: int | ColumnElement[int]) -> ColumnElement[bool]:
    """Question rows that count as asked: sent, being sent, or released after a send of unknown outcome.

    A question whose send was claimed but never recorded (the process died) may have arrived: an
    answer to it must be taken, not refused.
    """
    return and_(
        d.customer_id == customer_id,
        d.kind == DeliveryKind.QUESTION,
        or_(
            d.status.in_((DeliveryStatus.SENT, DeliveryStatus.SENDING)),
            and_(d.status == DeliveryStatus.PENDING, d.outcome_unknown.is_(True)),
        ),
    )


_INSERT_ANSWER = t.prepared(
    lambda dialect: (
        (postgresql.insert if dialect == "postgresql" else sqlite.insert)(t.answer)
        .on_conflict_do_nothing()
        .returning(a.id)
    )
)
_SET_AWAITING = t.prepared(
    lambda _: (
        update(t.customer)
        .where(t.customer.c.id == bindparam("customer"))
        .values(awaiting_rating_answer_id=bindparam("awaiting"))
    )
)


def _settle_deliveries(_: str) -> Any:
    """An answer settles its run's deliveries to that customer, in one statement: the question counts
    as delivered (its send may still have been in flight), and a reminder not sent yet is dropped."""
    customer: Any = bindparam("customer")
    question_settled = and_(asked(customer), d.status != DeliveryStatus.SENT)
    reminder_dropped = and_(d.kind == DeliveryKind.REMINDER, d.status == DeliveryStatus.PENDING)
    return (
        update(t.delivery)
        .where(d.run_id == bindparam("run"), d.customer_id == customer, or_(question_settled, reminder_dropped))
        .values(
            status=case(
                (d.kind == DeliveryKind.QUESTION, DeliveryStatus.SENT.value), else_=DeliveryStatus.SKIPPED.value
            ),
            sent_at=case((d.kind == DeliveryKind.QUESTION, bindparam("now", type_=UTCDateTime())), else_=d.sent_at),
            claim_token=None,
            claimed_by=None,
            outcome_unknown=False,
            last_error=case(
                (d.kind == DeliveryKind.QUESTION, "answered while the send was in flight"),
                else_="customer answered",
            ),
        )
    )


_SETTLE_DELIVERIES = t.prepared(_settle_deliveries)
# The question row says the customer answered: an anonymous answer does not name them.
_MARK_ANSWERED = t.prepared(
    lambda _: (
        update(t.delivery)
        .where(d.run_id == bindparam("run"), d.customer_id == bindparam("customer"), d.kind == DeliveryKind.QUESTION)
        .values(answered=True)
    )
)


def _snapshot(dialect: str, targeted: bool) -> Any:
    """The customer, whether this message is stored already, the latest question asked of them, the
    run their pending rating belongs to, and (targeted) whether the named run was asked of them."""
    cust = t.customer.c
    latest_asked = select(d.run_id).where(asked(cust.id)).order_by(d.id.desc()).limit(1).correlate(t.customer)
    awaiting_run = select(a.run_id).where(a.id == cust.awaiting_rating_answer_id).correlate(t.customer)
    target_asked: Any = (
        exists().where(asked(cust.id), d.run_id == bindparam("target")).correlate(t.customer)
        if targeted
        else literal(False)
    )
    wordless = (
        select(a.id)
        .where(a.customer_id == cust.id, a.text == "", a.run_id == latest_asked.scalar_subquery())
        .limit(1)
        .correlate(t.customer)
    )
    stmt = select(
        t.customer,
        exists().where(a.source_message_id == bindparam("source")).label("source_answered"),
        latest_asked.scalar_subquery().label("open_run_id"),
        wordless.scalar_subquery().label("wordless_answer_id"),
        awaiting_run.scalar_subquery().label("awaiting_run_id"),
        target_asked.label("target_asked"),
    ).where(cust.platform == bindparam("platform"), cust.platform_user_id == bindparam("user_id"))
    # The customer's row is locked on PostgreSQL: one customer's messages handled by two processes at
    # once are decided one after the other.
    return stmt.with_for_update(of=t.customer) if dialect == "postgresql" else stmt


_SNAPSHOT = t.prepared(lambda dialect: _snapshot(dialect, targeted=False))
_RUNS_WITH_ANSWERS = t.prepared(
    lambda _: select(
        *RUN_COLUMNS,
        or_(
            exists().where(a.run_id == r.id, a.customer_id == bindparam("customer")),
            exists().where(
                d.run_id == r.id,
                d.customer_id == bindparam("customer"),
                d.kind == DeliveryKind.QUESTION,
                d.answered.is_(True),
            ),
        ).label("answered"),
    ).where(r.id.in_(bindparam("ids", expanding=True)))
)
_SNAPSHOT_TARGETED = t.prepared(lambda dialect: _snapshot(dialect, targeted=True))


class ConversationRepo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def snapshot(
        self, platform: str, user_id: str, source_message_id: str, target_run_id: int | None = None
    ) -> ConversationSnapshot:
        """Everything one message is decided on, in two queries (this runs for every message)."""
        stmt = _SNAPSHOT(self.conn) if target_run_id is None else _SNAPSHOT_TARGETED(self.conn)
        params: dict[str, object] = {"platform": platform, "user_id": user_id[:64], "source": source_message_id[:200]}
        if target_run_id is not None:
            params["target"] = target_run_id
        row = (await self.conn.execute(stmt, params)).first()
        if row is None:
            return ConversationSnapshot(customer=None)
        values = row._mapping
        customer = CustomerRecord(**{name: values[name] for name in CustomerRecord.__dataclass_fields__})
        wanted = {values["open_run_id"], values["awaiting_run_id"], target_run_id if values["target_asked"] else None}
        runs = await self._runs_with_answers(customer.id, {run_id for run_id in wanted if run_id is not None})

        def unanswered(run_id: int | None) -> RunRecord | None:
            found = runs.get(run_id) if run_id is not None else None
            return found[0] if found is not None and not found[1] else None

        awaiting = None
        if customer.awaiting_rating_answer_id is not None and values["awaiting_run_id"] in runs:
            awaiting = AwaitingRating(customer.awaiting_rating_answer_id, runs[values["awaiting_run_id"]][0])
        return ConversationSnapshot(
            customer=customer,
            awaiting_rating=awaiting,
            open_run=unanswered(values["open_run_id"]),
            source_answered=bool(values["source_answered"]),
            targeted_run=unanswered(target_run_id) if values["target_asked"] else None,
            wordless_answer_id=values["wordless_answer_id"],
        )

    async def _runs_with_answers(self, customer_id: int, run_ids: set[int]) -> dict[int, tuple[RunRecord, bool]]:
        """Run id -> (the run, whether this customer has answered it)."""
        if not run_ids:
            return {}
        rows = await self.conn.execute(_RUNS_WITH_ANSWERS(self.conn), {"ids": sorted(run_ids), "customer": customer_id})
        return {row.id: (RunRecord.from_row(row), bool(row.answered)) for row in rows}

    async def answered(self, run_id: int, customer_id: int) -> bool:
        stmt = select(a.id).where(a.run_id == run_id, a.customer_id == customer_id).limit(1)
        if (await self.conn.execute(stmt)).first() is not None:
            return True
        flagged = select(d.id).where(
            d.run_id == run_id, d.customer_id == customer_id, d.kind == DeliveryKind.QUESTION, d.answered.is_(True)
        )
        return (await self.conn.execute(flagged.limit(1))).first() is not None

    async def asked_unanswered_run(self, customer_id: int, run_id: int) -> RunRecord | None:
        """`run_id` if its question was asked of this customer and they have not answered it yet."""
        row = (
            await self.conn.execute(
                select(*RUN_COLUMNS)
                .select_from(t.delivery.join(t.poll_run, r.id == d.run_id))
                .where(asked(customer_id), d.run_id == run_id)
            )
        ).first()
        if row is None or await self.answered(run_id, customer_id):
            return None
        return RunRecord.from_row(row)

    async def record_answer(
        self,
        *,
        run_id: int,
        customer_id: int,
        text: str,
        source_message_id: str,
        answered_at: datetime,
        late: bool,
        await_rating: bool,
        rating: int | None,
        now: datetime,
        salt: str | None = None,
    ) -> int | None:
        """Store an answer once; None when this message (or an answer to this run) is stored already.

        The question counts as delivered from now on (its send may still have been in flight), and
        a reminder not sent yet is dropped: a customer who answered is never asked again.

        With `salt` (an anonymous run) the answer belongs to a pseudonym customer row keyed by a salted
        hash of the customer: a second answer finds the key taken and is refused. Its source id is
        hashed too, and its time kept to the hour, so nothing on the answer leads back to the customer.
        """
        owner, source = customer_id, source_message_id[:200]
        if salt is not None:
            pseudonym = await self._pseudonym(salt, customer_id, now)
            if pseudonym is None:
                return None
            owner, source = pseudonym, "anon:" + _digest(salt, source_message_id)
            answered_at = answered_at.replace(minute=0, second=0, microsecond=0)
        values = {
            "run_id": run_id,
            "customer_id": owner,
            "text": clean(text),
            "rating": rating,
            "late": late,
            "source_message_id": source,
            "answered_at": answered_at,
        }
        row = (await self.conn.execute(_INSERT_ANSWER(self.conn), values)).first()
        if row is None:
            return None
        answer_id = int(row[0])
        awaiting = answer_id if await_rating else None
        await self.conn.execute(_SET_AWAITING(self.conn), {"customer": customer_id, "awaiting": awaiting})
        await self.conn.execute(_SETTLE_DELIVERIES(self.conn), {"run": run_id, "customer": customer_id, "now": now})
        await self.conn.execute(_MARK_ANSWERED(self.conn), {"run": run_id, "customer": customer_id})
        return answer_id

    async def _pseudonym(self, salt: str, customer_id: int, now: datetime) -> int | None:
        """A new pseudonym row for this customer's answer to the run; None if they answered it already."""
        stmt = (
            t.insert_ignoring_conflicts(self.conn, t.customer)
            .values(
                platform=ANONYMOUS,
                platform_user_id=_digest(salt, str(customer_id)),
                chat_id="",
                display_name="",
                subscribed=False,
                reachable=False,
                created_at=now.replace(minute=0, second=0, microsecond=0),
                updated_at=now.replace(minute=0, second=0, microsecond=0),
            )
            .returning(t.customer.c.id)
        )
        row = (await self.conn.execute(stmt)).first()
        return None if row is None else int(row[0])

    async def edit_answer(self, source_message_id: str, text: str, now: datetime) -> bool:
        result = await self.conn.execute(
            update(t.answer)
            .where(a.source_message_id == source_message_id[:200])
            .values(text=clean(text), edited_at=now)
        )
        return bool(result.rowcount)

    async def add_words(self, answer_id: int, text: str, now: datetime) -> bool:
        """The words to an answer that so far held only a rating (see `wordless_answer_id`)."""
        result = await self.conn.execute(
            update(t.answer).where(a.id == answer_id, a.text == "").values(text=clean(text), edited_at=now)
        )
        return bool(result.rowcount)

    async def rate_answer(self, customer_id: int, run_id: int, rating: int) -> bool:
        """Set the rating on this customer's answer to `run_id`; clears the awaiting state.

        An anonymous answer names no customer: it is found through the customer's awaiting pointer.
        """
        awaiting = select(t.customer.c.awaiting_rating_answer_id).where(t.customer.c.id == customer_id)
        result = await self.conn.execute(
            update(t.answer)
            .where(a.run_id == run_id, or_(a.customer_id == customer_id, a.id == awaiting.scalar_subquery()))
            .values(rating=rating)
        )
        await self.conn.execute(
            update(t.customer).where(t.customer.c.id == customer_id).values(awaiting_rating_answer_id=None)
        )
        return bool(result.rowcount)

    async def answers_after(self, after_id: int = 0, limit: int = 500) -> list[AnswerRecord]:
        """Answers in id order after `after_id` (keyset pagination: memory stays flat)."""
        stmt = (
            select(
                a.id,
                a.run_id,
                a.customer_id,
                t.customer.c.platform_user_id,
                a.text,
                a.rating,
                a.late,
                a.answered_at,
                a.edited_at,
            )
            .join(t.customer, t.customer.c.id == a.customer_id)
            .where(a.id > after_id)
            .order_by(a.id)
            .limit(limit)
        )
        return [AnswerRecord(*row) for row in await self.conn.execute(stmt)]

    async def open_questions(self, platform: str, now: datetime) -> list[OpenQuestionRecord]:
        """Questions sent on `platform` in runs still open that their customer has not answered yet,
        with the platform message id of the question (where a platform's history is read from)."""
        answered = exists().where(a.run_id == d.run_id, a.customer_id == d.customer_id)
        rows = await self.conn.execute(
            select(d.chat_id, d.user_id, d.platform_message_id)
            .select_from(t.delivery.join(t.poll_run, r.id == d.run_id))
            .where(
                d.platform == platform,
                d.kind == DeliveryKind.QUESTION,
                d.status == DeliveryStatus.SENT,
                d.platform_message_id.is_not(None),
                r.closes_at > now,
                ~answered,
            )
            .order_by(d.id)
        )
        return [OpenQuestionRecord(row.chat_id, row.user_id, row.platform_message_id) for row in rows]
