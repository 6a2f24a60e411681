"""The digest as plain text (adapters escape it for their markup).

Customer text appears only as quotes already folded by `bot.reporting.digest.sanitise_quote`, so an answer
cannot add lines (a fake "WARNING") or reorder the text around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.reporting.goals import GoalResult, format_target, format_value, goal_line, round_half_up
from bot.reporting.periods import period_label

if TYPE_CHECKING:
    from bot.reporting.digest import Digest, ThemeCount


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def missed_twice_lines(goals: Sequence[GoalResult], unit: str) -> tuple[str, ...]:
    return tuple(
        f"⚠️ WARNING: goal {g.label} missed two {unit}s in a row "
        f"({format_value(g.metric, g.previous)} the {unit} before, {format_value(g.metric, g.actual)} now; "
        f"target {format_target(g.metric, g.target)})"
        for g in goals
        if g.missed_twice
    )


def _heading(d: Digest) -> str:
    scope = f" – poll {d.poll_id}" if d.poll_id else ""
    if d.so_far is None:
        return f"Feedback digest – {period_label(d.period)} ({d.period.tz.key}){scope}"
    until = d.so_far[1].astimezone(d.period.tz)
    return (
        f"Feedback digest – this {d.period.kind} so far ({period_label(d.period)}, "
        f"until {until:%a} {until.day} {until:%b %H:%M} {d.period.tz.key}){scope}"
    )


def _counts(d: Digest) -> str:
    asked = count(d.customers, "customer") + " asked"
    if d.questions != d.customers:
        asked += f" {count(d.questions, 'question')}"
        delivered = f"{d.delivered} delivered"
    else:
        delivered = f"{count(d.delivered, 'question')} delivered"
    rate = f"{d.response_rate}%" if d.delivered else "n/a"
    line = f"{asked}, {delivered}, {count(d.answers, 'answer')} – response rate {rate}"
    if d.care.asked_recently:
        line += f" (skipped: asked recently {d.care.asked_recently})"
    return line


def _care(d: Digest) -> list[str]:
    """Unhappy customers, and how many of them staff answered (/reply)."""
    if not d.care.unhappy:
        return []
    return [f"{count(d.care.unhappy, 'unhappy customer')}, {d.care.answered_by_staff} answered by staff"]


def _change(theme: ThemeCount, versus: str) -> str:
    if theme.previous is None:
        return ""
    diff = theme.count - theme.previous
    if diff == 0:
        return f", same as {versus}"
    return f", {'up' if diff > 0 else 'down'} {abs(diff)} on {versus}"


def digest_lines(d: Digest) -> list[str]:
    lines = [_heading(d), *d.warnings, _counts(d)]
    if d.average_rating is not None:
        shown = format_value("average_rating", round_half_up(d.average_rating, 1))  # as in the goal lines
        lines.append(f"Average rating {shown} / 5 ({count(d.ratings, 'rating')})")
    elif not d.nps_ratings:
        lines.append("Average rating n/a (no ratings)")
    if d.nps is not None:
        lines.append(f"NPS {d.nps} ({count(d.nps_ratings, 'rating')} on 0-10)")
    lines += _care(d)
    if d.goals:
        lines += ["", "Goals:"]
        lines += [goal_line(g, d.versus) for g in d.goals]
    if not d.answers:
        lines += ["", "No answers in this period yet." if d.so_far else "No answers in this period."]
        return lines
    if d.liked:
        lines += ["", "What customers liked:"]
        lines += [f"• {t.name}: {count(t.count, 'answer')}{_change(t, d.versus)}" for t in d.liked]
    lines += ["", "What to fix:"]
    if not d.fix:
        lines.append("• nothing: no answer was rated low (1-3 of 5, 0-6 of 10)")
    for item in d.fix:
        name = item.name or "Other (no theme)"
        lines.append(f"• {name}: {count(item.count, 'answer')}")
        lines += [f"   {q.line()}" for q in item.quotes]
    if d.also:
        lines += ["", "Also mentioned (answers that matched no theme):"]
        lines += [f"• {term}: {count(n, 'answer')}" for term, n in d.also]
    return lines
