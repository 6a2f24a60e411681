"""The values behind buttons: small types with `render()` and one `parse()`.

A value carries what it needs (the run it belongs to), so buttons keep working after a restart.
Rendered values are at most 64 bytes (Telegram's callback_data limit).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_RUN_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class RateChoice:
    """A rating button: `rate:RUN:SCORE`."""

    run_id: int
    score: int

    def render(self) -> str:
        return f"rate:{self.run_id}:{self.score}"


@dataclass(frozen=True, slots=True)
class AnswerChoice:
    """Attached to a TEXT Inbound: 'this text answers run N' (and optionally rates it)."""

    run_id: int
    rating: int | None = None

    def render(self) -> str:
        return f"answer:{self.run_id}" if self.rating is None else f"answer:{self.run_id}:{self.rating}"


@dataclass(frozen=True, slots=True)
class ForgetChoice:
    """The /forget confirmation buttons."""

    confirmed: bool

    def render(self) -> str:
        return "forget:yes" if self.confirmed else "forget:no"


ChoiceValue = RateChoice | AnswerChoice | ForgetChoice


def _small_int(text: str) -> int | None:
    if not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if value <= MAX_RUN_ID else None


def parse_choice(value: str | None) -> ChoiceValue | None:
    """The choice a value names, or None for anything malformed (never raises)."""
    if not value:
        return None
    parts = value.split(":")
    if parts[0] == "forget" and len(parts) == 2 and parts[1] in ("yes", "no"):
        return ForgetChoice(parts[1] == "yes")
    if parts[0] == "rate" and len(parts) == 3:
        run_id, score = _small_int(parts[1]), _small_int(parts[2])
        return None if run_id is None or score is None else RateChoice(run_id, score)
    if parts[0] == "answer" and len(parts) in (2, 3):
        run_id = _small_int(parts[1])
        if run_id is None:
            return None
        rating = _small_int(parts[2]) if len(parts) == 3 and parts[2] != "" else None
        return AnswerChoice(run_id, rating)
    return None


def rating_choice(run_id: int, value: int) -> str:
    return RateChoice(run_id, value).render()


def answer_choice(run_id: int, rating: int | None = None) -> str:
    return AnswerChoice(run_id, rating).render()


FORGET_YES = ForgetChoice(True).render()
FORGET_NO = ForgetChoice(False).render()
