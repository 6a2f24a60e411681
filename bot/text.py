"""Words as customers mean them: tokens, lemmas and stop words in the configured languages.

Answers and theme keywords go through the same `Lexicon`, so "Croissants", "croissant" and
"CROISSANT" meet as one lemma, and "Café" meets "cafe": lemmas are compared case-folded and without
accents. Lemmas come from simplemma's dictionaries (no model download, nothing fetched at run time),
stop words from stopwords-iso, both for the languages in `[engine] languages`.

A `Token` keeps the word as written next to its lemma: typo matching (bot.themes) needs to know
whether the dictionary knew the word at all, because "coffe" is a typo for "coffee" but "toffee"
is a word of its own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import simplemma
import stopwordsiso

# Word characters (any script), joined by inner apostrophes or hyphens ("don't", "l'été", "wi-fi").
_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
_ELISION = re.compile(r"^(?:[cdjlmnst]|qu)['’]", re.IGNORECASE)  # French "l'", "qu'": l'accueil -> accueil

MIN_TERM_LENGTH = 3


def fold(text: str) -> str:
    """Case-folded, accents removed, inner apostrophes and hyphens dropped: 'Café' -> 'cafe', 'wi-fi' -> 'wifi'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch) and ch not in "'’-")
    return unicodedata.normalize("NFC", kept)


def supported_language(code: str) -> bool:
    try:
        simplemma.lemmatize("a", lang=code)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Token:
    surface: str  # folded word as written
    lemma: str  # folded lemma
    known: bool  # the dictionary knows the word (so it is not a typo)
    stop: bool  # a stop word in one of the languages


class Lexicon:
    """Tokeniser, lemmatiser and stop words for a fixed tuple of languages (cached per word)."""

    def __init__(self, languages: Sequence[str]) -> None:
        if not languages:
            raise ValueError("at least one language is needed")
        self.languages = tuple(languages)
        stop: set[str] = set()
        for code in self.languages:
            if stopwordsiso.has_lang(code):
                stop.update(fold(word) for word in stopwordsiso.stopwords(code))
        self._stop = frozenset(stop)
        self._token = lru_cache(maxsize=50_000)(self._make_token)

    def _make_token(self, word: str) -> Token:
        lang = self.languages if len(self.languages) > 1 else self.languages[0]
        bare = _ELISION.sub("", word)
        lemma = simplemma.lemmatize(bare, lang=lang)
        if lemma == bare and bare != bare.lower():
            lemma = simplemma.lemmatize(bare.lower(), lang=lang)
        known = simplemma.is_known(bare.lower(), lang=lang) or simplemma.is_known(bare, lang=lang)
        surface, folded_lemma = fold(bare), fold(lemma)
        return Token(surface, folded_lemma, known, surface in self._stop or folded_lemma in self._stop)

    def tokens(self, text: str) -> list[Token]:
        normalised = unicodedata.normalize("NFC", text)
        return [self._token(match.group()) for match in _WORD.finditer(normalised)]

    def terms(self, tokens: Sequence[Token]) -> set[str]:
        """Distinct words and two-word phrases worth counting: lemmas, no stop words, no numbers.

        A phrase is two neighbouring content words ("flat white", "long wait" stays "wait" when
        "long" is a stop word); it never bridges a stop word ("coffee and cake" gives no phrase).
        """
        found: set[str] = set()
        previous: str | None = None
        for token in tokens:
            word = token.lemma
            if token.stop or len(word) < MIN_TERM_LENGTH or any(ch.isdigit() for ch in word):
                previous = None
                continue
            found.add(word)
            if previous is not None and previous != word:
                found.add(f"{previous} {word}")
            previous = word
        return found
