"""Themes by keyword (whole words, any case, any script) and the frequent-words fallback."""

from __future__ import annotations

from collections import Counter

from bot.config import ThemeSettings
from bot.themes import ThemeCount, count_themes, count_words, meaningful_words, summarise, summarise_texts

FOOD = ThemeSettings(name="Food", keywords=("coffee", "breakfast", "café"))
STAFF = ThemeSettings(name="Staff", keywords=("staff", "friendly", "customer service"))
TEA = ThemeSettings(name="Tea", keywords=("tea",))


def test_keywords_match_whole_words_in_any_case() -> None:
    counts = count_themes(
        ["COFFEE was great", "Breakfast!", "a coffeeshop vibe", "the steak", "Tea-time", "(tea)"], [FOOD, TEA]
    )
    assert counts == Counter({"Food": 2, "Tea": 2})


def test_an_answer_counts_once_per_theme_but_once_for_each_theme() -> None:
    counts = count_themes(["coffee, coffee and breakfast from friendly staff"], [FOOD, STAFF])
    assert counts == Counter({"Food": 1, "Staff": 1})


def test_matching_is_unicode_aware() -> None:
    streets = ThemeSettings(name="Street", keywords=("straße",))
    russian = ThemeSettings(name="Coffee (ru)", keywords=("кофе",))
    texts = ["Lovely CAFÉ", "cafe\u0301 decomposed", "cafés are plural", "GROSSE STRASSE", "Вкусный Кофе"]
    counts = count_themes(texts, [FOOD, streets, russian])
    assert counts == Counter({"Food": 2, "Street": 1, "Coffee (ru)": 1})


def test_multi_word_keywords_match_across_whitespace() -> None:
    assert count_themes(["great Customer\n  Service today"], [STAFF]) == Counter({"Staff": 1})
    assert count_themes(["customers serviced"], [STAFF]) == Counter()


def test_meaningful_words_drop_stop_words_numbers_and_short_words() -> None:
    assert meaningful_words("The 2 terraces were AMAZING, we'll be back in 2026! 3pm ok go Terraces") == {
        "terraces",
        "amazing",
    }
    assert meaningful_words("Didn't like the ’don’t’ music") == {"music"}  # typographic apostrophes too


def test_words_are_counted_per_answer() -> None:
    counts = count_words(["Music music MUSIC", "live music", "live jazz"])
    assert counts["music"] == 2 and counts["live"] == 2 and counts["jazz"] == 1


def test_configured_themes_win_when_any_matches() -> None:
    summary = summarise_texts(["coffee", "coffee and staff", "jazz jazz"], [FOOD, STAFF, TEA])
    assert summary.from_keywords
    assert summary.items == (ThemeCount("Food", 2), ThemeCount("Staff", 1))


def test_frequent_words_when_no_theme_matches_or_none_configured() -> None:
    texts = ["Live jazz on Saturday", "The jazz band", "Quiet rooms", "quiet and jazz"]
    for themes in ([TEA], []):
        summary = summarise_texts(texts, themes, limit=3)
        assert not summary.from_keywords
        assert summary.items == (ThemeCount("jazz", 3), ThemeCount("quiet", 2), ThemeCount("band", 1))


def test_nothing_to_say_without_answers() -> None:
    summary = summarise(Counter(), Counter())
    assert summary.items == () and not summary.from_keywords
