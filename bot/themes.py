"""What customers talk about: configured themes counted by keyword, or else the most frequent words.

Pure functions over answer texts. Counts are per answer: an answer that names "coffee" three times,
or both "coffee" and "breakfast" of one theme, adds one to that theme (and one to each word).
Matching is case-insensitive (Unicode case folding, NFKC-normalised so composed and decomposed
accents agree) and on whole words: "tea" does not match "steak". Multi-word keywords match across
any run of whitespace.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.config import ThemeSettings

MIN_WORD_LENGTH = 3

# Word characters (any script), joined by inner apostrophes ("don't", "l'été").
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")

STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
    don't down during each even ever every few for from further get gets got had hadn't has hasn't have
    haven't having he he'd he'll he's her here here's hers herself him himself his how how's however i
    i'd i'll i'm i've if in into is isn't it it's its itself just let's like made make many may me might
    more most much must mustn't my myself no nor not now of off often on once one only or other ought our
    ours ourselves out over own quite rather really same shan't she she'd she'll she's should shouldn't
    so some still such than that that's the their theirs them themselves then there there's these they
    they'd they'll they're they've this those though through to too under until up upon us very was
    wasn't way we we'd we'll we're we've well were weren't what what's when when's where where's which
    while who who's whom why why's will with won't would wouldn't yes yet you you'd you'll you're you've
    your yours yourself yourselves thanks thank please lot lots bit thing things time also just got get
    went go going come came back good great nice ok okay
    """.split()
)


@dataclass(frozen=True, slots=True)
class ThemeCount:
    name: str  # a configured theme's name, or a frequent word
    count: int  # answers that mention it


def normalise(text: str) -> str:
    """Case-folded NFKC text: the form both answers and keywords are compared in."""
    return unicodedata.normalize("NFKC", text).casefold()


@lru_cache(maxsize=256)
def _theme_pattern(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    alternatives = []
    for keyword in keywords:
        parts = normalise(keyword).split()
        if parts:
            alternatives.append(r"\s+".join(re.escape(part) for part in parts))
    if not alternatives:
        return None
    # (?<!\w)/(?!\w) rather than \b: correct also for keywords that start or end with a non-word char.
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")


def count_themes(texts: Iterable[str], themes: Sequence[ThemeSettings]) -> Counter[str]:
    """Answers mentioning each theme (themes with no match are absent from the counter)."""
    patterns = [(theme.name, _theme_pattern(tuple(theme.keywords))) for theme in themes]
    counts: Counter[str] = Counter()
    for text in texts:
        folded = normalise(text)
        for name, pattern in patterns:
            if pattern is not None and pattern.search(folded):
                counts[name] += 1
    return counts


def meaningful_words(text: str) -> set[str]:
    """The distinct words of one answer worth counting: no stop words, no numbers, 3+ characters."""
    words = set()
    for match in _WORD.finditer(normalise(text)):
        word = match.group().replace("’", "'")
        if len(word) < MIN_WORD_LENGTH or word in STOP_WORDS or any(ch.isdigit() for ch in word):
            continue
        words.add(word)
    return words


def count_words(texts: Iterable[str]) -> Counter[str]:
    """Answers mentioning each meaningful word."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(meaningful_words(text))
    return counts


def top(counts: Counter[str], limit: int) -> tuple[ThemeCount, ...]:
    """Most frequent first; ties in alphabetical order so the digest is stable."""
    ranked = sorted(((name, n) for name, n in counts.items() if n > 0), key=lambda item: (-item[1], item[0]))
    return tuple(ThemeCount(name, n) for name, n in ranked[:limit])


@dataclass(frozen=True, slots=True)
class ThemeSummary:
    items: tuple[ThemeCount, ...]
    from_keywords: bool  # False: no configured theme matched, `items` are frequent words


def summarise(theme_counts: Counter[str], word_counts: Counter[str], limit: int = 5) -> ThemeSummary:
    """Configured themes if any matched, else the most frequent meaningful words."""
    themes = top(theme_counts, limit)
    if themes:
        return ThemeSummary(themes, from_keywords=True)
    return ThemeSummary(top(word_counts, limit), from_keywords=False)


def summarise_texts(texts: Iterable[str], themes: Sequence[ThemeSettings], limit: int = 5) -> ThemeSummary:
    """One-shot helper for a list of texts (the digest streams batches through the counters)."""
    materialised = list(texts)
    return summarise(count_themes(materialised, themes), count_words(materialised), limit)
