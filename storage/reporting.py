"""Read-only reporting queries for digests and goals, computed in SQL.

Counting rule (used by every method here, so the numbers always add up): a period owns the poll
runs *created* in it, and with them all their deliveries and answers, whenever those happened.
So the answers to Sunday's run that arrive on Monday still count for Sunday's week, and the
response rate (answers / delivered) stays within 0..100 %. Re-running a digest later may show a
few more late answers for the same period; the set of runs (and so asked and delivered) is fixed.

Only question deliveries count (reminders are the same question again, not another customer asked).
Intervals are UTC and half-open: ``start <= run.created_at < end``.

Theme counts, tones, quotes and terms come from the analysis tables (storage.analysis), which
`bot.reporting.analyser` brings up to date for a period before a digest reads them; the export reads the
answers themselves with their analysed themes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select

from storage import tables as t
from storage.db import SessionScope

FIVE_POINT = 5
NPS_SCALE = 10

_analysis = t.answer_analysis.c
_answer = t.answer.c
_customer = t.customer.c
_delivery = t.delivery.c
_quote = t.run_theme_quote.c
_run = t.poll_run.c
_tag = t.customer_tag.c
_tally = t.run_theme_tally.c
_term = t.answer_term.c
_theme = t.answer_theme.c


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
class TallyRow:
    """One run's answers for one theme ('*' all, '' none) and tone (storage.analysis keeps these)."""

    run_id: int
    poll_id: str
    created_at: datetime
    scale: int
    theme: str
    tone: str
    answers: int
    rated: int
    rating_sum: int
    promoters: int
    detractors: int


@dataclass(frozen=True, slots=True)
class RunDeliveries:
    run_id: int
    poll_id: str
    created_at: datetime
    questions: int  # question deliveries, any status
    delivered: int  # question deliveries sent


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    customers: int  # distinct customers a question was queued for (0 when not asked for)
    runs: tuple[RunDeliveries, ...]

    @property
    def questions(self) -> int:
        return sum(r.questions for r in self.runs)

    @property
    def delivered(self) -> int:
        return sum(r.delivered for r in self.runs)


@dataclass(frozen=True, slots=True)
class ArrivalDay:
    """Answers that arrived in one bucket of `Reports.arrivals` (ratings of 1-5 runs only)."""

    index: int
    answers: int
    rated: int
    rating_sum: int


@dataclass(frozen=True, slots=True)
class Quote:
    answer_id: int
    poll_id: str
    theme: str  # '' when the answer matched no theme
    text: str  # as stored: the caller must sanitise before showing it
    rating: int
    scale: int
    answered_at: datetime


@dataclass(frozen=True, slots=True)
class ExportRow:
    answer_id: int
    poll: str
    question: str
    run: int
    platform: str
    user: str
    display_name: str
    tags: tuple[str, ...]
    answer: str
    rating: int | None
    scale: int
    late: bool
    answered_at: datetime
    themes: tuple[str, ...] | None  # None: not analysed under the current configuration


class Reports(SessionScope):
    """Reporting queries. Opens its own read sessions."""

    async def period_metrics(self, start: datetime, end: datetime, poll_id: str | None = None) -> PeriodMetrics:
        """Asked, delivered, answers, ratings and NPS counts in one transaction (one snapshot)."""
        runs = _runs_in(start, end, poll_id)
        async with self._tx() as s:
            asked, delivered = (
                await s.execute(
                    select(
                        func.count(func.distinct(_delivery.customer_id)),
                        func.count().filter(_delivery.status == "sent"),
                    )
                    .select_from(t.delivery)
                    .join(t.poll_run, _run.id == _delivery.run_id)
                    .where(_delivery.kind == "question", *runs)
                )
            ).one()
            five = _run.scale == FIVE_POINT
            ten = _run.scale == NPS_SCALE
            row = (
                await s.execute(
                    select(
                        func.count(),
                        func.count(_answer.rating).filter(five),
                        func.coalesce(func.sum(_answer.rating).filter(five), 0),
                        func.count(_answer.rating).filter(ten),
                        func.count().filter(ten, _answer.rating >= 9),
                        func.count().filter(ten, _answer.rating <= 6),
                    )
                    .select_from(t.answer)
                    .join(t.poll_run, _run.id == _answer.run_id)
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

    async def tallies(self, start: datetime, end: datetime, poll_id: str | None = None) -> list[TallyRow]:
        """The analysed tallies of the period's runs (run `bot.reporting.analyser` for the period first)."""
        async with self._tx() as s:
            rows = (
                await s.execute(
                    select(
                        _tally.run_id,
                        _run.poll_id,
                        _run.created_at,
                        _run.scale,
                        _tally.theme,
                        _tally.tone,
                        _tally.answers,
                        _tally.rated,
                        _tally.rating_sum,
                        _tally.promoters,
                        _tally.detractors,
                    )
                    .join(t.poll_run, _run.id == _tally.run_id)
                    .where(*_runs_in(start, end, poll_id))
                )
            ).all()
        return [TallyRow(int(r[0]), r[1], r[2], int(r[3]), r[4], r[5], *(int(v) for v in r[6:])) for r in rows]

    async def delivery_counts(
        self, start: datetime, end: datetime, poll_id: str | None = None, *, customers: bool = True
    ) -> DeliveryCounts:
        """Question deliveries of the period's runs, per run; distinct customers only if asked for."""
        runs = _runs_in(start, end, poll_id)
        async with self._tx() as s:
            per_run = (
                await s.execute(
                    # Grouped by the run's primary key, in the order the runs are read: no sort.
                    select(
                        _run.id,
                        _run.poll_id,
                        _run.created_at,
                        func.count(),
                        func.count().filter(_delivery.status == "sent"),
                    )
                    .select_from(t.poll_run)
                    .join(t.delivery, _delivery.run_id == _run.id)
                    .where(_delivery.kind == "question", *runs)
                    .group_by(_run.id)
                )
            ).all()
            distinct = 0
            if customers:
                distinct = (
                    await s.execute(
                        select(func.count(func.distinct(_delivery.customer_id)))
                        .join(t.poll_run, _run.id == _delivery.run_id)
                        .where(_delivery.kind == "question", *runs)
                    )
                ).one()[0]
        return DeliveryCounts(
            customers=int(distinct),
            runs=tuple(RunDeliveries(int(r), p, at, int(q), int(d)) for r, p, at, q, d in per_run),
        )

    async def arrivals(
        self, start: datetime, end: datetime, boundaries: Sequence[datetime], poll_id: str | None = None
    ) -> list[ArrivalDay]:
        """Answers to the period's runs by when they arrived: bucket i is [boundaries[i], boundaries[i+1]).

        Answers before boundaries[0] fall in bucket 0 and after the last boundary in the bucket
        `len(boundaries) - 1` ("later"); the caller passes local midnights, so days are local days
        on every backend, DST included, without time-zone functions in SQL.
        """
        bucket = case(
            *[(_answer.answered_at < edge, i) for i, edge in enumerate(boundaries[1:])], else_=len(boundaries) - 1
        )
        five = _run.scale == FIVE_POINT
        async with self._tx() as s:
            rows = (
                await s.execute(
                    select(
                        bucket,
                        func.count(),
                        func.count(_answer.rating).filter(five),
                        func.coalesce(func.sum(_answer.rating).filter(five), 0),
                    )
                    .select_from(t.answer)
                    .join(t.poll_run, _run.id == _answer.run_id)
                    .where(*_runs_in(start, end, poll_id))
                    .group_by(bucket)
                )
            ).all()
        return [ArrivalDay(int(i), int(n), int(r), int(total)) for i, n, r, total in rows]

    async def top_terms(
        self, start: datetime, end: datetime, limit: int, poll_id: str | None = None
    ) -> list[tuple[str, int]]:
        """The most frequent words and phrases of the period's answers that matched no theme."""
        count = func.count().label("answers")
        async with self._tx() as s:
            rows = (
                await s.execute(
                    select(_term.term, count)
                    .join(t.poll_run, _run.id == _term.run_id)
                    .where(*_runs_in(start, end, poll_id))
                    .group_by(_term.term)
                    .order_by(count.desc(), _term.term)
                    .limit(limit)
                )
            ).all()
        return [(term, int(n)) for term, n in rows]

    async def quote_candidates(
        self, start: datetime, end: datetime, themes: Sequence[str], poll_id: str | None = None
    ) -> list[Quote]:
        """The lowest-rated problem answers of each run for these themes ('' = no theme)."""
        if not themes:
            return []
        async with self._tx() as s:
            rows = (
                await s.execute(
                    select(
                        _quote.answer_id,
                        _run.poll_id,
                        _quote.theme,
                        _answer.text,
                        _answer.rating,
                        _run.scale,
                        _answer.answered_at,
                    )
                    .join(t.poll_run, _run.id == _quote.run_id)
                    .join(t.answer, _answer.id == _quote.answer_id)
                    .where(
                        _quote.theme.in_(list(themes)),
                        _answer.rating.is_not(None),
                        *_runs_in(start, end, poll_id),
                    )
                )
            ).all()
        return [Quote(int(i), p, th, t, int(r), int(sc), at) for i, p, th, t, r, sc, at in rows]

    async def iter_export(
        self, since: datetime | None = None, fingerprint: str | None = None, batch: int = 500
    ) -> AsyncIterator[list[ExportRow]]:
        """Every answer with its poll, run, customer and tags, in id order, `batch` at a time.

        Themes are those analysed under `fingerprint` and for the current text; otherwise None.
        """
        last_id = 0
        while True:
            async with self._tx() as s:
                stmt = (
                    select(
                        _answer.id,
                        _run.poll_id,
                        _run.question,
                        _answer.run_id,
                        _customer.id,
                        _customer.platform,
                        _customer.platform_user_id,
                        _customer.display_name,
                        _answer.text,
                        _answer.rating,
                        _run.scale,
                        _answer.late,
                        _answer.answered_at,
                        (
                            (_analysis.fingerprint == (fingerprint or ""))
                            & _answer.edited_at.is_not_distinct_from(_analysis.edited_at)
                        ).label("fresh"),
                    )
                    .join(t.poll_run, _run.id == _answer.run_id)
                    .join(t.customer, _customer.id == _answer.customer_id)
                    .outerjoin(t.answer_analysis, _analysis.answer_id == _answer.id)
                    .where(_answer.id > last_id)
                    .order_by(_answer.id)
                    .limit(batch)
                )
                if since is not None:
                    stmt = stmt.where(_answer.answered_at >= since)
                rows = (await s.execute(stmt)).all()
                if not rows:
                    return
                ids = [int(r[0]) for r in rows]
                themes: dict[int, list[str]] = {}
                for answer_id, theme in await s.execute(
                    select(_theme.answer_id, _theme.theme)
                    .where(_theme.answer_id.in_(ids))
                    .order_by(_theme.answer_id, _theme.theme)
                ):
                    themes.setdefault(int(answer_id), []).append(theme)
                tags: dict[int, list[str]] = {}
                for customer_id, tag in await s.execute(
                    select(_tag.customer_id, _tag.tag)
                    .where(_tag.customer_id.in_({int(r[4]) for r in rows}))
                    .order_by(_tag.customer_id, _tag.tag)
                ):
                    tags.setdefault(int(customer_id), []).append(tag)
            yield [
                ExportRow(
                    answer_id=int(r[0]),
                    poll=r[1],
                    question=r[2],
                    run=int(r[3]),
                    platform=r[5],
                    user=r[6],
                    display_name=r[7],
                    tags=tuple(tags.get(int(r[4]), ())),
                    answer=r[8],
                    rating=r[9],
                    scale=int(r[10]),
                    late=bool(r[11]),
                    answered_at=r[12],
                    themes=tuple(themes.get(int(r[0]), ())) if fingerprint and r[13] else None,
                )
                for r in rows
            ]
            last_id = ids[-1]


def _runs_in(start: datetime, end: datetime, poll_id: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [_run.created_at >= start, _run.created_at < end]
    if poll_id is not None:
        conditions.append(_run.poll_id == poll_id)
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
