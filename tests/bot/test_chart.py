"""The digest chart is a readable PNG: answers by day, the rating line, the rate with its goal."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image

from bot.reporting import chart
from bot.reporting.chart import ChartDay, render_chart, render_chart_async

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WEEK = [
    ChartDay(label, answers, rating, rate)
    for label, answers, rating, rate in [
        ("Mon 2", 0, None, None),
        ("Tue 3", 3, 4.0, 37.5),
        ("Wed 4", 5, 2.5, None),
        ("Thu 5", 4, 4.5, 80.0),
        ("Fri 6", 0, None, None),
        ("Sat 7", 0, None, None),
        ("Sun 8", 1, 5.0, 10.0),
    ]
]


def decode(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


def pixels_of(pixels: np.ndarray, hex_colour: str) -> np.ndarray:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return np.abs(pixels.astype(int) - rgb).sum(axis=2) < 40


def test_chart_draws_bars_rating_rate_and_goal() -> None:
    pixels = decode(render_chart(WEEK, 33.0, "Feedback – week Mon 2 Mar – Sun 8 Mar 2026"))
    assert pixels.shape == (700, 1000, 3)
    for colour in (chart.BAR_COLOUR, chart.RATING_COLOUR, chart.RATE_COLOUR, chart.GOAL_COLOUR):
        assert pixels_of(pixels, colour).sum() > 200, colour


def test_the_goal_is_drawn_on_the_response_rate_panel() -> None:
    pixels = decode(render_chart(WEEK, 33.0, "week"))
    rows = np.nonzero(pixels_of(pixels, chart.GOAL_COLOUR).sum(axis=1) > 300)[0]  # the dashed line's rows
    assert rows.size and rows.min() > pixels.shape[0] * 0.55  # in the lower (percent) panel
    bars = np.nonzero(pixels_of(pixels, chart.BAR_COLOUR).any(axis=1))[0]
    above_legend = bars[bars < pixels.shape[0] * 0.9]
    assert above_legend.max() < rows.min()  # the bars (answers panel) are all above it


def test_an_empty_period_says_no_answers_yet_and_stays_readable_as_a_thumbnail() -> None:
    empty = [ChartDay(f"D{i}", 0, None, None) for i in range(7)]
    png = render_chart(empty, None, "Nothing yet")
    pixels = decode(png)
    upper = pixels[: pixels.shape[0] // 2]
    dark = (upper.sum(axis=2) < 200).sum()
    assert dark > 2000  # the large "no answers yet" text
    with Image.open(io.BytesIO(png)) as image:
        thumb = np.asarray(image.convert("L").resize((400, 280)))
    assert (thumb < 128).sum() > 400  # the text and axes survive at chat-thumbnail size


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
