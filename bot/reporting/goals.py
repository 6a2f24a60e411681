"""Goals measured against a period's metrics. Pure functions: the caller fetches the metrics.

A goal is judged on the value as shown (response rate and NPS in whole numbers, average rating to
one decimal, all rounded half up), so a manager never reads "4.2 (target 4.2)" next to a red cross.
For every metric higher is better: met means actual >= target. A period without data for a rate
(nothing delivered, nothing rated) has no actual value: the goal is neither met nor missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from bot import texts
from bot.config import GoalSettings
from bot.i18n import Voice
from bot.texts import Text
from storage.reporting import PeriodMetrics

Metric = Literal["response_rate", "average_rating", "answers", "nps"]

PLACES: dict[str, int] = {"response_rate": 0, "average_rating": 1, "answers": 0, "nps": 0}
NAMES: dict[str, Text] = {
    "response_rate": texts.METRIC_RESPONSE_RATE,
    "average_rating": texts.METRIC_AVERAGE_RATING,
    "answers": texts.METRIC_ANSWERS,
    "nps": texts.METRIC_NPS,
}
_ENGLISH = Voice("en")
_POINTS = frozenset({"response_rate", "nps"})  # changes of a percentage or a score are points


def round_half_up(value: float, places: int = 0) -> float:
    """Round as people do (37.5 -> 38, 4.25 -> 4.3; halves away from zero), not banker's rounding."""
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def whole_percent(part: int, whole: int) -> int:
    """part / whole as a whole percentage rounded half up (3/8 -> 38); 0 when whole is 0."""
    if whole <= 0:
        return 0
    return (200 * part + whole) // (2 * whole)


def metric_value(metrics: PeriodMetrics, metric: Metric) -> float | None:
    """The metric as shown in a digest, or None when the period has no data for it."""
    if metric == "answers":
        return float(metrics.answers)
    if metric == "response_rate":
        return float(whole_percent(metrics.answers, metrics.delivered)) if metrics.delivered else None
    raw = metrics.average_rating if metric == "average_rating" else metrics.nps
    return None if raw is None else round_half_up(raw, PLACES[metric])


@dataclass(frozen=True, slots=True)
class GoalResult:
    metric: Metric
    target: float
    poll: str | None
    actual: float | None
    previous: float | None  # the same metric in the previous period

    @property
    def met(self) -> bool | None:
        return None if self.actual is None else self.actual >= self.target

    @property
    def previous_met(self) -> bool | None:
        return None if self.previous is None else self.previous >= self.target

    @property
    def change(self) -> float | None:
        if self.actual is None or self.previous is None:
            return None
        return round_half_up(self.actual - self.previous, PLACES[self.metric])

    @property
    def missed_twice(self) -> bool:
        """Missed in this period and in the one before (periods without data do not count)."""
        return self.met is False and self.previous_met is False

    def label(self, say: Voice = _ENGLISH) -> str:
        """'Response rate', or 'Response rate (poll visit)' for a one-poll goal."""
        name = say(NAMES[self.metric])
        return say(texts.GOAL_OF_POLL, goal=name, poll=self.poll) if self.poll else name


def evaluate_goal(goal: GoalSettings, current: PeriodMetrics, previous: PeriodMetrics) -> GoalResult:
    """`current` and `previous` must already be limited to the goal's poll, if it names one."""
    return GoalResult(
        metric=goal.metric,
        target=goal.target,
        poll=goal.poll,
        actual=metric_value(current, goal.metric),
        previous=metric_value(previous, goal.metric),
    )


def format_value(metric: Metric, value: float | None, say: Voice = _ENGLISH) -> str:
    if value is None:
        return say(texts.NOT_AVAILABLE)
    if metric == "average_rating":
        return say.number(value, 1)
    return say.percent(value) if metric == "response_rate" else say.number(value)


def format_target(metric: Metric, target: float, say: Voice = _ENGLISH) -> str:
    return say.percent(target) if metric == "response_rate" else say.number(target)


def format_change(result: GoalResult, versus: str = "last week", say: Voice = _ENGLISH) -> str:
    """'up 5 points on last week', 'down 0.2 on yesterday', 'same as last month'."""
    change = result.change
    if change is None:
        return say(texts.CHANGE_NONE, versus=versus) if result.actual is not None else ""
    if change == 0:
        return say(texts.CHANGE_SAME, versus=versus)
    size = abs(change)
    if result.metric == "average_rating":
        amount = say.number(size, 1)
    elif result.metric in _POINTS and float(size).is_integer():
        amount = say.plural(texts.POINTS, int(size))
    else:
        amount = say.number(size)
    return say(texts.CHANGE_UP if change > 0 else texts.CHANGE_DOWN, change=amount, versus=versus)


def goal_line(result: GoalResult, versus: str = "last week", say: Voice = _ENGLISH) -> str:
    """'✅ Response rate 62% – target 60% – met, up 5 points on last week'."""
    mark = {True: "✅", False: "❌", None: "➖"}[result.met]
    status = {True: texts.GOAL_MET, False: texts.GOAL_MISSED, None: texts.GOAL_NO_DATA}[result.met]
    line = say(
        texts.GOAL_LINE,
        mark=mark,
        goal=result.label(say),
        value=format_value(result.metric, result.actual, say),
        target=format_target(result.metric, result.target, say),
        status=say(status),
    )
    if result.actual is None:
        return line
    return f"{line}, {format_change(result, versus, say)}"


def _plain(value: float) -> str:
    """33.0 -> '33', 4.25 -> '4.25'."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
