"""Digest periods: calendar days, weeks (Monday to Monday) and months in the digest time zone.

A scheduled digest covers the last *complete* period: "day" is yesterday 00:00-24:00 local, "week"
the previous Monday to Monday, "month" the previous calendar month. An on-demand digest covers the
period in progress up to now, compared with the same stretch of the period before (Monday 00:00 to
Wednesday 15:00 against the same hours last week). Days are local calendar days, so a week across
a DST change is 167 or 169 hours long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, TypeGuard, get_args
from zoneinfo import ZoneInfo

from bot import texts
from bot.config import Settings
from bot.i18n import Voice

PeriodName = Literal["day", "week", "month"]
PERIODS: tuple[str, ...] = get_args(PeriodName)


def is_period(value: str) -> TypeGuard[PeriodName]:
    return value in PERIODS


_ENGLISH = Voice("en")


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


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)  # a date as Babel's pattern formatting takes it


def short_date(day: date, year: bool = True, say: Voice = _ENGLISH) -> str:
    """'Sun 8 Mar 2026' in English; each language's own order and names (texts.DATE_DAY)."""
    return say.pattern(_noon(day), say(texts.DATE_DAY if year else texts.DATE_DAY_NO_YEAR), UTC)


def period_label(period: Period, say: Voice = _ENGLISH) -> str:
    """'Sun 8 Mar 2026', 'week Mon 2 Mar – Sun 8 Mar 2026', 'March 2026' (in English)."""
    first, last = period.first_day, period.last_day
    if period.kind == "day":
        return short_date(first, say=say)
    if period.kind == "month":
        return say.pattern(_noon(first), say(texts.DATE_MONTH), UTC)
    first_text = short_date(first, year=first.year != last.year, say=say)
    return say(texts.PERIOD_WEEK, first=first_text, last=short_date(last, say=say))


def so_far(period: Period, now: datetime) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """[start, now] of a period in progress, and the same stretch of the period before."""
    before = previous_period(period)
    end = min(max(now, period.start) + timedelta(microseconds=1), period.end)  # what happened at `now` counts
    elapsed = end - period.start
    return (period.start, end), (before.start, min(before.start + elapsed, before.end))


def local_midnights(first: date, last: date, tz: ZoneInfo) -> list[datetime]:
    """UTC instants of the local midnights from `first` to the day after `last`."""
    return [_midnight(first + timedelta(days=i), tz) for i in range((last - first).days + 2)]


_VERSUS = {"day": texts.VERSUS_DAY, "week": texts.VERSUS_WEEK, "month": texts.VERSUS_MONTH}
_VERSUS_SO_FAR = {"day": texts.VERSUS_DAY_SO_FAR, "week": texts.VERSUS_WEEK_SO_FAR, "month": texts.VERSUS_MONTH_SO_FAR}


def versus(kind: PeriodName, so_far: bool, say: Voice = _ENGLISH) -> str:
    """What a period is compared with: 'last week', or 'the same point last week' for one in progress."""
    return say((_VERSUS_SO_FAR if so_far else _VERSUS)[kind])
