"""Standard 5-field cron on top of APScheduler 3's CronTrigger.

APScheduler 3 numbers weekdays from Monday = 0, and `CronTrigger.from_crontab` passes numeric
weekdays through unchanged, so a crontab's `1` (Monday) would fire on Tuesdays. Here numeric
weekdays (0 or 7 = Sunday) are rewritten to names before APScheduler sees them.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


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
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    weekday = ",".join(_weekday_term(term) for term in weekday.lower().split(","))
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=weekday, timezone=timezone)
