"""Which configured themes an answer is about, by what the words mean rather than how they are spelt.

Keywords and answers are compared as lemmas (bot.reporting.text): "croissants" matches the keyword
"croissant", "cafés" matches "cafe". A keyword of several words ("flat white", "outdoor seating")
matches only as that phrase, word after word. Matching is on whole tokens, so a keyword never
matches inside another word ("tea" is not in "steak").

One typo is forgiven in words of 5 or more letters ("coffe", "croisants", "pastires"), but only
when the answer's word is not itself a word of the keyword's language: "toffee" is not a typo of
"coffee", nor "stuff" of "staff". The word is compared with the keyword directly and, through the
dictionary, with the words one typo away and their lemmas, so a misspelt plural meets its keyword.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from bot.config import ThemeSettings
from bot.reporting.text import Lexicon, Token

TYPO_MIN_LETTERS = 5
SIMILAR = 60  # rapidfuzz ratio below which a word cannot be one typo (plus an ending) from a keyword


@dataclass(frozen=True, slots=True)
class _Word:
    forms: frozenset[str]  # the keyword word's folded lemma and its folded spelling
    typo_ok: bool
    languages: frozenset[str]  # where the keyword is a word (all configured ones if none knows it)


@dataclass(frozen=True, slots=True)
class _Phrase:
    theme: str
    words: tuple[int, ...]  # indexes into ThemeMatcher._words


class ThemeMatcher:
    """Matches token lists against `[[themes]]`; built once per configuration."""

    def __init__(self, themes: Sequence[ThemeSettings], lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.names = tuple(theme.name for theme in themes)
        self._words: list[_Word] = []
        index: dict[frozenset[str], int] = {}
        self._by_form: dict[str, set[int]] = {}
        self._starting: dict[int, list[_Phrase]] = {}
        for theme in themes:
            for keyword in theme.keywords:
                ids = []
                for token in lexicon.tokens(keyword):
                    forms = frozenset({token.lemma, token.surface})
                    if forms not in index:
                        index[forms] = len(self._words)
                        languages = token.known_in or frozenset(lexicon.languages)
                        self._words.append(_Word(forms, len(token.lemma) >= TYPO_MIN_LETTERS, languages))
                        for form in forms:
                            self._by_form.setdefault(form, set()).add(index[forms])
                    ids.append(index[forms])
                if ids:
                    self._starting.setdefault(ids[0], []).append(_Phrase(theme.name, tuple(ids)))
        self._word_ids = lru_cache(maxsize=50_000)(self._compute_word_ids)

    def _compute_word_ids(self, token: Token) -> frozenset[int]:
        ids: set[int] = set()
        for form in (token.lemma, token.surface):
            ids.update(self._by_form.get(form, ()))
        if len(token.surface) < TYPO_MIN_LETTERS:
            return frozenset(ids)
        open_to_typos = [
            (i, word)
            for i, word in enumerate(self._words)
            if word.typo_ok
            and i not in ids
            and not (token.known_in & word.languages)
            and any(fuzz.ratio(token.surface, form) >= SIMILAR for form in word.forms)
        ]
        if not open_to_typos:
            return frozenset(ids)
        corrected = self.lexicon.corrections(token.word)
        for i, word in open_to_typos:
            if _one_typo({token.surface, token.lemma}, word.forms) or any(
                lemma in word.forms and languages & word.languages for lemma, languages in corrected
            ):
                ids.add(i)
        return frozenset(ids)

    def match(self, tokens: Sequence[Token]) -> tuple[str, ...]:
        """The names of the themes the tokens mention, in configuration order."""
        ids = [self._word_ids(token) for token in tokens]
        found: set[str] = set()
        for start, candidates in enumerate(ids):
            for word in candidates:
                for phrase in self._starting.get(word, ()):
                    end = start + len(phrase.words)
                    if end <= len(ids) and all(w in ids[start + k] for k, w in enumerate(phrase.words)):
                        found.add(phrase.theme)
        return tuple(name for name in self.names if name in found)


def _one_typo(spellings: set[str], forms: frozenset[str]) -> bool:
    """One insertion, deletion, substitution or swap of neighbouring letters."""
    return any(
        len(form) >= TYPO_MIN_LETTERS and OSA.distance(spelling, form, score_cutoff=1) <= 1
        for spelling in spellings
        for form in forms
    )
