"""Answers for `feedbot export`, streamed in id order a batch at a time (keyset pagination)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from storage import tables as t
from storage.store import Store


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


async def iter_answers(
    store: Store, since: datetime | None = None, batch: int = 500
) -> AsyncIterator[Sequence[ExportRow]]:
    """Answers in id order, `batch` at a time: memory stays flat however many there are."""
    a, r, c = t.answer.c, t.poll_run.c, t.customer.c
    last_id = 0
    while True:
        stmt = (
            select(
                a.id.label("answer_id"),
                r.poll_id.label("poll"),
                a.run_id.label("run"),
                c.platform,
                c.platform_user_id.label("user"),
                c.display_name,
                a.text.label("answer"),
                a.rating,
                a.late,
                a.answered_at,
            )
            .select_from(t.answer.join(t.poll_run, r.id == a.run_id).join(t.customer, c.id == a.customer_id))
            .where(a.id > last_id)
            .order_by(a.id)
            .limit(batch)
        )
        if since is not None:
            stmt = stmt.where(a.answered_at >= since)
        async with store.read() as unit:
            rows = [ExportRow(**row._mapping) for row in await unit.conn.execute(stmt)]
        if not rows:
            return
        yield rows
        last_id = rows[-1].answer_id
