"""The only place that opens database sessions. Methods are named for what the caller intends.

Each method is one short transaction. Unique keys make every write safe to repeat: a re-delivered
update, a restarted worker or a second process changes nothing twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import SessionScope
from storage.models import Answer, Customer, CustomerTag, Delivery, DigestPost, InboundSeen, PollRun, UTCDateTime

SENDING_LEASE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class RunCounts:
    asked: int
    pending: int
    sent: int
    failed: int
    answered: int
    rated: int
    reminded: int
    late: int


@dataclass(frozen=True, slots=True)
class DueDelivery:
    delivery_id: int
    run_id: int
    attempts: int
    customer_id: int
    platform: str
    chat_id: str
    user_id: str
    question: str
    poll_id: str
    rating: bool = True
    scale: int = 5
    reminder: bool = False


@dataclass(frozen=True, slots=True)
class ConversationState:
    """What the engine needs to read one customer message, fetched in one transaction."""

    customer: Customer | None
    awaiting_rating: tuple[Answer, PollRun] | None = None
    open_run: PollRun | None = None
    source_answered: bool = False  # this very message is already stored as an answer


@dataclass(frozen=True, slots=True)
class ExportRow:
    answer_id: int
    poll: str
    run: int
    platform: str
    user: str
    display_name: str
    answer: str
    rating: int | None
    late: bool
    answered_at: datetime


def _clean(text: str) -> str:
    """PostgreSQL text cannot hold NUL; strip it everywhere so both backends store the same."""
    return text.replace("\x00", "")


class Repository(SessionScope):
    # ------------------------------------------------------------------ inbound de-duplication
    async def was_handled(self, platform: str, chat_id: str, message_id: str, kind: str) -> bool:
        async with self._tx() as s:
            row = await s.exec(
                select(InboundSeen.id).where(
                    InboundSeen.platform == platform,
                    InboundSeen.chat_id == chat_id,
                    InboundSeen.message_id == message_id,
                    InboundSeen.kind == kind,
                )
            )
            return row.first() is not None

    async def mark_handled(self, platform: str, chat_id: str, message_id: str, kind: str, now: datetime) -> None:
        try:
            async with self._tx() as s:
                s.add(
                    InboundSeen(
                        platform=platform, chat_id=chat_id[:64], message_id=message_id[:64], kind=kind, seen_at=now
                    )
                )
        except IntegrityError:
            pass  # handled concurrently: the first writer wins, nothing more to record

    async def prune_handled(self, before: datetime) -> int:
        """Platforms re-deliver for about a day (Telegram keeps updates 24 h); older marks can go."""
        async with self._tx() as s:
            result = await s.exec(delete(InboundSeen).where(InboundSeen.seen_at < before))
            return int(result.rowcount or 0)

    # ------------------------------------------------------------------ customers
    async def find_customer(self, platform: str, user_id: str) -> Customer | None:
        async with self._tx() as s:
            return (
                await s.exec(
                    select(Customer).where(Customer.platform == platform, Customer.platform_user_id == user_id)
                )
            ).scalar_one_or_none()

    async def subscribe(
        self,
        *,
        platform: str,
        user_id: str,
        chat_id: str,
        display_name: str,
        language: str | None,
        tag: str | None,
        now: datetime,
    ) -> tuple[Customer, bool]:
        """Create or re-subscribe a customer. Returns (customer, newly_created)."""
        for _ in range(2):  # a concurrent insert of the same customer is retried once as an update
            try:
                async with self._tx() as s:
                    row = (
                        await s.exec(
                            select(Customer).where(Customer.platform == platform, Customer.platform_user_id == user_id)
                        )
                    ).scalar_one_or_none()
                    created = row is None
                    if row is None:
                        row = Customer(
                            platform=platform,
                            platform_user_id=user_id,
                            chat_id=chat_id,
                            created_at=now,
                            updated_at=now,
                        )
                    row.chat_id = chat_id
                    row.display_name = _clean(display_name)[:256]
                    row.language = language
                    row.subscribed = True
                    row.reachable = True
                    row.unreachable_reason = None
                    row.updated_at = now
                    s.add(row)
                    await s.flush()
                    if tag:
                        has = await s.exec(
                            select(CustomerTag.id).where(CustomerTag.customer_id == row.id, CustomerTag.tag == tag)
                        )
                        if has.first() is None:
                            s.add(CustomerTag(customer_id=row.id, tag=tag, created_at=now))
                return row, created
            except IntegrityError:
                continue
        raise RuntimeError("could not subscribe customer")  # pragma: no cover

    async def unsubscribe(self, customer_id: int, now: datetime) -> None:
        async with self._tx() as s:
            await s.exec(
                update(Customer)
                .where(Customer.id == customer_id)
                .values(subscribed=False, awaiting_rating_answer_id=None, updated_at=now)
            )
            # Nothing more is sent to someone who said stop: cancel what is still queued.
            await s.exec(
                update(Delivery)
                .where(Delivery.customer_id == customer_id, Delivery.status == "pending")
                .values(status="skipped", last_error="customer unsubscribed")
            )

    async def set_reachable(
        self, platform: str, user_id: str, reachable: bool, reason: str | None, now: datetime
    ) -> bool:
        async with self._tx() as s:
            result = await s.exec(
                update(Customer)
                .where(Customer.platform == platform, Customer.platform_user_id == user_id)
                .values(reachable=reachable, unreachable_reason=None if reachable else reason, updated_at=now)
            )
            return bool(result.rowcount)

    async def mark_unreachable(self, customer_id: int, reason: str, now: datetime) -> None:
        async with self._tx() as s:
            await s.exec(
                update(Customer)
                .where(Customer.id == customer_id)
                .values(reachable=False, unreachable_reason=reason[:512], updated_at=now)
            )

    async def customer_tags(self, customer_id: int) -> list[str]:
        async with self._tx() as s:
            rows = await s.exec(
                select(CustomerTag.tag).where(CustomerTag.customer_id == customer_id).order_by(CustomerTag.tag)
            )
            return list(rows.scalars())

    async def customer_data(self, customer_id: int) -> dict[str, Any]:
        """Everything stored about one customer, for /mydata (machine-readable)."""
        async with self._tx() as s:
            customer = await s.get(Customer, customer_id)
            if customer is None:
                return {}
            tags = (await s.exec(select(CustomerTag.tag).where(CustomerTag.customer_id == customer_id))).scalars()
            deliveries = (
                await s.exec(
                    select(Delivery, PollRun.poll_id)
                    .join(PollRun, PollRun.id == Delivery.run_id)
                    .where(Delivery.customer_id == customer_id)
                    .order_by(Delivery.id)
                )
            ).all()
            answers = (
                await s.exec(
                    select(Answer, PollRun.poll_id)
                    .join(PollRun, PollRun.id == Answer.run_id)
                    .where(Answer.customer_id == customer_id)
                    .order_by(Answer.id)
                )
            ).all()
        return {
            "customer": {
                "platform": customer.platform,
                "user_id": customer.platform_user_id,
                "chat_id": customer.chat_id,
                "display_name": customer.display_name,
                "language": customer.language,
                "subscribed": customer.subscribed,
                "reachable": customer.reachable,
                "unreachable_reason": customer.unreachable_reason,
                "created_at": _iso(customer.created_at),
                "tags": sorted(tags),
            },
            "questions": [
                {
                    "poll": poll_id,
                    "run": d.run_id,
                    "kind": d.kind,
                    "status": d.status,
                    "sent_at": _iso(d.sent_at),
                    "reminded_at": _iso(d.reminded_at),
                }
                for d, poll_id in deliveries
            ],
            "answers": [
                {
                    "poll": poll_id,
                    "run": a.run_id,
                    "answer": a.text,
                    "rating": a.rating,
                    "late": a.late,
                    "answered_at": _iso(a.answered_at),
                    "edited_at": _iso(a.edited_at),
                }
                for a, poll_id in answers
            ],
        }

    async def request_forget(self, customer_id: int, now: datetime) -> None:
        async with self._tx() as s:
            await s.exec(update(Customer).where(Customer.id == customer_id).values(forget_requested_at=now))

    async def cancel_forget(self, customer_id: int) -> None:
        async with self._tx() as s:
            await s.exec(update(Customer).where(Customer.id == customer_id).values(forget_requested_at=None))

    async def erase_customer(self, customer_id: int) -> bool:
        """Delete the customer and, by cascade, their tags, deliveries and answers."""
        async with self._tx() as s:
            # Explicit deletes as well as ON DELETE CASCADE, so erasure never depends on a pragma.
            customer = await s.get(Customer, customer_id)
            if customer is None:
                return False
            for table in (Answer, Delivery, CustomerTag):
                await s.exec(delete(table).where(table.customer_id == customer_id))  # type: ignore[attr-defined]
            await s.exec(
                delete(InboundSeen).where(
                    InboundSeen.platform == customer.platform, InboundSeen.chat_id == customer.chat_id
                )
            )
            result = await s.exec(delete(Customer).where(Customer.id == customer_id))
            return bool(result.rowcount)

    # ------------------------------------------------------------------ runs and the outbox
    async def create_run(
        self,
        *,
        poll_id: str,
        question: str,
        rating: bool,
        scale: int,
        tag: str | None,
        triggered_by: str,
        now: datetime,
        closes_at: datetime,
        remind_at: datetime | None = None,
        scheduled_for: datetime | None = None,
    ) -> PollRun | None:
        """Insert a run. A scheduled run that already exists (same poll and time) gives None."""
        try:
            async with self._tx() as s:
                run = PollRun(
                    poll_id=poll_id,
                    question=question,
                    rating=rating,
                    scale=scale,
                    tag=tag,
                    triggered_by=triggered_by[:128],
                    scheduled_for=scheduled_for,
                    created_at=now,
                    remind_at=remind_at,
                    closes_at=closes_at,
                )
                s.add(run)
                await s.flush()
                return run
        except IntegrityError:
            return None

    async def fan_out(self, run_id: int, now: datetime) -> int:
        """Queue one delivery per subscribed, reachable customer (with the run's tag, if any).

        Set-based INSERT ... SELECT: customers are never loaded into memory, and rows already
        queued (a resumed fan-out) are skipped by NOT EXISTS plus the unique (run, customer) key.
        """
        async with self._tx() as s:
            run = await s.get(PollRun, run_id)
            if run is None:
                return 0
            conditions = [
                Customer.subscribed.is_(True),  # type: ignore[attr-defined]
                Customer.reachable.is_(True),  # type: ignore[attr-defined]
                ~exists().where(
                    Delivery.run_id == run_id, Delivery.customer_id == Customer.id, Delivery.kind == "question"
                ),
            ]
            if run.tag:
                conditions.append(exists().where(CustomerTag.customer_id == Customer.id, CustomerTag.tag == run.tag))
            source = select(
                literal(run_id),
                Customer.id,
                literal("question"),
                literal("pending"),
                literal(0),
                literal(now, type_=UTCDateTime()),
                literal(now, type_=UTCDateTime()),
            ).where(and_(*conditions))
            stmt = insert(Delivery).from_select(
                ["run_id", "customer_id", "kind", "status", "attempts", "next_attempt_at", "created_at"], source
            )
            result = await s.exec(stmt)  # type: ignore[call-overload]
            run.fanned_out = True
            s.add(run)
            return int(result.rowcount or 0)

    async def runs_not_fanned_out(self) -> list[int]:
        async with self._tx() as s:
            rows = await s.exec(select(PollRun.id).where(PollRun.fanned_out.is_(False)))  # type: ignore[attr-defined]
            return [int(r) for r in rows.scalars()]

    async def scheduled_run_exists(self, poll_id: str, scheduled_for: datetime) -> bool:
        async with self._tx() as s:
            row = await s.exec(
                select(PollRun.id).where(PollRun.poll_id == poll_id, PollRun.scheduled_for == scheduled_for)
            )
            return row.first() is not None

    async def get_run(self, run_id: int) -> PollRun | None:
        async with self._tx() as s:
            return await s.get(PollRun, run_id)

    async def latest_run(self) -> PollRun | None:
        async with self._tx() as s:
            return (await s.exec(select(PollRun).order_by(PollRun.id.desc()).limit(1))).scalar_one_or_none()  # type: ignore[union-attr]

    async def release_stale_claims(self, now: datetime) -> int:
        """Deliveries left in 'sending' by a worker that died past its lease go back to pending."""
        async with self._tx() as s:
            result = await s.exec(
                update(Delivery)
                .where(Delivery.status == "sending", Delivery.next_attempt_at <= now)
                .values(status="pending")
            )
            return int(result.rowcount or 0)

    async def claim_due_deliveries(self, now: datetime, limit: int = 100) -> list[DueDelivery]:
        """Claim up to `limit` due deliveries for this worker (status -> 'sending' with a lease).

        Rows that must not go out any more are settled here instead: the customer stopped or is
        unreachable, the run has closed, or (for a reminder) the customer has answered meanwhile.
        """
        async with self._tx() as s:
            answered = (
                exists()
                .where(Answer.run_id == Delivery.run_id, Answer.customer_id == Delivery.customer_id)
                .correlate(Delivery)
            )
            rows = (
                await s.exec(
                    select(Delivery, Customer, PollRun, answered)
                    .join(Customer, Customer.id == Delivery.customer_id)
                    .join(PollRun, PollRun.id == Delivery.run_id)
                    .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
                    .order_by(Delivery.next_attempt_at, Delivery.id)
                    .limit(limit)
                )
            ).all()
            skipped: dict[str, list[int]] = {}
            candidates = []
            for delivery, customer, run, has_answer in rows:
                reason = None
                if not customer.subscribed:
                    reason = "customer unsubscribed"
                elif not customer.reachable:
                    reason = customer.unreachable_reason or "customer unreachable"
                elif now >= run.closes_at:
                    reason = "run closed before it could be sent"
                elif delivery.kind == "reminder" and has_answer:
                    reason = "answered before the reminder"
                if reason is None:
                    candidates.append((delivery, customer, run))
                else:
                    skipped.setdefault(reason, []).append(int(delivery.id))
            for reason, ids in skipped.items():
                await s.exec(
                    update(Delivery)
                    .where(Delivery.id.in_(ids), Delivery.status == "pending")
                    .values(status="skipped", last_error=reason[:512])
                )
            if not candidates:
                return []
            # One UPDATE ... RETURNING for the batch: rows another worker took meanwhile are not returned.
            result = await s.exec(
                update(Delivery)
                .where(Delivery.id.in_([d.id for d, _, _ in candidates]), Delivery.status == "pending")
                .values(status="sending", attempts=Delivery.attempts + 1, next_attempt_at=now + SENDING_LEASE)
                .returning(Delivery.id)
                .execution_options(synchronize_session=False)
            )
            won = set(result.scalars())
            claimed = [
                DueDelivery(
                    delivery_id=int(delivery.id),
                    run_id=int(run.id),
                    attempts=delivery.attempts + 1,
                    customer_id=int(customer.id),
                    platform=customer.platform,
                    chat_id=customer.chat_id,
                    user_id=customer.platform_user_id,
                    question=run.question,
                    poll_id=run.poll_id,
                    rating=run.rating,
                    scale=run.scale,
                    reminder=delivery.kind == "reminder",
                )
                for delivery, customer, run in candidates
                if delivery.id in won
            ]
            return claimed

    async def record_sent(self, due: DueDelivery, message_id: str, now: datetime) -> None:
        async with self._tx() as s:
            await s.exec(
                update(Delivery)
                .where(Delivery.id == due.delivery_id)
                .values(status="sent", platform_message_id=message_id[:64], sent_at=now, last_error=None)
            )
            if due.reminder:
                await s.exec(
                    update(Delivery)
                    .where(
                        Delivery.run_id == due.run_id,
                        Delivery.customer_id == due.customer_id,
                        Delivery.kind == "question",
                    )
                    .values(reminded_at=now)
                )

    async def retry_delivery(self, due: DueDelivery, error: str, next_attempt_at: datetime) -> None:
        async with self._tx() as s:
            await s.exec(
                update(Delivery)
                .where(Delivery.id == due.delivery_id)
                .values(status="pending", last_error=error[:512], next_attempt_at=next_attempt_at)
            )

    async def hold_delivery(self, delivery_id: int, until: datetime) -> None:
        """Put a claimed delivery back until `until` (quiet hours) without counting an attempt."""
        async with self._tx() as s:
            await s.exec(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(status="pending", attempts=Delivery.attempts - 1, next_attempt_at=until)
            )

    async def fail_delivery(self, due: DueDelivery, error: str) -> None:
        async with self._tx() as s:
            await s.exec(
                update(Delivery).where(Delivery.id == due.delivery_id).values(status="failed", last_error=error[:512])
            )

    async def queue_reminders(self, run_id: int, now: datetime) -> int:
        """One reminder row per customer who was sent the question and has not answered (never twice)."""
        async with self._tx() as s:
            question = Delivery.__table__.alias("q")  # type: ignore[attr-defined]
            source = (
                select(
                    literal(run_id),
                    question.c.customer_id,
                    literal("reminder"),
                    literal("pending"),
                    literal(0),
                    literal(now, type_=UTCDateTime()),
                    literal(now, type_=UTCDateTime()),
                )
                .select_from(question)
                .join(Customer, Customer.id == question.c.customer_id)
                .where(
                    question.c.run_id == run_id,
                    question.c.kind == "question",
                    question.c.status == "sent",
                    Customer.subscribed.is_(True),  # type: ignore[attr-defined]
                    Customer.reachable.is_(True),  # type: ignore[attr-defined]
                    ~exists().where(Answer.run_id == run_id, Answer.customer_id == question.c.customer_id),
                    ~exists().where(
                        Delivery.run_id == run_id,
                        Delivery.customer_id == question.c.customer_id,
                        Delivery.kind == "reminder",
                    ),
                )
            )
            stmt = insert(Delivery).from_select(
                ["run_id", "customer_id", "kind", "status", "attempts", "next_attempt_at", "created_at"], source
            )
            result = await s.exec(stmt)  # type: ignore[call-overload]
            await s.exec(update(PollRun).where(PollRun.id == run_id).values(reminders_queued=True))
            return int(result.rowcount or 0)

    async def runs_due_for_reminders(self, now: datetime) -> list[int]:
        async with self._tx() as s:
            rows = await s.exec(
                select(PollRun.id).where(
                    PollRun.remind_at.is_not(None),  # type: ignore[union-attr]
                    PollRun.remind_at <= now,  # type: ignore[operator]
                    PollRun.closes_at > now,
                    PollRun.reminders_queued.is_(False),  # type: ignore[attr-defined]
                )
            )
            return [int(r) for r in rows.scalars()]

    async def next_delivery_time(self) -> datetime | None:
        async with self._tx() as s:
            value = (
                await s.exec(
                    select(func.min(Delivery.next_attempt_at)).where(Delivery.status.in_(("pending", "sending")))
                )  # type: ignore[attr-defined]
            ).scalar_one_or_none()
            return value

    # ------------------------------------------------------------------ answers
    async def conversation_state(self, platform: str, user_id: str, source_message_id: str) -> ConversationState:
        async with self._tx() as s:
            customer = (
                await s.exec(
                    select(Customer).where(Customer.platform == platform, Customer.platform_user_id == user_id)
                )
            ).scalar_one_or_none()
            if customer is None or customer.id is None:
                return ConversationState(customer=None)
            awaiting = None
            if customer.awaiting_rating_answer_id is not None:
                row = (
                    await s.exec(
                        select(Answer, PollRun)
                        .join(PollRun, PollRun.id == Answer.run_id)
                        .where(Answer.id == customer.awaiting_rating_answer_id)
                    )
                ).first()
                awaiting = (row[0], row[1]) if row else None
            answered = await s.exec(select(Answer.id).where(Answer.source_message_id == source_message_id))
            return ConversationState(
                customer=customer,
                awaiting_rating=awaiting,
                open_run=await self._open_question(s, customer.id),
                source_answered=answered.first() is not None,
            )

    @staticmethod
    async def _open_question(s: AsyncSession, customer_id: int) -> PollRun | None:
        row = (
            await s.exec(
                select(PollRun, Delivery.sent_at)
                .join(Delivery, Delivery.run_id == PollRun.id)
                .where(Delivery.customer_id == customer_id, Delivery.status == "sent", Delivery.kind == "question")
                .order_by(Delivery.sent_at.desc(), Delivery.id.desc())  # type: ignore[union-attr]
                .limit(1)
            )
        ).first()
        if row is None:
            return None
        run = row[0]
        answered = await s.exec(
            select(Answer.id).where(Answer.run_id == run.id, Answer.customer_id == customer_id).limit(1)
        )
        return None if answered.first() is not None else run

    async def record_answer(
        self,
        *,
        run_id: int,
        customer_id: int,
        text: str,
        source_message_id: str,
        now: datetime,
        late: bool,
        await_rating: bool,
        rating: int | None = None,
    ) -> Answer | None:
        """Store an answer once. None when this update (or an answer to this run) is already stored."""
        try:
            async with self._tx() as s:
                answer = Answer(
                    run_id=run_id,
                    customer_id=customer_id,
                    text=_clean(text),
                    source_message_id=source_message_id,
                    answered_at=now,
                    late=late,
                    rating=rating,
                )
                s.add(answer)
                await s.flush()
                await s.exec(
                    update(Customer)
                    .where(Customer.id == customer_id)
                    .values(awaiting_rating_answer_id=answer.id if await_rating else None)
                )
                return answer
        except IntegrityError:
            return None

    async def delivered_unanswered_run(self, customer_id: int, run_id: int) -> PollRun | None:
        """`run_id` if its question was sent to this customer and they have not answered it yet."""
        async with self._tx() as s:
            row = (
                await s.exec(
                    select(PollRun)
                    .join(Delivery, Delivery.run_id == PollRun.id)
                    .where(
                        PollRun.id == run_id,
                        Delivery.customer_id == customer_id,
                        Delivery.status == "sent",
                        Delivery.kind == "question",
                    )
                )
            ).first()
            if row is None:
                return None
            answered = await s.exec(select(Answer.id).where(Answer.run_id == run_id, Answer.customer_id == customer_id))
            return None if answered.first() is not None else row[0]

    async def edit_answer(self, source_message_id: str, text: str, now: datetime) -> bool:
        async with self._tx() as s:
            result = await s.exec(
                update(Answer)
                .where(Answer.source_message_id == source_message_id)
                .values(text=_clean(text), edited_at=now)
            )
            return bool(result.rowcount)

    async def rate_answer(self, customer_id: int, run_id: int, rating: int) -> bool:
        """Set the rating on this customer's answer to `run_id`; clears the awaiting state."""
        async with self._tx() as s:
            result = await s.exec(
                update(Answer).where(Answer.run_id == run_id, Answer.customer_id == customer_id).values(rating=rating)
            )
            await s.exec(update(Customer).where(Customer.id == customer_id).values(awaiting_rating_answer_id=None))
            return bool(result.rowcount)

    # ------------------------------------------------------------------ scheduled digests
    async def claim_digest_post(
        self, platform: str, chat_id: str, period: str, period_start: datetime, now: datetime
    ) -> bool:
        """True if this process should post this digest; False if it was posted (or claimed) already."""
        try:
            async with self._tx() as s:
                s.add(
                    DigestPost(
                        platform=platform, chat_id=chat_id, period=period, period_start=period_start, posted_at=now
                    )
                )
            return True
        except IntegrityError:
            return False

    async def release_digest_post(self, platform: str, chat_id: str, period: str, period_start: datetime) -> None:
        """Posting failed: let the next attempt claim it again."""
        async with self._tx() as s:
            await s.exec(
                delete(DigestPost).where(
                    DigestPost.platform == platform,
                    DigestPost.chat_id == chat_id,
                    DigestPost.period == period,
                    DigestPost.period_start == period_start,
                )
            )

    # ------------------------------------------------------------------ reporting
    async def run_counts(self, run_id: int) -> RunCounts:
        async with self._tx() as s:
            d = (
                await s.exec(
                    select(
                        func.count(),
                        func.count().filter(Delivery.status.in_(("pending", "sending"))),  # type: ignore[attr-defined]
                        func.count().filter(Delivery.status == "sent"),
                        func.count().filter(Delivery.status.in_(("failed", "skipped"))),  # type: ignore[attr-defined]
                        func.count(Delivery.reminded_at),
                    ).where(Delivery.run_id == run_id, Delivery.kind == "question")
                )
            ).one()
            a = (
                await s.exec(
                    select(func.count(), func.count(Answer.rating), func.count().filter(Answer.late.is_(True))).where(  # type: ignore[attr-defined]
                        Answer.run_id == run_id
                    )
                )
            ).one()
            return RunCounts(
                asked=d[0], pending=d[1], sent=d[2], failed=d[3], reminded=d[4], answered=a[0], rated=a[1], late=a[2]
            )

    async def iter_answers(self, since: datetime | None = None, batch: int = 500) -> AsyncIterator[Sequence[ExportRow]]:
        """Answers in id order, `batch` at a time (keyset pagination: memory stays flat)."""
        last_id = 0
        while True:
            async with self._tx() as s:
                stmt = (
                    select(Answer, PollRun.poll_id, Customer.platform, Customer.platform_user_id, Customer.display_name)
                    .join(PollRun, PollRun.id == Answer.run_id)
                    .join(Customer, Customer.id == Answer.customer_id)
                    .where(Answer.id > last_id)  # type: ignore[operator]
                    .order_by(Answer.id)
                    .limit(batch)
                )
                if since is not None:
                    stmt = stmt.where(Answer.answered_at >= since)
                rows = (await s.exec(stmt)).all()
            if not rows:
                return
            yield [
                ExportRow(
                    answer_id=int(a.id),
                    poll=poll_id,
                    run=a.run_id,
                    platform=platform,
                    user=user_id,
                    display_name=name,
                    answer=a.text,
                    rating=a.rating,
                    late=a.late,
                    answered_at=a.answered_at,
                )
                for a, poll_id, platform, user_id, name in rows
            ]
            last_id = int(rows[-1][0].id)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
