"""The digest as plain text (adapters escape it for their markup), in the language of its `say`.

Customer text appears only as quotes already folded by `bot.reporting.digest.sanitise_quote`, so an answer
cannot add lines (a fake "WARNING") or reorder the text around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot import texts
from bot.i18n import Voice
from bot.reporting.goals import GoalResult, format_target, format_value, goal_line, round_half_up
from bot.reporting.periods import PeriodName, period_label

if TYPE_CHECKING:
    from bot.reporting.digest import Digest, ThemeCount

_MISSED_TWICE = {"day": texts.MISSED_TWICE_DAY, "week": texts.MISSED_TWICE_WEEK, "month": texts.MISSED_TWICE_MONTH}
_SO_FAR = {"day": texts.DIGEST_HEADING_DAY, "week": texts.DIGEST_HEADING_WEEK, "month": texts.DIGEST_HEADING_MONTH}


def missed_twice_lines(goals: Sequence[GoalResult], kind: PeriodName, say: Voice) -> tuple[str, ...]:
    return tuple(
        say(
            _MISSED_TWICE[kind],
            goal=g.label(say),
            before=format_value(g.metric, g.previous, say),
            now=format_value(g.metric, g.actual, say),
            target=format_target(g.metric, g.target, say),
        )
        for g in goals
        if g.missed_twice
    )


def _heading(d: Digest, say: Voice) -> str:
    poll = say(texts.DIGEST_POLL, poll=d.poll_id) if d.poll_id else ""
    label, zone = period_label(d.period, say), d.period.tz.key
    if d.so_far is None:
        return say(texts.DIGEST_HEADING, period=label, zone=zone, poll=poll)
    until = say.pattern(d.so_far[1], say(texts.DATE_UNTIL), d.period.tz)
    return say(_SO_FAR[d.period.kind], period=label, until=until, zone=zone, poll=poll)


def _counts(d: Digest, say: Voice) -> str:
    asked = say.plural(texts.CUSTOMERS_ASKED, d.customers)
    answers = say.plural(texts.ANSWERS, d.answers)
    rate = say.percent(d.response_rate) if d.delivered else say(texts.NOT_AVAILABLE)
    if d.questions != d.customers:
        return say(
            texts.DIGEST_COUNTS_REPEATED,
            asked=asked,
            questions=say.plural(texts.QUESTIONS, d.questions),
            delivered=say.plural(texts.DELIVERED, d.delivered),
            answers=answers,
            rate=rate,
        )
    delivered = say.plural(texts.QUESTIONS_DELIVERED, d.delivered)
    return say(texts.DIGEST_COUNTS, asked=asked, delivered=delivered, answers=answers, rate=rate)


def _change(theme: ThemeCount, versus: str, say: Voice) -> str:
    if theme.previous is None:
        return ""
    diff = theme.count - theme.previous
    if diff == 0:
        return say(texts.THEME_SAME, versus=versus)
    return say(texts.THEME_UP if diff > 0 else texts.THEME_DOWN, change=say.number(abs(diff)), versus=versus)


def digest_lines(d: Digest) -> list[str]:
    say = d.say
    lines = [_heading(d, say), *d.warnings, _counts(d, say)]
    if d.average_rating is not None:
        shown = format_value("average_rating", round_half_up(d.average_rating, 1), say)  # as in the goal lines
        lines.append(say(texts.AVERAGE_RATING, rating=shown, ratings=say.plural(texts.RATINGS, d.ratings)))
    elif not d.nps_ratings:
        lines.append(say(texts.NO_RATINGS))
    if d.nps is not None:
        lines.append(say(texts.NPS_LINE, nps=say.number(d.nps), ratings=say.plural(texts.RATINGS, d.nps_ratings)))
    if d.goals:
        lines += ["", say(texts.GOALS_HEADING)]
        lines += [goal_line(g, d.versus, say) for g in d.goals]
    if not d.answers:
        lines += ["", say(texts.NO_ANSWERS_YET if d.so_far else texts.NO_ANSWERS)]
        return lines
    if d.liked:
        lines += ["", say(texts.LIKED_HEADING)]
        lines += [f"• {t.name}: {say.plural(texts.ANSWERS, t.count)}{_change(t, d.versus, say)}" for t in d.liked]
    lines += ["", say(texts.FIX_HEADING)]
    if not d.fix:
        lines.append(say(texts.FIX_NOTHING))
    for item in d.fix:
        name = item.name or say(texts.NO_THEME)
        lines.append(f"• {name}: {say.plural(texts.ANSWERS, item.count)}")
        lines += [f"   {q.line()}" for q in item.quotes]
    if d.also:
        lines += ["", say(texts.ALSO_HEADING)]
        lines += [f"• {term}: {say.plural(texts.ANSWERS, n)}" for term, n in d.also]
    return lines
