"""The digest chart is a readable PNG of the expected size, rendered off the event loop."""

from __future__ import annotations

import io
import threading
from datetime import date, timedelta

import numpy as np
import pytest
from PIL import Image

from bot import chart
from bot.chart import render_chart, render_chart_async
from storage.reporting import DayPoint

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WEEK = [
    DayPoint(date(2026, 3, 2) + timedelta(days=i), delivered, answers)
    for i, (delivered, answers) in enumerate([(0, 0), (8, 3), (0, 0), (5, 4), (0, 0), (0, 0), (10, 1)])
]


def decode(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


def test_chart_is_a_900_by_500_png_that_is_not_blank() -> None:
    pixels = decode(render_chart(WEEK, 33.0, "Answers and response rate – week Mon 2 Mar – Sun 8 Mar 2026"))
    assert pixels.shape == (500, 900, 3)
    assert pixels.std() > 10  # not one flat colour
    colours = {tuple(c) for c in pixels.reshape(-1, 3)[::7]}
    assert len(colours) > 20
    # The bars, the rate line and the goal line are all drawn.
    for hex_colour in (chart.BAR_COLOUR, chart.RATE_COLOUR, chart.GOAL_COLOUR):
        rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(pixels.astype(int) - rgb).sum(axis=2) < 40).sum() > 50, hex_colour


def test_empty_period_and_a_month_still_render() -> None:
    empty = [DayPoint(date(2026, 3, 2) + timedelta(days=i), 0, 0) for i in range(7)]
    assert decode(render_chart(empty, None, "Nothing yet")).shape == (500, 900, 3)
    month = [DayPoint(date(2026, 1, 1) + timedelta(days=i), 10, i % 7) for i in range(31)]
    assert decode(render_chart(month, 120.0, "January 2026")).shape == (500, 900, 3)


async def test_async_rendering_runs_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    real = chart.render_chart

    def spy(*args: object) -> bytes:
        threads.append(threading.current_thread().name)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(chart, "render_chart", spy)
    png = await render_chart_async(WEEK, None, "week")
    assert png.startswith(PNG_SIGNATURE)
    assert threads and threads[0] != threading.main_thread().name
