"""Standard 5-field cron in an IANA time zone, with wall-clock semantics that survive DST.

Two problems with APScheduler 3.11's CronTrigger are avoided here:
- `CronTrigger.from_crontab` passes numeric weekdays through unchanged, but APScheduler numbers
  weekdays from Monday = 0, so a crontab's `1` (Monday) would fire on Tuesdays. Numeric weekdays
  (0 or 7 = Sunday) are rewritten to names.
- Across an autumn DST change a CronTrigger in a DST zone can return fire times that go backwards
  (`*/20` in Europe/Berlin on 25 Oct 2026: 01:00 UTC, then 00:20 UTC again), which sends any loop over
  its fire times – APScheduler's own misfire loop included – round forever.

So the cron is evaluated on naive local wall-clock time (a CronTrigger in UTC, which has no DST), and
each wall-clock time is then placed in the zone: a time in the repeated autumn hour fires once (its
first occurrence), a time in the skipped spring hour fires when the clock jumps (02:30 -> 03:30).
`WallClockCronTrigger` is an APScheduler trigger built on that, so the scheduler itself uses it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Wider than any UTC offset change, so fire times near the edges of a window are never missed.
_SLACK = timedelta(hours=3)
_HORIZON = timedelta(days=4 * 366 + 1)  # leap days (29 Feb) fire once in four years


def _weekday_term(term: str) -> str:
    body, _, step_text = term.partition("/")
    step = int(step_text) if step_text else 1
    if step < 1:
        raise ValueError(f"bad step in weekday {term!r}")
    if body == "*":
        if not step_text:
            return "*"
        first, last = 0, 6
    elif "-" in body:
        a, b = body.split("-", 1)
        if not (a.isdigit() and b.isdigit()):
            return term  # names: APScheduler understands them
        first, last = int(a), int(b)
    elif body.isdigit():
        first = last = int(body)
        if step_text:
            last = 6
    else:
        return term
    if not (0 <= first <= 7 and 0 <= last <= 7) or first > last:
        raise ValueError(f"weekday {term!r} out of range (0-7, 0 and 7 are Sunday)")
    return ",".join(dict.fromkeys(_NAMES[n] for n in range(first, last + 1, step)))


def cron_trigger(expr: str, timezone: ZoneInfo) -> CronTrigger:
    """An APScheduler CronTrigger for a standard crontab expression (weekdays fixed, DST not)."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    weekday = ",".join(_weekday_term(term) for term in weekday.lower().split(","))
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=weekday, timezone=timezone)


class WallClockCronTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 ships no type hints
    """A 5-field cron in `tz` with wall-clock semantics (see the module docstring)."""

    def __init__(self, expr: str, tz: ZoneInfo) -> None:
        self.expr = expr
        self.timezone = tz
        self._wall = cron_trigger(expr, ZoneInfo("UTC"))  # naive local wall-clock, no DST

    def __str__(self) -> str:
        return f"cron[{self.expr}] in {self.timezone.key}"

    def _placed(self, wall_utc: datetime) -> datetime:
        """The real UTC instant of a wall-clock time (fold=0: the first of a repeated hour)."""
        return wall_utc.replace(tzinfo=self.timezone).astimezone(UTC)

    def _walls_from(self, instant: datetime) -> Iterator[datetime]:
        cursor = instant.astimezone(self.timezone).replace(tzinfo=UTC) - _SLACK
        previous = None
        while True:
            wall = self._wall.get_next_fire_time(previous, cursor)
            if wall is None:
                return
            yield wall
            previous, cursor = wall, wall + timedelta(microseconds=1)

    def fire_times(self, start: datetime, end: datetime) -> list[datetime]:
        """Every fire time within [start, end], ascending, as aware UTC datetimes."""
        last_wall = end.astimezone(self.timezone).replace(tzinfo=UTC) + _SLACK
        found: set[datetime] = set()
        for wall in self._walls_from(start):
            if wall > last_wall:
                break
            when = self._placed(wall)
            if start <= when <= end:
                found.add(when)
        return sorted(found)

    def next_after(self, instant: datetime) -> datetime | None:
        """The first fire time strictly after `instant`."""
        best: datetime | None = None
        best_wall: datetime | None = None
        for wall in self._walls_from(instant):
            if best_wall is not None and wall > best_wall + _SLACK:
                break
            if wall > instant.astimezone(self.timezone).replace(tzinfo=UTC) + _HORIZON:
                break
            when = self._placed(wall)
            if when > instant and (best is None or when < best):
                best, best_wall = when, wall
        return best

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        # APScheduler asks for the next time at or after `now`, or after the previous fire time when it
        # collects missed runs; strictly increasing answers make its loops always end.
        if previous_fire_time is not None:
            found = self.next_after(previous_fire_time)
        else:
            found = self.next_after(now - timedelta(microseconds=1))
        return None if found is None else found.astimezone(self.timezone)
