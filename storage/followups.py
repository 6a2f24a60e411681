"""Closing the loop with unhappy customers: staff alerts about an answer, and the messages staff and
the customer exchange about it (/reply, the customer's follow-up)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables as t
from storage.customers import clean
from storage.models import DeliveryKind

a, c, r, d = t.answer.c, t.customer.c, t.poll_run.c, t.delivery.c
f, s = t.answer_followup.c, t.staff_alert.c

STAFF = "staff"
CUSTOMER = "customer"


@dataclass(frozen=True, slots=True)
class AnswerContext:
    """An answer with what staff need to see about it, and where its customer can be reached."""

    answer_id: int
    poll_id: str
    text: str
    rating: int | None
    scale: int
    customer_id: int
    display_name: str
    platform: str
    chat_id: str
    user_id: str
    language: str | None  # the customer's platform language, as last seen


@dataclass(frozen=True, slots=True)
class FollowupMessage:
    answer_id: int
    author: str
    text: str
    created_at: datetime


class FollowupRepo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def answer(self, answer_id: int) -> AnswerContext | None:
        stmt = (
            select(
                a.id,
                r.poll_id,
                a.text,
                a.rating,
                r.scale,
                c.id.label("customer_id"),
                c.display_name,
                c.platform,
                c.chat_id,
                c.platform_user_id,
                c.language,
            )
            .select_from(t.answer.join(t.poll_run, r.id == a.run_id).join(t.customer, c.id == a.customer_id))
            .where(a.id == answer_id)
        )
        row = (await self.conn.execute(stmt)).first()
        if row is None:
            return None
        values: tuple[Any, ...] = tuple(row)
        return AnswerContext(*values)

    async def answer_of(self, run_id: int, customer_id: int) -> AnswerContext | None:
        stmt = select(a.id).where(a.run_id == run_id, a.customer_id == customer_id)
        answer_id = (await self.conn.execute(stmt)).scalar_one_or_none()
        return None if answer_id is None else await self.answer(int(answer_id))

    async def link_alert(self, answer_id: int, delivery_id: int) -> None:
        await self.conn.execute(t.staff_alert.insert().values(answer_id=answer_id, delivery_id=delivery_id))

    async def answer_for_message(self, platform: str, chat_id: str, message_id: str) -> int | None:
        """The answer a staff-chat message of ours was about (a platform reply to it answers the customer)."""
        stmt = (
            select(s.answer_id)
            .select_from(t.staff_alert.join(t.delivery, d.id == s.delivery_id))
            .where(
                d.platform == platform,
                d.chat_id == chat_id[:64],
                d.platform_message_id == message_id[:64],
                d.kind == DeliveryKind.ALERT,
            )
            .limit(1)
        )
        value = (await self.conn.execute(stmt)).scalar_one_or_none()
        return None if value is None else int(value)

    async def add(
        self, *, answer_id: int, customer_id: int, author: str, text: str, now: datetime, staff_user: str | None = None
    ) -> None:
        await self.conn.execute(
            t.answer_followup.insert().values(
                answer_id=answer_id,
                customer_id=customer_id,
                author=author,
                staff_user=staff_user[:128] if staff_user else None,
                text=clean(text),
                created_at=now,
            )
        )

    async def open_window(self, customer_id: int, answer_id: int, until: datetime) -> None:
        """The customer's next message until `until` is a follow-up on `answer_id`."""
        await self.conn.execute(
            update(t.customer).where(c.id == customer_id).values(followup_answer_id=answer_id, followup_until=until)
        )

    async def close_window(self, customer_id: int) -> None:
        await self.conn.execute(
            update(t.customer).where(c.id == customer_id).values(followup_answer_id=None, followup_until=None)
        )

    async def close_windows_of_run(self, run_id: int) -> None:
        """A new question ends the follow-up windows of the customers it goes to: their next message answers it."""
        asked = select(d.customer_id).where(d.run_id == run_id, d.kind == DeliveryKind.QUESTION)
        await self.conn.execute(
            update(t.customer)
            .where(c.id.in_(asked), c.followup_answer_id.is_not(None))
            .values(followup_answer_id=None, followup_until=None)
        )

    async def of_customer(self, customer_id: int) -> list[FollowupMessage]:
        rows = await self.conn.execute(
            select(f.answer_id, f.author, f.text, f.created_at).where(f.customer_id == customer_id).order_by(f.id)
        )
        return [FollowupMessage(*row) for row in rows]

    async def count(self) -> tuple[int, int, int]:
        """(conversation messages, staff-chat posts linked to answers, alert deliveries): for tests and checks."""
        messages = (await self.conn.execute(select(func.count()).select_from(t.answer_followup))).scalar_one()
        posts = (await self.conn.execute(select(func.count()).select_from(t.staff_alert))).scalar_one()
        alerts = (
            await self.conn.execute(select(func.count()).select_from(t.delivery).where(d.kind == DeliveryKind.ALERT))
        ).scalar_one()
        return int(messages), int(posts), int(alerts)
