"""The digest chart, drawn to be read as a chat thumbnail.

Two panels sharing the days: on top, answers by the day they arrived (bars) with the average
rating of those answers (line, its own 1-5 axis on the right); below, the response rate of the
questions asked each day (line) with the response-rate goal drawn on that same percent axis. An
empty period says so on the image. Large type and thick lines keep it legible at ~400 px wide.

Built on `matplotlib.figure.Figure` with the Agg canvas, never pyplot: no global figure state, so
rendering is safe in a worker thread. Async code calls `render_chart_async`. matplotlib is imported
on the first chart, not with the module: a process that never draws one (most `feedbot run`
processes between digests) does not carry its ~40 MB.
"""

from __future__ import annotations

import asyncio
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH_PX, HEIGHT_PX, DPI = 1000, 700, 100
MAX_LABELS = 8
FONT = 17

BAR_COLOUR = "#4C72B0"
RATING_COLOUR = "#C44E52"
RATE_COLOUR = "#DD8452"
GOAL_COLOUR = "#2E8B57"


@dataclass(frozen=True, slots=True)
class ChartWords:
    """The words on the chart, in the digest's language (bot.texts); English by default."""

    answers: str = "Answers"
    rating: str = "Avg rating"
    rate: str = "Response rate"
    rate_axis: str = "Response %"
    goal: str = "Goal {goal}"  # {goal}: the target, as a percent
    empty: str = "no answers yet"


@dataclass(frozen=True, slots=True)
class ChartDay:
    label: str  # "Mon 2" or "later"
    answers: int  # answers that arrived that day
    average_rating: float | None  # of those answers, 1-5 polls only
    response_rate: float | None  # of the questions asked that day (runs created that day), percent


def render_chart(
    days: Sequence[ChartDay], goal_rate: float | None, title: str, words: ChartWords = ChartWords()
) -> bytes:
    """A 1000x700 PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    fig.subplots_adjust(left=0.085, right=0.915, top=0.93, bottom=0.15, hspace=0.1)  # fixed: layout engines cost ~40%
    FigureCanvasAgg(fig)
    answers_ax, rate_ax = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    positions = list(range(len(days)))
    answers = [d.answers for d in days]

    answers_ax.bar(positions, answers, color=BAR_COLOUR, width=0.7, label=words.answers)
    answers_ax.set_ylim(0, max([1, *answers]) * 1.2)
    answers_ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    answers_ax.set_ylabel(words.answers, fontsize=FONT)
    answers_ax.set_title(title, fontsize=FONT + 2, loc="left")
    rating_ax = answers_ax.twinx()
    ratings = [math.nan if d.average_rating is None else d.average_rating for d in days]
    rating_ax.plot(positions, ratings, color=RATING_COLOUR, marker="o", markersize=9, linewidth=3, label=words.rating)
    rating_ax.set_ylim(0.5, 5.5)
    rating_ax.set_yticks([1, 3, 5])
    rating_ax.set_ylabel(words.rating, fontsize=FONT, color=RATING_COLOUR)
    if sum(answers) == 0:
        answers_ax.text(
            0.5, 0.5, words.empty, transform=answers_ax.transAxes, ha="center", va="center", fontsize=FONT + 12
        )

    rates = [math.nan if d.response_rate is None else d.response_rate for d in days]
    rate_ax.plot(positions, rates, color=RATE_COLOUR, marker="s", markersize=9, linewidth=3, label=words.rate)
    top = max([100.0, *(r for r in rates if not math.isnan(r)), goal_rate or 0.0]) * 1.08
    rate_ax.set_ylim(0, top)
    rate_ax.set_yticks([0, 50, 100])
    rate_ax.set_ylabel(words.rate_axis, fontsize=FONT)
    if goal_rate is not None:
        rate_ax.axhline(
            goal_rate, color=GOAL_COLOUR, linestyle="--", linewidth=3, label=words.goal.format(goal=f"{goal_rate:g}%")
        )

    step = max(1, math.ceil(len(days) / MAX_LABELS))
    rate_ax.set_xticks(positions[::step], [d.label for d in days[::step]])
    if positions:
        rate_ax.set_xlim(-0.6, len(days) - 0.4)
    for ax in (answers_ax, rating_ax, rate_ax):
        ax.tick_params(labelsize=FONT - 1)
    answers_ax.grid(axis="y", alpha=0.3)
    rate_ax.grid(axis="y", alpha=0.3)
    handles, labels = [], []
    for ax in (answers_ax, rating_ax, rate_ax):
        more_handles, more_labels = ax.get_legend_handles_labels()
        handles += more_handles
        labels += more_labels
    fig.legend(handles, labels, loc="lower center", ncols=len(labels), frameon=False, fontsize=FONT - 1)

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


async def render_chart_async(
    days: Sequence[ChartDay], goal_rate: float | None, title: str, words: ChartWords = ChartWords()
) -> bytes:
    """`render_chart` in a worker thread, so the event loop keeps serving chats meanwhile."""
    return await asyncio.to_thread(render_chart, tuple(days), goal_rate, title, words)
