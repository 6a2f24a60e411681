"""Praise, problem or neutral: an answer's tone, read from its rating on its run's scale.

On 1-5: 1-3 is a problem, 4-5 praise. On 0-10 (the NPS scale): 0-6 is a problem (a detractor),
9-10 praise (a promoter), 7-8 neutral. Unrated answers are neutral. The same rule exists twice,
for Python (`tone`) and for SQL (`tone_sql`); a test holds them to each other.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import ColumnElement, case

Tone = Literal["praise", "neutral", "problem"]
TONES: tuple[Tone, ...] = ("praise", "neutral", "problem")

NPS_SCALE = 10


def tone(rating: int | None, scale: int) -> Tone:
    if rating is None:
        return "neutral"
    if scale == NPS_SCALE:
        return "problem" if rating <= 6 else "praise" if rating >= 9 else "neutral"
    return "problem" if rating <= 3 else "praise"


def tone_sql(rating: ColumnElement[int], scale: ColumnElement[int]) -> ColumnElement[str]:
    return case(
        (rating.is_(None), "neutral"),
        ((scale == NPS_SCALE) & (rating <= 6), "problem"),
        ((scale == NPS_SCALE) & (rating >= 9), "praise"),
        (scale == NPS_SCALE, "neutral"),
        (rating <= 3, "problem"),
        else_="praise",
    )
