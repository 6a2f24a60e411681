"""Poll runs: one sending of a poll, with its own snapshot of question, rating and scale."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables as t
from storage.models import DeliveryKind, DeliveryStatus

r = t.poll_run.c

MAX_ID = 2**31 - 1  # the id columns are 32-bit integers on PostgreSQL


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: int
    poll_id: str
    question: str
    asks_rating: bool
    scale: int
    tag: str | None
    triggered_by: str
    scheduled_for: datetime | None
    created_at: datetime
    remind_at: datetime | None
    closes_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> RunRecord:
        m = row._mapping
        return cls(
            id=m["id"],
            poll_id=m["poll_id"],
            question=m["question"],
            asks_rating=m["asks_rating"],
            scale=m["scale"],
            tag=m["tag"],
            triggered_by=m["triggered_by"],
            scheduled_for=m["scheduled_for"],
            created_at=m["created_at"],
            remind_at=m["remind_at"],
            closes_at=m["closes_at"],
        )


RUN_COLUMNS = (
    r.id,
    r.poll_id,
    r.question,
    r.asks_rating,
    r.scale,
    r.tag,
    r.triggered_by,
    r.scheduled_for,
    r.created_at,
    r.remind_at,
    r.closes_at,
)


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
    paused: int = 0  # customers the run skipped because they had paused their questions


class RunRepo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def create(
        self,
        *,
        poll_id: str,
        question: str,
        asks_rating: bool,
        scale: int,
        tag: str | None,
        triggered_by: str,
        now: datetime,
        closes_at: datetime,
        remind_at: datetime | None = None,
        scheduled_for: datetime | None = None,
        translations: Mapping[str, str] | None = None,
    ) -> int | None:
        """Insert a run; None when a scheduled run for this poll and time exists already.

        `translations`: the question by language (snapshotted with the run, like the question).
        """
        values = {
            "poll_id": poll_id[:64],
            "question": question.replace("\x00", ""),
            "question_translations": (
                json.dumps({k: v.replace("\x00", "") for k, v in translations.items()}, ensure_ascii=False)
                if translations
                else None
            ),
            "asks_rating": asks_rating,
            "scale": scale,
            "tag": tag[:64] if tag else None,
            "triggered_by": triggered_by[:128],
            "scheduled_for": scheduled_for,
            "created_at": now,
            "remind_at": remind_at,
            "closes_at": closes_at,
            "fanned_out": False,
            "reminders_queued": False,
        }
        if scheduled_for is None:
            stmt: Any = insert(t.poll_run).values(**values)
        else:
            stmt = t.insert_ignoring_conflicts(self.conn, t.poll_run).values(**values)
        row = (await self.conn.execute(stmt.returning(r.id))).first()
        return None if row is None else int(row[0])

    async def get(self, run_id: int) -> RunRecord | None:
        if not 0 < run_id <= MAX_ID:
            return None
        row = (await self.conn.execute(select(*RUN_COLUMNS).where(r.id == run_id))).first()
        return None if row is None else RunRecord.from_row(row)

    async def latest(self) -> RunRecord | None:
        row = (await self.conn.execute(select(*RUN_COLUMNS).order_by(r.id.desc()).limit(1))).first()
        return None if row is None else RunRecord.from_row(row)

    async def mark_fanned_out(self, run_id: int, paused: int = 0) -> None:
        await self.conn.execute(update(t.poll_run).where(r.id == run_id).values(fanned_out=True, paused_count=paused))

    async def not_fanned_out(self) -> list[int]:
        rows = await self.conn.execute(select(r.id).where(r.fanned_out.is_(False)))
        return [int(x) for x in rows.scalars()]

    async def scheduled_exists(self, poll_id: str, scheduled_for: datetime) -> bool:
        stmt = select(r.id).where(r.poll_id == poll_id, r.scheduled_for == scheduled_for)
        return (await self.conn.execute(stmt)).first() is not None

    async def due_for_reminders(self, now: datetime) -> list[int]:
        rows = await self.conn.execute(
            select(r.id).where(
                r.remind_at.is_not(None),
                r.remind_at <= now,
                r.closes_at > now,
                r.reminders_queued.is_(False),
            )
        )
        return [int(x) for x in rows.scalars()]

    async def mark_reminders_queued(self, run_id: int) -> None:
        await self.conn.execute(update(t.poll_run).where(r.id == run_id).values(reminders_queued=True))

    async def counts(self, run_id: int) -> RunCounts:
        d, a = t.delivery.c, t.answer.c
        delivery_row = (
            await self.conn.execute(
                select(
                    func.count(),
                    func.count().filter(d.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING))),
                    func.count().filter(d.status == DeliveryStatus.SENT),
                    func.count().filter(d.status.in_((DeliveryStatus.FAILED, DeliveryStatus.SKIPPED))),
                    func.count(d.reminded_at),
                ).where(d.run_id == run_id, d.kind == DeliveryKind.QUESTION)
            )
        ).one()
        answer_row = (
            await self.conn.execute(
                select(func.count(), func.count(a.rating), func.count().filter(a.late.is_(True))).where(
                    a.run_id == run_id
                )
            )
        ).one()
        paused = (await self.conn.execute(select(r.paused_count).where(r.id == run_id))).scalar_one_or_none()
        return RunCounts(
            paused=int(paused or 0),
            asked=delivery_row[0],
            pending=delivery_row[1],
            sent=delivery_row[2],
            failed=delivery_row[3],
            reminded=delivery_row[4],
            answered=answer_row[0],
            rated=answer_row[1],
            late=answer_row[2],
        )
