"""The manager digest: what to keep and what to fix, with the numbers and goals, as text and a chart.

A scheduled digest covers the last complete period; an on-demand one the period so far, compared
with the same stretch of the one before (bot.reporting.periods). What a period counts is described in
`storage.reporting`: the runs created in it, with all their deliveries and answers.

Before counting, the analyser brings the answers of both periods up to date (bot.reporting.analyser), so
theme counts, tones and "also mentioned" terms are sums over per-run tallies in SQL: a digest never
lemmatises a week of answers itself. The text is rendered by bot.reporting.digest_text.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from bot import texts
from bot.config import GoalSettings, Settings
from bot.i18n import Voice
from bot.reporting.analyser import Analyser
from bot.reporting.chart import ChartDay, ChartWords, render_chart_async
from bot.reporting.digest_text import digest_lines, missed_twice_lines
from bot.reporting.goals import GoalResult, evaluate_goal, goal_line, round_half_up, whole_percent
from bot.reporting.periods import (
    PERIODS,
    Period,
    PeriodName,
    current_period,
    digest_timezone,
    last_complete_period,
    local_midnights,
    period_label,
    previous_period,
    short_date,
    so_far,
    versus,
)
from storage.analysis import ALL, NO_THEME
from storage.reporting import DeliveryCounts, PeriodMetrics, Quote, Reports, TallyRow

__all__ = [
    "PERIODS",
    "Digest",
    "build_digest",
    "current_period",
    "goal_status",
    "goals_status_text",
    "last_complete_period",
    "period_label",
    "previous_period",
    "sanitise_quote",
]

QUOTE_LENGTH = 200
THEMES_SHOWN = 6
FIX_QUOTES = 2
TERMS_SHOWN = 8
# Invisible format characters kept in quotes: joiners that emoji sequences and some scripts need.
_KEEP_FORMAT = frozenset({"\u200c", "\u200d"})

Span = tuple[datetime, datetime]


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
        return f"“{self.text}”{rating}"


# ---------------------------------------------------------------------------------------- digest
@dataclass(frozen=True, slots=True)
class ThemeCount:
    name: str
    count: int  # answers in the period
    previous: int | None  # the same in the period compared with; None: nothing to compare


@dataclass(frozen=True, slots=True)
class FixItem:
    name: str  # a theme, or '' for problems that matched no theme
    count: int
    quotes: tuple[QuotedAnswer, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    period: Period
    so_far: Span | None  # set for the period in progress: [start, now)
    compared: Span  # the period (or stretch) the changes are against
    poll_id: str | None
    customers: int  # distinct customers asked
    questions: int  # questions queued (one per run and customer)
    delivered: int
    answers: int
    response_rate: int  # whole percent, half up; 0 when nothing was delivered (the text says n/a)
    average_rating: float | None  # 1-5 polls, exact; None without ratings
    ratings: int
    nps: int | None  # 0-10 polls
    nps_ratings: int
    goals: tuple[GoalResult, ...]
    liked: tuple[ThemeCount, ...]
    fix: tuple[FixItem, ...]
    also: tuple[tuple[str, int], ...]  # frequent words and phrases of answers matching no theme
    days: tuple[ChartDay, ...]
    chart_png: bytes  # empty when built with chart=False
    say: Voice = field(default_factory=lambda: Voice("en"))  # the language of the text

    @property
    def start(self) -> datetime:
        return self.period.start

    @property
    def end(self) -> datetime:
        return self.period.end

    @property
    def versus(self) -> str:
        """'last week', or 'the same point last week' for a period in progress."""
        return versus(self.period.kind, self.so_far is not None, self.say)

    @property
    def warnings(self) -> tuple[str, ...]:
        return missed_twice_lines(self.goals, self.period.kind, self.say) if self.so_far is None else ()

    @property
    def text(self) -> str:
        return "\n".join(digest_lines(self))


def _goals_in_scope(goals: Sequence[GoalSettings], poll_id: str | None) -> list[GoalSettings]:
    """All goals for a whole digest; for a one-poll digest, the goals without a poll or for that poll."""
    return [g for g in goals if poll_id is None or g.poll in (None, poll_id)]


def _metrics(tallies: Iterable[TallyRow], deliveries: DeliveryCounts, poll_id: str | None) -> PeriodMetrics:
    """Goal metrics from the tallies' all-answers rows and the deliveries, for one poll or all."""
    rows = [t for t in tallies if t.theme == ALL and (poll_id is None or t.poll_id == poll_id)]
    five = [t for t in rows if t.scale != 10]
    ten = [t for t in rows if t.scale == 10]
    return PeriodMetrics(
        asked=deliveries.customers,
        delivered=sum(r.delivered for r in deliveries.runs if poll_id is None or r.poll_id == poll_id),
        answers=sum(t.answers for t in rows),
        ratings=sum(t.rated for t in five),
        rating_sum=sum(t.rating_sum for t in five),
        nps_ratings=sum(t.rated for t in ten),
        promoters=sum(t.promoters for t in ten),
        detractors=sum(t.detractors for t in ten),
    )


def _theme_counts(tallies: Iterable[TallyRow], tones: set[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for t in tallies:
        if t.theme not in (ALL, NO_THEME) and t.tone in tones:
            counts[t.theme] += t.answers
    return counts


def _ranked(counts: Counter[str], order: Sequence[str]) -> list[str]:
    """Most answers first; ties in configuration order so the digest is stable."""
    position = {name: i for i, name in enumerate(order)}
    return sorted((n for n, c in counts.items() if c > 0), key=lambda n: (-counts[n], position.get(n, len(order))))


def _lowest(quotes: Iterable[Quote], theme: str, limit: int) -> tuple[QuotedAnswer, ...]:
    """The lowest-rated (relative to the scale) quotes of a theme; the newest first on ties."""
    chosen = sorted(
        (q for q in quotes if q.theme == theme),
        key=lambda q: (q.rating / q.scale, -q.answered_at.timestamp(), -q.answer_id),
    )
    return tuple(QuotedAnswer(sanitise_quote(q.text), q.rating, q.scale) for q in chosen[:limit])


def _also_mentioned(terms: Sequence[tuple[str, int]], limit: int) -> tuple[tuple[str, int], ...]:
    """Frequent terms; a word is left out when a shown phrase with it is about as frequent."""
    phrases = [(t, n) for t, n in terms if " " in t]
    shown: list[tuple[str, int]] = []
    for term, n in terms:
        if " " not in term and any(term in p.split() and n <= pn for p, pn in phrases):
            continue
        shown.append((term, n))
    return tuple(shown[:limit])


def _chart_days(
    period: Period,
    span: Span,
    arrivals: Sequence[tuple[int, int, int, int]],
    tallies: Sequence[TallyRow],
    deliveries: DeliveryCounts,
    say: Voice,
) -> tuple[ChartDay, ...]:
    tz = period.tz
    first = period.first_day
    last = (span[1] - timedelta(microseconds=1)).astimezone(tz).date() if span[1] > span[0] else first
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    by_bucket = {index: (n, rated, total) for index, n, rated, total in arrivals}
    asked: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for run in deliveries.runs:
        asked[(run.created_at.astimezone(tz).date() - first).days][0] += run.delivered
    for t in tallies:
        if t.theme == ALL:
            asked[(t.created_at.astimezone(tz).date() - first).days][1] += t.answers
    out = []
    for i, day in enumerate(days):
        n, rated, total = by_bucket.get(i, (0, 0, 0))
        sent, answered = asked.get(i, (0, 0))
        out.append(
            ChartDay(
                label=say.pattern(_noon(day), say(texts.CHART_DAY), UTC) if len(days) <= 8 else str(day.day),
                answers=n,
                average_rating=total / rated if rated else None,
                response_rate=100 * answered / sent if sent else None,
            )
        )
    later = by_bucket.get(len(days))
    if later is not None and later[0]:
        n, rated, total = later
        out.append(ChartDay(say(texts.CHART_LATER), n, total / rated if rated else None, None))
    return tuple(out)


def chart_words(say: Voice) -> ChartWords:
    return ChartWords(
        answers=say(texts.CHART_ANSWERS),
        rating=say(texts.CHART_RATING),
        rate=say(texts.CHART_RATE),
        rate_axis=say(texts.CHART_RATE_AXIS),
        goal=say.wording(texts.CHART_GOAL),
        empty=say(texts.CHART_EMPTY),
    )


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def _goal_rate(goals: Sequence[GoalSettings], poll_id: str | None) -> float | None:
    """The response-rate target drawn on the chart: the first one for the digest's own scope."""
    return next((g.target for g in goals if g.metric == "response_rate" and g.poll == poll_id), None)


async def build_digest(
    reports: Reports,
    settings: Settings,
    period: PeriodName,
    now: datetime,
    poll_id: str | None = None,
    *,
    current: bool = False,
    chart: bool = True,
    language: str | None = None,
) -> Digest:
    """The digest of the last complete `period` before `now`, or with `current` the one in progress.

    `language`: the reader's platform language (a manager's /digest); None: `[engine] language`.

    `chart=False` skips rendering the image (a constant ~0.2 s of matplotlib) when only the text is needed.
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tz = digest_timezone(settings)
    if current:
        shown = current_period(period, now, tz)
        span, compared = so_far(shown, now)
    else:
        shown = last_complete_period(period, now, tz)
        before = previous_period(shown)
        span, compared = (shown.start, shown.end), (before.start, before.end)

    await Analyser(reports.engine, settings).refresh(now, scope=(compared[0], span[1], poll_id))
    tallies = await reports.tallies(*span, poll_id)
    earlier = await reports.tallies(*compared, poll_id)
    deliveries = await reports.delivery_counts(*span, poll_id)
    earlier_deliveries = await reports.delivery_counts(*compared, poll_id, customers=False)
    last_day = (span[1] - timedelta(microseconds=1)).astimezone(tz).date() if span[1] > span[0] else shown.first_day
    boundaries = local_midnights(shown.first_day, last_day, tz)
    arrivals = [(a.index, a.answers, a.rated, a.rating_sum) for a in await reports.arrivals(*span, boundaries, poll_id)]

    goals = _goals_in_scope(settings.goals, poll_id)
    results = tuple(
        evaluate_goal(
            goal,
            _metrics(tallies, deliveries, goal.poll or poll_id),
            _metrics(earlier, earlier_deliveries, goal.poll or poll_id),
        )
        for goal in goals
    )
    metrics = _metrics(tallies, deliveries, poll_id)
    order = [t.name for t in settings.themes]
    liked_now = _theme_counts(tallies, {"praise", "neutral"})
    liked_before = _theme_counts(earlier, {"praise", "neutral"})
    has_before = bool(earlier_deliveries.runs) or any(t.theme == ALL for t in earlier)
    liked = tuple(
        ThemeCount(name, liked_now[name], liked_before[name] if has_before else None)
        for name in _ranked(liked_now, order)[:THEMES_SHOWN]
    )
    problems = _theme_counts(tallies, {"problem"})
    unthemed = sum(t.answers for t in tallies if t.theme == NO_THEME and t.tone == "problem")
    fix_names = _ranked(problems, order)[:THEMES_SHOWN] + ([NO_THEME] if unthemed else [])
    problems[NO_THEME] = unthemed
    quotes = await reports.quote_candidates(*span, fix_names, poll_id)
    fix = tuple(FixItem(name, problems[name], _lowest(quotes, name, FIX_QUOTES)) for name in fix_names)
    also = _also_mentioned(await reports.top_terms(*span, TERMS_SHOWN * 3, poll_id), TERMS_SHOWN)
    say = settings.voice(language)
    days = _chart_days(shown, span, arrivals, tallies, deliveries, say)
    nps = metrics.nps
    title = say(texts.CHART_TITLE_SO_FAR if current else texts.CHART_TITLE, period=period_label(shown, say))
    return Digest(
        period=shown,
        so_far=span if current else None,
        compared=compared,
        poll_id=poll_id,
        customers=deliveries.customers,
        questions=deliveries.questions,
        delivered=metrics.delivered,
        answers=metrics.answers,
        response_rate=whole_percent(metrics.answers, metrics.delivered),
        average_rating=metrics.average_rating,
        ratings=metrics.ratings,
        nps=None if nps is None else int(round_half_up(nps)),
        nps_ratings=metrics.nps_ratings,
        goals=results,
        liked=liked,
        fix=fix,
        also=also,
        days=days,
        chart_png=await render_chart_async(days, _goal_rate(goals, poll_id), title, chart_words(say)) if chart else b"",
        say=say,
    )


# ---------------------------------------------------------------------------------------- /goals
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


async def goal_status(
    reports: Reports, settings: Settings, now: datetime, period: PeriodName | None = None
) -> tuple[Period, tuple[GoalResult, ...]]:
    """Each goal over the period in progress up to `now`, against the same stretch of the one before."""
    kind = period or settings.digest.period
    current = current_period(kind, now, digest_timezone(settings))
    so_far_span, same_stretch_before = so_far(current, now)
    return current, await _evaluate_goals(reports, settings.goals, so_far_span, same_stretch_before, None)


_GOALS_SO_FAR = {"day": texts.GOALS_SO_FAR_DAY, "week": texts.GOALS_SO_FAR_WEEK, "month": texts.GOALS_SO_FAR_MONTH}


async def goals_status_text(reports: Reports, settings: Settings, now: datetime, language: str | None = None) -> str:
    """The `/goals` reply: one line per goal for the period so far (`language`: the reader's)."""
    say = settings.voice(language)
    if not settings.goals:
        return say(texts.NO_GOALS)
    current, results = await goal_status(reports, settings, now)
    kind = current.kind
    since = short_date(current.first_day, year=False, say=say)
    heading = say(_GOALS_SO_FAR[kind], since=since, zone=current.tz.key)
    # The digest's warning, for the last two complete periods, belongs at the top here too.
    last = last_complete_period(kind, now, current.tz)
    before = previous_period(last)
    complete = await _evaluate_goals(reports, settings.goals, (last.start, last.end), (before.start, before.end), None)
    lines = [*missed_twice_lines(complete, kind, say), heading]
    compared = versus(kind, True, say)
    return "\n".join(lines + [goal_line(r, compared, say) for r in results])
