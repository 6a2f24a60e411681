"""Customers: subscription, reachability, the pending /forget confirmation, /mydata and erasure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables as t
from storage.models import DeliveryKind, DeliveryStatus

c = t.customer.c


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    id: int
    platform: str
    platform_user_id: str
    chat_id: str
    display_name: str
    language: str | None
    subscribed: bool
    reachable: bool
    unreachable_reason: str | None
    awaiting_rating_answer_id: int | None
    forget_requested_at: datetime | None
    created_at: datetime
    updated_at: datetime
    paused_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryData:
    poll: str | None
    run: int | None
    kind: str
    status: str
    attempts: int
    last_error: str | None
    platform_message_id: str | None
    created_at: datetime
    sent_at: datetime | None
    reminded_at: datetime | None


@dataclass(frozen=True, slots=True)
class AnswerData:
    poll: str
    run: int
    answer: str
    rating: int | None
    late: bool
    answered_at: datetime
    edited_at: datetime | None


@dataclass(frozen=True, slots=True)
class CustomerData:
    """Everything stored about one customer (/mydata); rendered to JSON by the engine."""

    customer: CustomerRecord
    tags: tuple[str, ...]
    deliveries: tuple[DeliveryData, ...]
    answers: tuple[AnswerData, ...]


def clean(text: str) -> str:
    """PostgreSQL text cannot hold NUL; strip it everywhere so both backends store the same."""
    return text.replace("\x00", "")


class CustomerRepo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def find(self, platform: str, user_id: str, *, lock: bool = False) -> CustomerRecord | None:
        """`lock`: hold the row until the transaction ends (PostgreSQL; SQLite serialises writers anyway)."""
        stmt = select(t.customer).where(c.platform == platform, c.platform_user_id == user_id[:64])
        if lock and self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = (await self.conn.execute(stmt)).first()
        return None if row is None else CustomerRecord(**row._mapping)

    async def get(self, customer_id: int) -> CustomerRecord | None:
        row = (await self.conn.execute(select(t.customer).where(c.id == customer_id))).first()
        return None if row is None else CustomerRecord(**row._mapping)

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
    ) -> int:
        """Create or re-subscribe a customer (an upsert: a concurrent /start cannot fail); returns its id."""
        values = {
            "platform": platform[:32],
            "platform_user_id": user_id[:64],
            "chat_id": chat_id[:64],
            "display_name": clean(display_name)[:256],
            "language": language[:16] if language else None,
            "subscribed": True,
            "reachable": True,
            "unreachable_reason": None,
            "paused_until": None,
            "created_at": now,
            "updated_at": now,
        }
        stmt = t.upsert(
            self.conn,
            t.customer,
            ["platform", "platform_user_id"],
            values,
            [
                "chat_id",
                "display_name",
                *(["language"] if language else []),  # a message without one (a Discord DM) keeps the known one
                "subscribed",
                "reachable",
                "unreachable_reason",
                "paused_until",  # /start resumes a pause early
                "updated_at",
            ],
        ).returning(c.id)
        customer_id = int((await self.conn.execute(stmt)).scalar_one())
        if tag:
            await self.conn.execute(
                t.insert_ignoring_conflicts(self.conn, t.customer_tag).values(
                    customer_id=customer_id, tag=tag[:64], created_at=now
                )
            )
        return customer_id

    async def unsubscribe(self, customer_id: int, now: datetime) -> None:
        await self.conn.execute(
            update(t.customer)
            .where(c.id == customer_id)
            .values(subscribed=False, awaiting_rating_answer_id=None, updated_at=now)
        )
        # Nothing more is asked of someone who said stop: cancel questions and reminders still queued.
        d = t.delivery.c
        await self.conn.execute(
            update(t.delivery)
            .where(
                d.customer_id == customer_id,
                d.status == DeliveryStatus.PENDING,
                d.kind.in_((DeliveryKind.QUESTION, DeliveryKind.REMINDER)),
            )
            .values(status=DeliveryStatus.SKIPPED, last_error="customer unsubscribed")
        )

    async def set_reachable(
        self, platform: str, user_id: str, reachable: bool, reason: str | None, now: datetime
    ) -> bool:
        result = await self.conn.execute(
            update(t.customer)
            .where(c.platform == platform, c.platform_user_id == user_id[:64])
            .values(
                reachable=reachable,
                unreachable_reason=None if reachable else (reason or "")[:512],
                updated_at=now,
            )
        )
        return bool(result.rowcount)

    async def mark_unreachable(self, customer_id: int, reason: str, now: datetime) -> None:
        await self.conn.execute(
            update(t.customer)
            .where(c.id == customer_id)
            .values(reachable=False, unreachable_reason=reason[:512], updated_at=now)
        )

    async def tags(self, customer_id: int) -> list[str]:
        ct = t.customer_tag.c
        rows = await self.conn.execute(select(ct.tag).where(ct.customer_id == customer_id).order_by(ct.tag))
        return list(rows.scalars())

    async def set_language(self, customer_id: int, language: str, now: datetime) -> None:
        await self.conn.execute(
            update(t.customer).where(c.id == customer_id).values(language=language[:16], updated_at=now)
        )

    async def pause(self, customer_id: int, until: datetime, now: datetime) -> None:
        await self.conn.execute(
            update(t.customer).where(c.id == customer_id).values(paused_until=until, updated_at=now)
        )

    async def request_forget(self, customer_id: int, now: datetime) -> None:
        await self.conn.execute(update(t.customer).where(c.id == customer_id).values(forget_requested_at=now))

    async def cancel_forget(self, customer_id: int) -> None:
        await self.conn.execute(update(t.customer).where(c.id == customer_id).values(forget_requested_at=None))

    async def erase(self, customer_id: int) -> bool:
        """Delete the customer with their tags, deliveries (queued or in flight) and answers.

        Explicit deletes as well as ON DELETE CASCADE, so erasure never depends on a pragma. A worker
        sending one of the deleted deliveries right now finds its claim gone and records nothing.
        """
        customer = await self.get(customer_id)
        if customer is None:
            return False
        for table in (t.answer, t.delivery, t.customer_tag):
            await self.conn.execute(delete(table).where(table.c.customer_id == customer_id))
        # Messages addressed to the chat but not tied to the customer row (replies before /start).
        d = t.delivery.c
        await self.conn.execute(
            delete(t.delivery).where(d.platform == customer.platform, d.chat_id == customer.chat_id)
        )
        result = await self.conn.execute(delete(t.customer).where(c.id == customer_id))
        return bool(result.rowcount)

    async def data(self, customer_id: int) -> CustomerData | None:
        """Everything stored about one customer, for /mydata."""
        customer = await self.get(customer_id)
        if customer is None:
            return None
        d, r, a = t.delivery.c, t.poll_run.c, t.answer.c
        deliveries = await self.conn.execute(
            select(
                r.poll_id,
                d.run_id,
                d.kind,
                d.status,
                d.attempts,
                d.last_error,
                d.platform_message_id,
                d.created_at,
                d.sent_at,
                d.reminded_at,
            )
            .select_from(t.delivery.outerjoin(t.poll_run, r.id == d.run_id))
            .where(d.customer_id == customer_id)
            .order_by(d.id)
        )
        answers = await self.conn.execute(
            select(r.poll_id, a.run_id, a.text, a.rating, a.late, a.answered_at, a.edited_at)
            .join(t.poll_run, r.id == a.run_id)
            .where(a.customer_id == customer_id)
            .order_by(a.id)
        )
        return CustomerData(
            customer=customer,
            tags=tuple(await self.tags(customer_id)),
            deliveries=tuple(
                DeliveryData(
                    poll=row.poll_id,
                    run=row.run_id,
                    kind=row.kind,
                    status=row.status,
                    attempts=row.attempts,
                    last_error=row.last_error,
                    platform_message_id=row.platform_message_id,
                    created_at=row.created_at,
                    sent_at=row.sent_at,
                    reminded_at=row.reminded_at,
                )
                for row in deliveries
            ),
            answers=tuple(
                AnswerData(
                    poll=row.poll_id,
                    run=row.run_id,
                    answer=row.text,
                    rating=row.rating,
                    late=row.late,
                    answered_at=row.answered_at,
                    edited_at=row.edited_at,
                )
                for row in answers
            ),
        )
