"""Words as customers mean them: tokens, lemmas and stop words in the configured languages.

Answers and theme keywords go through the same `Lexicon`, so "Croissants", "croissant" and
"CROISSANT" meet as one lemma, and "Café" meets "cafe": lemmas are compared case-folded and without
accents. Lemmas come from simplemma's dictionaries (no model download, nothing fetched at run time),
stop words from stopwords-iso, both for the languages in `[engine] languages`.

A `Token` keeps the word as written next to its lemma: typo matching (bot.reporting.themes) needs to know
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
MAX_TERM_LENGTH = 40  # longer "words" are links, codes or keyboard mashing, not topics


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
    word: str  # as written, case-folded (accents kept: the dictionaries need them)
    surface: str  # folded word as written
    lemma: str  # folded lemma
    known_in: frozenset[str]  # languages whose dictionary knows the word (there it is not a typo)
    stop: bool  # a stop word in one of the languages

    @property
    def known(self) -> bool:
        return bool(self.known_in)


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
        self.corrections = lru_cache(maxsize=20_000)(self._corrections)

    def _lemma(self, word: str) -> str:
        lang = self.languages if len(self.languages) > 1 else self.languages[0]
        lemma = simplemma.lemmatize(word, lang=lang)
        if lemma == word and word != word.lower():
            lemma = simplemma.lemmatize(word.lower(), lang=lang)
        return lemma

    def _known_in(self, word: str) -> frozenset[str]:
        lower = word.lower()
        return frozenset(
            code
            for code in self.languages
            if simplemma.is_known(lower, lang=code) or simplemma.is_known(word, lang=code)
        )

    def _make_token(self, word: str) -> Token:
        bare = _ELISION.sub("", word)
        surface, lemma = fold(bare), fold(self._lemma(bare))
        stop = surface in self._stop or lemma in self._stop
        return Token(bare.casefold(), surface, lemma, self._known_in(bare), stop)

    def _corrections(self, word: str) -> frozenset[tuple[str, frozenset[str]]]:
        """Folded lemmas of the dictionary words one typo away from `word`, with their languages.

        A typo is one letter inserted, deleted, replaced, or two neighbours swapped (Norvig's edits).
        """
        letters = set("abcdefghijklmnopqrstuvwxyz") | set(word)
        splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
        candidates = {a + b[1:] for a, b in splits if b}
        candidates |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
        candidates |= {a + c + b[1:] for a, b in splits if b for c in letters}
        candidates |= {a + c + b for a, b in splits for c in letters}
        candidates.discard(word)
        found = set()
        for candidate in candidates:
            languages = self._known_in(candidate)
            if languages:
                found.add((fold(self._lemma(candidate)), languages))
        return frozenset(found)

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
            if token.stop or not MIN_TERM_LENGTH <= len(word) <= MAX_TERM_LENGTH or any(ch.isdigit() for ch in word):
                previous = None
                continue
            found.add(word)
            if previous is not None and previous != word:
                found.add(f"{previous} {word}")
            previous = word
        return found
