"""Outbound at the Telegram edge: `Outbound` -> the Bot API calls to make. Free of I/O.

Text goes out as plain text (no parse_mode), so customer text quoted in a message can never turn
into markup. Telegram counts lengths in UTF-16 code units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.types import Choice, Image, Outbound

MAX_TEXT = 4096  # message text, in UTF-16 code units (how Telegram counts)
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True)
class Part:
    """One Bot API call: a text message, or a photo with an optional caption."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None
    photo: Image | None = None
    reply_to: int | None = None


def render(message: Outbound) -> list[Part]:
    """The calls that deliver `message`: long text is split, the keyboard rides on the last part."""
    keyboard = build_keyboard(message.choices)
    private = message.chat.chat_id.isdigit()
    # In a private chat the conversation is one to one: quoting every message only adds noise.
    reply_to = int(message.reply_to) if message.reply_to and message.reply_to.isdigit() and not private else None
    texts = split_text(message.text)
    parts: list[Part] = []
    if message.image is not None:
        if utf16_len(message.text) <= MAX_CAPTION:
            return [Part(message.text.strip(), keyboard, message.image, reply_to)]
        parts.append(Part("", None, message.image, reply_to))
        reply_to = None
    if not texts:
        raise ValueError("nothing to send: the text is empty")
    for i, text in enumerate(texts):
        last = i == len(texts) - 1
        parts.append(Part(text, keyboard if last else None, None, reply_to if i == 0 else None))
    return parts


def build_keyboard(choices: Sequence[Choice]) -> InlineKeyboardMarkup | None:
    """Short labels (ratings) share rows of up to six; longer ones get two, or one, per row."""
    if not choices:
        return None
    for choice in choices:
        if not 1 <= len(choice.value.encode()) <= MAX_CALLBACK_DATA:
            raise ValueError(f"choice value must be 1-{MAX_CALLBACK_DATA} bytes: {choice.value!r}")
    longest = max(len(c.label) for c in choices)
    if longest <= 4:
        rows = -(-len(choices) // 6)
        per_row = -(-len(choices) // rows)  # balanced: 11 buttons -> 6 + 5
    else:
        per_row = 2 if longest <= 16 else 1
    buttons = [InlineKeyboardButton(c.label, callback_data=c.value) for c in choices]
    return InlineKeyboardMarkup([buttons[i : i + per_row] for i in range(0, len(buttons), per_row)])


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split on line boundaries into parts of at most `limit` UTF-16 units; blank parts are dropped.

    A single line longer than the limit is cut at its last space before the limit (or hard).
    """
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        for piece in _cut_line(line, limit):
            extra = utf16_len(piece) + (1 if current else 0)
            if current and size + extra > limit:
                parts.append("\n".join(current))
                current, size = [], 0
                extra = utf16_len(piece)
            current.append(piece)
            size += extra
    if current:
        parts.append("\n".join(current))
    return [p.strip("\n") for p in parts if p.strip()]


def _cut_line(line: str, limit: int) -> list[str]:
    pieces: list[str] = []
    while utf16_len(line) > limit:
        cut = _prefix_chars(line, limit)
        space = line.rfind(" ", 0, cut)
        if space > cut // 2:
            cut = space
        pieces.append(line[:cut].rstrip())
        line = line[cut:].lstrip(" ")
    pieces.append(line)
    return pieces


def _prefix_chars(text: str, units: int) -> int:
    """How many characters of `text` fit in `units` UTF-16 code units."""
    total = 0
    for i, char in enumerate(text):
        total += 2 if ord(char) > 0xFFFF else 1
        if total > units:
            return i
    return len(text)
