"""The digest chart: answers per day (bars), response rate per day (line), the goal (dashed line).

Built on `matplotlib.figure.Figure` with the Agg canvas, never pyplot: no global figure state, so
rendering is safe in a worker thread. Rendering is CPU-bound; async code calls `render_chart_async`.
"""

from __future__ import annotations

import asyncio
import io
import math
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from storage.reporting import DayPoint

WIDTH_PX, HEIGHT_PX, DPI = 900, 500, 100
MAX_LABELS = 10
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

BAR_COLOUR = "#4C72B0"
RATE_COLOUR = "#DD8452"
GOAL_COLOUR = "#55A868"


def _day_label(point: DayPoint, with_weekday: bool) -> str:
    label = f"{point.day.day} {_MONTHS[point.day.month - 1]}"
    return f"{_WEEKDAYS[point.day.weekday()]}\n{label}" if with_weekday else label


def render_chart(series: Sequence[DayPoint], goal_rate: float | None, title: str) -> bytes:
    """A ~900x500 PNG. Days with nothing delivered have no rate: the line has a gap there."""
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    answers_ax = fig.add_subplot()
    rate_ax = answers_ax.twinx()

    positions = list(range(len(series)))
    answers_ax.bar(positions, [p.answers for p in series], color=BAR_COLOUR, alpha=0.85, label="Answers")
    rates = [math.nan if p.response_rate is None else p.response_rate for p in series]
    rate_ax.plot(positions, rates, color=RATE_COLOUR, marker="o", linewidth=2, label="Response rate %")
    if goal_rate is not None:
        rate_ax.axhline(goal_rate, color=GOAL_COLOUR, linestyle="--", linewidth=1.5, label=f"Goal {goal_rate:g}%")

    step = max(1, math.ceil(len(series) / MAX_LABELS))
    answers_ax.set_xticks(positions[::step], [_day_label(p, len(series) <= 7) for p in series[::step]])
    if positions:
        answers_ax.set_xlim(-0.6, len(series) - 0.4)
    answers_ax.set_ylim(bottom=0, top=max([1, *(p.answers for p in series)]) * 1.15)
    answers_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    answers_ax.set_ylabel("Answers per day")
    answers_ax.grid(axis="y", alpha=0.3)
    rate_ax.set_ylim(0, max(100.0, goal_rate or 0.0) * 1.05)
    rate_ax.set_ylabel("Response rate (%)")
    answers_ax.set_title(title)

    handles, labels = answers_ax.get_legend_handles_labels()
    more_handles, more_labels = rate_ax.get_legend_handles_labels()
    fig.legend(handles + more_handles, labels + more_labels, loc="outside lower center", ncols=3, frameon=False)

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


async def render_chart_async(series: Sequence[DayPoint], goal_rate: float | None, title: str) -> bytes:
    """`render_chart` in a worker thread, so the event loop keeps serving chats meanwhile."""
    return await asyncio.to_thread(render_chart, tuple(series), goal_rate, title)
