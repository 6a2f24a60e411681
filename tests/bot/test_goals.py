"""Goals judged on the numbers as shown, with the change against the previous period."""

from __future__ import annotations

import pytest

from bot.config import GoalSettings
from bot.reporting.goals import GoalResult, evaluate_goal, goal_line, metric_value, round_half_up, whole_percent
from storage.reporting import PeriodMetrics


def metrics(
    delivered: int = 0,
    answers: int = 0,
    ratings: tuple[int, ...] = (),
    nps: tuple[int, ...] = (),
) -> PeriodMetrics:
    return PeriodMetrics(
        asked=delivered,
        delivered=delivered,
        answers=answers,
        ratings=len(ratings),
        rating_sum=sum(ratings),
        nps_ratings=len(nps),
        promoters=sum(1 for r in nps if r >= 9),
        detractors=sum(1 for r in nps if r <= 6),
    )


THIS_WEEK = metrics(delivered=8, answers=3, ratings=(5, 4, 3))
LAST_WEEK = metrics(delivered=10, answers=3, ratings=(5, 5, 5))


@pytest.mark.parametrize(
    ("part", "whole", "expected"), [(3, 8, 38), (1, 8, 13), (1, 3, 33), (2, 3, 67), (8, 8, 100), (0, 5, 0), (0, 0, 0)]
)
def test_whole_percent_rounds_half_up(part: int, whole: int, expected: int) -> None:
    assert whole_percent(part, whole) == expected


def test_round_half_up_is_not_bankers_rounding() -> None:
    assert round_half_up(4.25, 1) == 4.3 and round_half_up(4.15, 1) == 4.2
    assert round_half_up(2.5) == 3 and round_half_up(-12.5) == -13


def test_metric_values_and_missing_data() -> None:
    assert metric_value(THIS_WEEK, "response_rate") == 38
    assert metric_value(THIS_WEEK, "average_rating") == 4.0
    assert metric_value(THIS_WEEK, "answers") == 3
    assert metric_value(THIS_WEEK, "nps") is None
    assert metric_value(metrics(), "response_rate") is None
    assert metric_value(metrics(), "answers") == 0
    assert metric_value(metrics(nps=(10, 9, 9, 7, 3)), "nps") == 40
    assert metric_value(metrics(nps=(0, 3, 9)), "nps") == -33


def test_met_goal_with_improvement() -> None:
    result = evaluate_goal(GoalSettings(metric="response_rate", target=33), THIS_WEEK, LAST_WEEK)
    assert (result.actual, result.previous, result.met, result.change) == (38, 30, True, 8)
    assert not result.missed_twice
    assert goal_line(result) == "✅ Response rate 38% – target 33% – met, up 8 points on last week"


def test_missed_goal_after_a_met_one_is_not_missed_twice() -> None:
    result = evaluate_goal(GoalSettings(metric="average_rating", target=4.2), THIS_WEEK, LAST_WEEK)
    assert (result.met, result.previous_met, result.missed_twice) == (False, True, False)
    assert goal_line(result, "yesterday") == "❌ Average rating 4.0 – target 4.2 – missed, down 1.0 on yesterday"


def test_goal_missed_two_periods_in_a_row() -> None:
    result = evaluate_goal(GoalSettings(metric="answers", target=5, poll="visit"), THIS_WEEK, LAST_WEEK)
    assert result.missed_twice
    assert goal_line(result) == "❌ Answers (poll visit) 3 – target 5 – missed, same as last week"


def test_goal_is_judged_on_the_value_shown() -> None:
    # 104 / 25 = 4.16, shown as 4.2: a manager must not read "4.2 (target 4.2)" with a cross.
    close = metrics(delivered=30, answers=25, ratings=(5,) * 4 + (4,) * 21)
    assert close.average_rating == 4.16
    assert evaluate_goal(GoalSettings(metric="average_rating", target=4.2), close, close).met is True
    # 32.6 % is shown as 33 %.
    assert evaluate_goal(GoalSettings(metric="response_rate", target=33), metrics(46, 15), metrics()).met is True


def test_no_data_is_neither_met_nor_missed() -> None:
    result = evaluate_goal(GoalSettings(metric="response_rate", target=33), metrics(), metrics())
    assert (result.met, result.previous_met, result.change, result.missed_twice) == (None, None, None, False)
    assert goal_line(result) == "➖ Response rate n/a – target 33% – no data yet"
    first = evaluate_goal(GoalSettings(metric="response_rate", target=33), THIS_WEEK, metrics())
    assert goal_line(first) == "✅ Response rate 38% – target 33% – met, nothing to compare with last week"


def test_goal_results_are_frozen() -> None:
    result = GoalResult(metric="nps", target=30, poll=None, actual=40, previous=20)
    with pytest.raises(AttributeError):
        result.actual = 0  # type: ignore[misc]
    assert goal_line(result) == "✅ NPS 40 – target 30 – met, up 20 points on last week"
