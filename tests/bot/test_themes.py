"""Themes by meaning: the labelled set, and each matching rule on its own."""

from __future__ import annotations

import pytest

from bot.config import ThemeSettings
from bot.reporting.analyser import TextAnalysis, fingerprint
from bot.reporting.text import Lexicon, fold
from storage.tone import tone
from tests.labelled_answers import LABELLED, LANGUAGES, THEMES

CAFE = [ThemeSettings(**theme) for theme in THEMES]
ANALYSIS = TextAnalysis(LANGUAGES, CAFE)


def test_the_labelled_set_is_big_enough_and_covers_every_theme_and_tone() -> None:
    assert len(LABELLED) >= 100
    assert {name for *_, themes, _ in LABELLED for name in themes} == {t.name for t in CAFE}
    assert {label for *_, label in LABELLED} == {"praise", "neutral", "problem"}


@pytest.mark.parametrize(("text", "rating", "scale", "themes", "label"), LABELLED, ids=[a[0][:40] for a in LABELLED])
def test_labelled_answer(text: str, rating: int | None, scale: int, themes: tuple[str, ...], label: str) -> None:
    assert set(ANALYSIS.themes(text)) == set(themes)
    assert tone(rating, scale) == label


def themes_of(text: str, *keywords: str, languages: tuple[str, ...] = ("en",)) -> tuple[str, ...]:
    return TextAnalysis(languages, [ThemeSettings(name="T", keywords=keywords)]).themes(text)


def test_a_keyword_never_matches_inside_another_word() -> None:
    assert themes_of("the steak and the teapot", "tea") == ()
    assert themes_of("(tea)!", "tea") == ("T",)
    assert themes_of("a coffeeshop vibe", "coffee") == ()


def test_phrases_match_in_order_only() -> None:
    assert themes_of("two flat whites please", "flat white") == ("T",)
    assert themes_of("white and flat", "flat white") == ()
    assert themes_of("flat, white", "flat white") == ("T",)  # punctuation is not a word


def test_one_typo_in_long_words_only_and_never_onto_another_real_word() -> None:
    assert themes_of("my coffe", "coffee") == ("T",)
    assert themes_of("my caffey", "coffee") == ()  # two typos
    assert themes_of("the toffee", "coffee") == ()  # a word of its own
    assert themes_of("te", "tea") == ()  # short words need exact spelling
    assert themes_of("teas", "tea") == ("T",)  # but are lemmatised


def test_the_same_keyword_in_another_language_needs_that_language() -> None:
    assert themes_of("Les chevaux", "cheval", languages=("en",)) == ()
    assert themes_of("Les chevaux", "cheval", languages=("en", "fr")) == ("T",)


def test_accents_and_case_are_ignored() -> None:
    assert themes_of("CAFÉ au lait", "cafe") == ("T",)
    assert themes_of("cafe\u0301 decomposed", "café") == ("T",)


def test_terms_are_lemmas_without_stop_words_with_two_word_phrases() -> None:
    lexicon = Lexicon(("en",))
    terms = lexicon.terms(lexicon.tokens("The Wi-Fi died and the outdoor seats were cramped in 2026"))
    assert terms == {"wifi", "die", "wifi die", "outdoor", "seat", "outdoor seat", "cramp"}


def test_fold_removes_case_accents_and_inner_punctuation() -> None:
    assert fold("Café") == "cafe" and fold("Wi-Fi") == "wifi" and fold("ÉLEVÉS") == "eleves"


def test_the_fingerprint_changes_with_themes_and_languages() -> None:
    base = fingerprint(["en"], CAFE)
    assert base == fingerprint(["en"], CAFE)
    assert base != fingerprint(["en", "fr"], CAFE)
    assert base != fingerprint(["en"], CAFE[:-1])
