"""The manager digest: a period's numbers, goals, themes and newest answers, as text and a chart.

Periods are the last *complete* one in the digest time zone (`[digest] timezone`, else
`[engine] timezone`): "day" is yesterday 00:00-24:00 local, "week" the previous Monday to Monday,
"month" the previous calendar month. Days are local calendar days, so a week across a DST change
is 167 or 169 hours long. The period before is the same kind of calendar period just before it.
What a period counts (the runs created in it) is described in `storage.reporting`.

`/goals` uses the period in progress instead: from its start to now, compared with the same
stretch of the period before (Monday 00:00 to Wednesday 15:00 against the same last week).

`Digest.text` is plain text; adapters escape it for their markup. Customer text is quoted only
after `sanitise_quote`, so an answer cannot add lines (a fake "WARNING") or reorder the text.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from bot.chart import render_chart_async
from bot.config import GoalSettings, Settings
from bot.goals import (
    GoalResult,
    evaluate_goal,
    format_target,
    format_value,
    goal_line,
    round_half_up,
    whole_percent,
)
from bot.themes import ThemeSummary, count_themes, count_words, summarise
from storage.reporting import DayPoint, PeriodMetrics, Reports

PeriodName = Literal["day", "week", "month"]
PERIODS: tuple[str, ...] = get_args(PeriodName)

QUOTES = 3
QUOTE_LENGTH = 200
THEMES_SHOWN = 5

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NAMES = "January February March April May June July August September October November December".split()
# Invisible format characters kept in quotes: joiners that emoji sequences and some scripts need.
_KEEP_FORMAT = frozenset({"\u200c", "\u200d"})


# ---------------------------------------------------------------------------------------- periods
@dataclass(frozen=True, slots=True)
class Period:
    kind: PeriodName
    start: datetime  # UTC, the local midnight that begins the period
    end: datetime  # UTC, exclusive
    tz: ZoneInfo

    @property
    def first_day(self) -> date:
        return self.start.astimezone(self.tz).date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(microseconds=1)).astimezone(self.tz).date()


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _period_start(kind: PeriodName, day: date) -> date:
    if kind == "day":
        return day
    if kind == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _shift(kind: PeriodName, start: date, periods: int) -> date:
    """The start of the period `periods` away from the one starting on `start`."""
    if kind == "day":
        return start + timedelta(days=periods)
    if kind == "week":
        return start + timedelta(weeks=periods)
    months = start.year * 12 + start.month - 1 + periods
    return date(months // 12, months % 12 + 1, 1)


def _period(kind: PeriodName, start: date, tz: ZoneInfo) -> Period:
    return Period(kind, _midnight(start, tz), _midnight(_shift(kind, start, 1), tz), tz)


def current_period(kind: PeriodName, now: datetime, tz: ZoneInfo) -> Period:
    """The period `now` falls in (still in progress)."""
    return _period(kind, _period_start(kind, now.astimezone(tz).date()), tz)


def last_complete_period(kind: PeriodName, now: datetime, tz: ZoneInfo) -> Period:
    """The period a digest at `now` reports on: the last one that has fully ended."""
    return previous_period(current_period(kind, now, tz))


def previous_period(period: Period) -> Period:
    return _period(period.kind, _shift(period.kind, period.first_day, -1), period.tz)


def digest_timezone(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.digest.timezone or settings.engine.timezone)


def _short_date(day: date, year: bool = True) -> str:
    text = f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"
    return f"{text} {day.year}" if year else text


def period_label(period: Period) -> str:
    """'Sun 8 Mar 2026', 'week Mon 2 Mar – Sun 8 Mar 2026', 'March 2026'."""
    first, last = period.first_day, period.last_day
    if period.kind == "day":
        return _short_date(first)
    if period.kind == "month":
        return f"{_MONTH_NAMES[first.month - 1]} {first.year}"
    return f"week {_short_date(first, year=first.year != last.year)} – {_short_date(last)}"


# ---------------------------------------------------------------------------------------- quotes
def sanitise_quote(text: str, limit: int = QUOTE_LENGTH) -> str:
    """One line of customer text, safe to put inside the digest.

    Line breaks and other control characters become spaces and runs of whitespace collapse, so a
    quote stays on its own line; NUL, bidi overrides and other invisible format characters go, so
    it cannot reorder the digest around it. Longer than `limit`: cut at a word and end with "…".
    """
    kept: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if category in {"Cc", "Zl", "Zp"}:
            kept.append(" " if ch != "\x00" else "")
        elif category in {"Cf", "Cs"} and ch not in _KEEP_FORMAT:
            continue
        else:
            kept.append(ch)
    return shorten(" ".join("".join(kept).split()), limit)


def shorten(text: str, limit: int = QUOTE_LENGTH) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 3 // 4:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–") + "…"


@dataclass(frozen=True, slots=True)
class QuotedAnswer:
    text: str  # sanitised and shortened
    rating: int | None
    scale: int

    def line(self) -> str:
        rating = f" ({self.rating}/{self.scale})" if self.rating is not None else ""
        return f"• “{self.text}”{rating}"


# ---------------------------------------------------------------------------------------- digest
@dataclass(frozen=True, slots=True)
class Digest:
    period: Period
    poll_id: str | None
    asked: int
    delivered: int
    answers: int
    response_rate: int  # whole percent, half up; 0 when nothing was delivered (the text says n/a)
    average_rating: float | None  # 1-5 polls, exact; None without ratings
    ratings: int
    nps: int | None  # 0-10 polls
    nps_ratings: int
    goals: tuple[GoalResult, ...]
    themes: ThemeSummary
    quotes: tuple[QuotedAnswer, ...]
    series: tuple[DayPoint, ...]
    chart_png: bytes

    @property
    def start(self) -> datetime:
        return self.period.start

    @property
    def end(self) -> datetime:
        return self.period.end

    @property
    def warnings(self) -> tuple[str, ...]:
        return _missed_twice_lines(self.goals, self.period.kind)

    @property
    def text(self) -> str:
        return "\n".join(_digest_lines(self))


def _missed_twice_lines(goals: Sequence[GoalResult], unit: str) -> tuple[str, ...]:
    return tuple(
        f"⚠️ WARNING: goal {g.label} missed two {unit}s in a row "
        f"({format_value(g.metric, g.previous)} the {unit} before, {format_value(g.metric, g.actual)} now; "
        f"target {format_target(g.metric, g.target)})"
        for g in goals
        if g.missed_twice
    )


def _digest_lines(d: Digest) -> list[str]:
    scope = f" – poll {d.poll_id}" if d.poll_id else ""
    lines = [f"Feedback digest – {period_label(d.period)} ({d.period.tz.key}){scope}", *d.warnings]
    rate = f"{d.response_rate}%" if d.delivered else "n/a"
    lines.append(f"Asked {d.asked} · Delivered {d.delivered} · Answers {d.answers} · Response rate {rate}")
    if d.average_rating is not None:
        shown = format_value("average_rating", round_half_up(d.average_rating, 1))  # as in the goal lines
        lines.append(f"Average rating {shown} / 5 ({_count(d.ratings, 'rating')})")
    else:
        lines.append("Average rating n/a (no ratings)")
    if d.nps is not None:
        lines.append(f"NPS {d.nps} ({_count(d.nps_ratings, 'rating')} on 0-10)")
    if d.goals:
        lines += ["", "Goals:"]
        lines += [goal_line(g, f"vs previous {d.period.kind}") for g in d.goals]
    if d.themes.items:
        heading = "What customers liked:" if d.themes.from_keywords else "Words customers used most:"
        lines += ["", heading]
        lines += [f"• {t.name}: {_count(t.count, 'answer')}" for t in d.themes.items]
    if d.quotes:
        lines += ["", "Newest answers:"]
        lines += [q.line() for q in d.quotes]
    elif not d.answers:
        lines += ["", "No answers in this period."]
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _goals_in_scope(goals: Sequence[GoalSettings], poll_id: str | None) -> list[GoalSettings]:
    """All goals for a whole digest; for a one-poll digest, the goals without a poll or for that poll."""
    return [g for g in goals if poll_id is None or g.poll in (None, poll_id)]


Span = tuple[datetime, datetime]


async def _evaluate_goals(
    reports: Reports, goals: Sequence[GoalSettings], current: Span, previous: Span, poll_id: str | None
) -> tuple[GoalResult, ...]:
    """Fetch each goal's metrics (once per poll scope) for both intervals and evaluate."""
    spans = (current, previous)
    cache: dict[tuple[int, str | None], PeriodMetrics] = {}

    async def metrics(which: int, scope: str | None) -> PeriodMetrics:
        if (which, scope) not in cache:
            cache[(which, scope)] = await reports.period_metrics(*spans[which], poll_id=scope)
        return cache[(which, scope)]

    results = []
    for goal in goals:
        scope = goal.poll or poll_id
        results.append(evaluate_goal(goal, await metrics(0, scope), await metrics(1, scope)))
    return tuple(results)


async def _themes(reports: Reports, settings: Settings, period: Period, poll_id: str | None) -> ThemeSummary:
    theme_counts: Counter[str] = Counter()
    word_counts: Counter[str] = Counter()
    async for batch in reports.iter_answer_texts(period.start, period.end, poll_id):
        theme_counts.update(count_themes(batch, settings.themes))
        if not theme_counts:  # words are only shown when no theme matched at all
            word_counts.update(count_words(batch))
    return summarise(theme_counts, word_counts, THEMES_SHOWN)


def _goal_rate(goals: Sequence[GoalSettings], poll_id: str | None) -> float | None:
    """The response-rate target drawn on the chart: the first one for the digest's own scope."""
    return next((g.target for g in goals if g.metric == "response_rate" and g.poll == poll_id), None)


async def build_digest(
    reports: Reports, settings: Settings, period: PeriodName, now: datetime, poll_id: str | None = None
) -> Digest:
    """The digest of the last complete `period` before `now` (see the module docstring)."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tz = digest_timezone(settings)
    current = last_complete_period(period, now, tz)
    metrics = await reports.period_metrics(current.start, current.end, poll_id)
    goals = _goals_in_scope(settings.goals, poll_id)
    before = previous_period(current)
    results = await _evaluate_goals(reports, goals, (current.start, current.end), (before.start, before.end), poll_id)
    series = tuple(await reports.daily_series(current.start, current.end, tz, poll_id))
    quotes = await reports.newest_quotes(current.start, current.end, QUOTES, poll_id)
    title = f"Answers and response rate – {period_label(current)}"
    nps = metrics.nps
    return Digest(
        period=current,
        poll_id=poll_id,
        asked=metrics.asked,
        delivered=metrics.delivered,
        answers=metrics.answers,
        response_rate=whole_percent(metrics.answers, metrics.delivered),
        average_rating=metrics.average_rating,
        ratings=metrics.ratings,
        nps=None if nps is None else int(round_half_up(nps)),
        nps_ratings=metrics.nps_ratings,
        goals=results,
        themes=await _themes(reports, settings, current, poll_id),
        quotes=tuple(QuotedAnswer(sanitise_quote(q.text), q.rating, q.scale) for q in quotes),
        series=series,
        chart_png=await render_chart_async(series, _goal_rate(goals, poll_id), title),
    )


# ---------------------------------------------------------------------------------------- /goals
async def goal_status(
    reports: Reports, settings: Settings, now: datetime, period: PeriodName | None = None
) -> tuple[Period, tuple[GoalResult, ...]]:
    """Each goal over the period in progress up to `now`, against the same stretch of the one before."""
    kind = period or settings.digest.period
    current = current_period(kind, now, digest_timezone(settings))
    before = previous_period(current)
    elapsed = min(now, current.end) - current.start
    so_far = (current.start, min(now, current.end))
    same_stretch_before = (before.start, min(before.start + elapsed, before.end))
    return current, await _evaluate_goals(reports, settings.goals, so_far, same_stretch_before, None)


async def goals_status_text(reports: Reports, settings: Settings, now: datetime) -> str:
    """The `/goals` reply: one line per goal for the period so far."""
    if not settings.goals:
        return "No goals are configured ([[goals]] in the config file)."
    current, results = await goal_status(reports, settings, now)
    kind = current.kind
    since = _short_date(current.first_day, year=False)
    heading = f"Goals – this {kind} so far (since {since} 00:00, {current.tz.key}):"
    # The digest's warning, for the last two complete periods, belongs at the top here too.
    last = last_complete_period(kind, now, current.tz)
    before = previous_period(last)
    complete = await _evaluate_goals(reports, settings.goals, (last.start, last.end), (before.start, before.end), None)
    lines = [*_missed_twice_lines(complete, kind), heading]
    return "\n".join(lines + [goal_line(r, f"vs same point last {kind}") for r in results])
