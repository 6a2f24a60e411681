"""Read-only reporting queries for digests and goals, computed in SQL.

Counting rule (used by every method here, so the numbers always add up): a period owns the poll
runs *created* in it, and with them all their deliveries and answers, whenever those happened.
So the answers to Sunday's run that arrive on Monday still count for Sunday's week, and the
response rate (answers / delivered) stays within 0..100 %. Re-running a digest later may show a
few more late answers for the same period; the set of runs (and so asked and delivered) is fixed.

Only question deliveries count (reminders are the same question again, not another customer asked).
Intervals are UTC and half-open: ``start <= run.created_at < end``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlmodel import col

from storage.db import SessionScope
from storage.models import Answer, Delivery, PollRun

FIVE_POINT = 5
NPS_SCALE = 10


@dataclass(frozen=True, slots=True)
class PeriodMetrics:
    """Raw counts for the runs created in one period; derived values are exact (unrounded)."""

    asked: int  # distinct customers with a question delivery (any status)
    delivered: int  # question deliveries with status 'sent' (one per run and customer)
    answers: int
    ratings: int  # rated answers to 1-5 runs
    rating_sum: int
    nps_ratings: int  # rated answers to 0-10 runs
    promoters: int  # 9-10
    detractors: int  # 0-6

    @property
    def response_rate(self) -> float | None:
        """Percent of delivered questions answered; None when nothing was delivered."""
        return 100 * self.answers / self.delivered if self.delivered else None

    @property
    def average_rating(self) -> float | None:
        return self.rating_sum / self.ratings if self.ratings else None

    @property
    def nps(self) -> float | None:
        """Net promoter score: % promoters minus % detractors, over rated 0-10 answers."""
        if not self.nps_ratings:
            return None
        return 100 * (self.promoters - self.detractors) / self.nps_ratings


@dataclass(frozen=True, slots=True)
class DayPoint:
    """One local calendar day of a period (runs created that day, as in the period totals)."""

    day: date
    delivered: int
    answers: int

    @property
    def response_rate(self) -> float | None:
        return 100 * self.answers / self.delivered if self.delivered else None


@dataclass(frozen=True, slots=True)
class Quote:
    answer_id: int
    poll_id: str
    text: str  # as stored: the caller must sanitise before showing it
    rating: int | None
    scale: int
    answered_at: datetime


class Reports(SessionScope):
    """Reporting queries. Like the repository, the only code here that opens sessions."""

    async def period_metrics(self, start: datetime, end: datetime, poll_id: str | None = None) -> PeriodMetrics:
        """Asked, delivered, answers, ratings and NPS counts in one transaction (one snapshot)."""
        runs = _runs_in(start, end, poll_id)
        async with self._tx() as s:
            asked, delivered = (
                await s.exec(
                    select(
                        func.count(func.distinct(Delivery.customer_id)),
                        func.count().filter(Delivery.status == "sent"),
                    )
                    .select_from(Delivery)
                    .join(PollRun, PollRun.id == Delivery.run_id)
                    .where(Delivery.kind == "question", *runs)
                )
            ).one()
            five = PollRun.scale == FIVE_POINT
            ten = PollRun.scale == NPS_SCALE
            row = (
                await s.exec(
                    select(
                        func.count(),
                        func.count(Answer.rating).filter(five),
                        func.coalesce(func.sum(Answer.rating).filter(five), 0),
                        func.count(Answer.rating).filter(ten),
                        func.count().filter(ten, Answer.rating >= 9),
                        func.count().filter(ten, Answer.rating <= 6),
                    )
                    .select_from(Answer)
                    .join(PollRun, PollRun.id == Answer.run_id)
                    .where(*runs)
                )
            ).one()
        return PeriodMetrics(
            asked=int(asked),
            delivered=int(delivered),
            answers=int(row[0]),
            ratings=int(row[1]),
            rating_sum=int(row[2]),
            nps_ratings=int(row[3]),
            promoters=int(row[4]),
            detractors=int(row[5]),
        )

    async def daily_series(
        self, start: datetime, end: datetime, tz: ZoneInfo, poll_id: str | None = None
    ) -> list[DayPoint]:
        """Delivered and answers per local day in `tz`, every day of [start, end) present (zeros too).

        SQL aggregates per run (GROUP BY run); the runs, a handful per day, are put into local days
        here, which avoids time-zone functions that SQLite does not have.
        """
        async with self._tx() as s:
            per_run_sent = (
                await s.exec(
                    select(PollRun.created_at, func.count(Delivery.id))
                    .join(Delivery, Delivery.run_id == PollRun.id)
                    .where(Delivery.kind == "question", Delivery.status == "sent", *_runs_in(start, end, poll_id))
                    .group_by(PollRun.id, PollRun.created_at)
                )
            ).all()
            per_run_answers = (
                await s.exec(
                    select(PollRun.created_at, func.count(Answer.id))
                    .join(Answer, Answer.run_id == PollRun.id)
                    .where(*_runs_in(start, end, poll_id))
                    .group_by(PollRun.id, PollRun.created_at)
                )
            ).all()
        days = {day: [0, 0] for day in local_days(start, end, tz)}
        for created_at, count in per_run_sent:
            days[created_at.astimezone(tz).date()][0] += int(count)
        for created_at, count in per_run_answers:
            days[created_at.astimezone(tz).date()][1] += int(count)
        return [DayPoint(day=day, delivered=d, answers=a) for day, (d, a) in days.items()]

    async def newest_quotes(
        self, start: datetime, end: datetime, limit: int = 3, poll_id: str | None = None
    ) -> list[Quote]:
        """The `limit` newest non-blank answers (by answered time) to runs of the period."""
        async with self._tx() as s:
            rows = (
                await s.exec(
                    select(Answer.id, PollRun.poll_id, Answer.text, Answer.rating, PollRun.scale, Answer.answered_at)
                    .join(PollRun, PollRun.id == Answer.run_id)
                    .where(func.length(func.trim(Answer.text)) > 0, *_runs_in(start, end, poll_id))
                    .order_by(Answer.answered_at.desc(), Answer.id.desc())
                    .limit(limit)
                )
            ).all()
        return [
            Quote(answer_id=int(i), poll_id=p, text=t, rating=r, scale=int(sc), answered_at=at)
            for i, p, t, r, sc, at in rows
        ]

    async def iter_answer_texts(
        self, start: datetime, end: datetime, poll_id: str | None = None, batch: int = 500
    ) -> AsyncIterator[list[str]]:
        """Answer texts of the period's runs, `batch` at a time (keyset on id: memory stays flat)."""
        last_id = 0
        while True:
            async with self._tx() as s:
                rows = (
                    await s.exec(
                        select(Answer.id, Answer.text)
                        .join(PollRun, PollRun.id == Answer.run_id)
                        .where(Answer.id > last_id, *_runs_in(start, end, poll_id))
                        .order_by(Answer.id)
                        .limit(batch)
                    )
                ).all()
            if not rows:
                return
            yield [text for _, text in rows]
            last_id = int(rows[-1][0])


def _runs_in(start: datetime, end: datetime, poll_id: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [col(PollRun.created_at) >= start, col(PollRun.created_at) < end]
    if poll_id is not None:
        conditions.append(col(PollRun.poll_id) == poll_id)
    return conditions


def local_days(start: datetime, end: datetime, tz: ZoneInfo) -> Iterator[date]:
    """Every local calendar day that [start, end) touches in `tz`."""
    if end <= start:
        return
    day = start.astimezone(tz).date()
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    while day <= last:
        yield day
        day += timedelta(days=1)
