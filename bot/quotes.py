"""Customer text quoted inside our own messages (digests, staff alerts), folded to one safe line."""

from __future__ import annotations

import unicodedata

QUOTE_LENGTH = 200
# Zero-width joiners and non-joiners shape emoji and scripts; every other invisible format character goes.
_KEEP_FORMAT = frozenset({"\u200c", "\u200d"})


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
