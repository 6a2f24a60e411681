"""Texts in the customer's language: complete catalogs that keep every placeholder, compiled files that
match their sources, the choice of language, config overrides and per-language poll questions."""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from bot import texts
from bot.config import ConfigProblems, validate
from bot.i18n import DOMAIN, LOCALE_DIR, Voice, languages, supported
from bot.texts import PLURAL_TEXTS, TEXTS, placeholders
from storage.store import Store
from tests.bot.test_check import check, write
from tests.support import Chat, make_settings

TRANSLATED = ("de", "fr", "es")  # English is the source: its msgids are the texts


def catalog(language: str) -> Catalog:
    with (LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as f:
        return read_po(f, locale=language)


def template() -> Catalog:
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("rb") as f:
        return read_po(f)


def entries(cat: Catalog) -> dict[str | None, Message]:
    return {m.context: m for m in cat if m.id}


def forms(message: Message) -> tuple[str, ...]:
    return tuple(message.string) if isinstance(message.string, tuple | list) else (message.string,)


def test_we_speak_english_german_french_and_spanish() -> None:
    assert languages() == ("de", "en", "es", "fr")


def test_the_template_holds_every_text_of_bot_texts_and_nothing_stale() -> None:
    """`make texts` was run after the last change to bot/texts.py (the lead re-extracts after merging)."""
    in_template = {m.context: (m.id if isinstance(m.id, str) else tuple(m.id)) for m in template() if m.id}
    in_code: dict[str | None, object] = {t.key: t.msgid for t in TEXTS.values()}
    in_code |= {t.key: (t.one, t.other) for t in PLURAL_TEXTS.values()}
    assert in_template == in_code


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalog_is_complete_and_current(language: str) -> None:
    messages = entries(catalog(language))
    expected = entries(template())
    assert set(messages) == set(expected), "run `make texts`"
    for key, message in messages.items():
        assert message.id == expected[key].id, f"{language}: {key} translates an old wording"
        assert all(forms(message)), f"{language}: {key} is not translated"
        assert not message.fuzzy, f"{language}: {key} is marked fuzzy"


@pytest.mark.parametrize("language", [*TRANSLATED, "en"])
def test_every_translation_keeps_the_placeholders_of_its_msgid(language: str) -> None:
    for key, message in entries(catalog(language)).items():
        ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        wanted = placeholders(ids[-1])
        assert all(placeholders(i) == wanted for i in ids), key
        for text in forms(message):
            if text:  # English: empty, the msgid is said
                assert placeholders(text) == wanted, f"{language}: {key}: {text!r}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_compiled_catalogs_match_their_sources(language: str) -> None:
    """The .mo files ship in the wheel (a fresh clone needs no compile step): they must be current."""
    compiled = gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])
    cat = catalog(language)
    for key, message in entries(cat).items():
        assert key is not None
        if isinstance(message.id, str):
            assert compiled.pgettext(key, message.id) == message.string, f"{language}: {key}: run `make texts`"
        else:
            for n in (1, 2, 5, 1_000_000):
                said = compiled.npgettext(key, message.id[0], message.id[1], n)
                assert said == forms(message)[gettext.c2py(cat.plural_expr)(n)], f"{language}: {key} ({n})"


def test_the_language_is_the_platforms_when_we_have_it() -> None:
    assert [supported(c) for c in ("de", "de-AT", "de_CH", "FR", "es-419", "en-GB")] == [
        "de",
        "de",
        "de",
        "fr",
        "es",
        "en",
    ]
    assert [supported(c) for c in ("it", "pt-br", "", None, "x-klingon", "12")] == [None] * 6
    settings = make_settings({"engine": {"language": "fr"}})
    assert settings.voice("de-DE").language == "de"
    assert settings.voice("it").language == "fr"
    assert settings.voice(None).language == "fr"


def test_a_text_without_a_translation_yet_is_said_in_english() -> None:
    """A text added on another branch, not yet in the catalogs: gettext falls back to its msgid."""
    fresh = texts.Text("added_later", "Something new, {name}.")
    assert Voice("de")(fresh, name="Heidi") == "Something new, Heidi."
    assert Voice("de")("An untranslated plain msgid") == "An untranslated plain msgid"


def test_numbers_and_dates_follow_the_language() -> None:
    from datetime import date

    assert [Voice(c).number(4096) for c in ("en", "de", "fr", "es")] == ["4,096", "4.096", "4\u202f096", "4.096"]
    assert Voice("de").date(date(2026, 3, 16), "full") == "Montag, 16. März 2026"
    assert Voice("fr").date(date(2026, 3, 16), "full") == "lundi 16 mars 2026"


# ---------------------------------------------------------------------------------------- overrides
def problems(data: dict[str, object]) -> list[str]:
    return [f"{p.key}: {p.problem}" for p in validate(data).problems]


def test_overrides_are_checked_key_language_and_placeholders() -> None:
    assert problems(
        {
            "texts": {
                "en": {"welcom": "Hello!", "thanks": "Thanks, {name}!", "greeting": "Hi {name"},
                "it": {"thanks": "Grazie!"},
                "de": "Danke",
            }
        }
    ) == [
        "texts.en.welcom: unknown key; did you mean 'welcome'?",
        "texts.en.thanks: unknown placeholder {name}; this text has none",
        "texts.en.greeting: not a valid text: expected '}' before end of string (write {{ and }} for a brace)",
        "texts.it: no texts in language 'it'; feedbot speaks de, en, es, fr",
        'texts.de: expected a table of texts such as welcome = "..."',
    ]
    assert problems({"texts": {"en": {"thanks": ""}}}) == ["texts.en.thanks: expected the text in quotes, not empty"]
    assert problems({"texts": {"en": {"thanks": "Thanks {name.__class__}"}}}) == [
        "texts.en.thanks: unknown placeholder {name.__class__}; this text has none"
    ]
    braces = make_settings({"texts": {"en": {"thanks": "Thanks {{for real}}!"}}})
    assert braces.voice("en")(texts.THANKS) == "Thanks {for real}!"
    assert problems({"engine": {"language": "it"}}) == [
        "engine.language: no texts in language 'it'; feedbot speaks de, en, es, fr"
    ]


async def test_an_override_replaces_the_shipped_wording_in_its_language_only(sqlite_store: Store) -> None:
    settings = make_settings(
        {
            "texts": {
                "de": {"thanks": "Tausend Dank!"},
                "en": {"welcome": "{greeting} Welcome to the Crumbs & Co. feedback circle: “{question}”{rating}"},
            }
        },
        polls=[{"id": "visit", "question": "How was the cake?", "rating": False}],
    )
    chat = await Chat.open(sqlite_store, settings)
    heidi, amy, chloe = (
        chat.user("Heidi", language="de"),
        chat.user("Amy", language="en"),
        chat.user("Chloé", language="fr"),
    )
    for user in (heidi, amy, chloe):
        await chat.say(user, "/start")
    assert chat.last_text(amy) == "Hi Amy! Welcome to the Crumbs & Co. feedback circle: “How was the cake?”"
    assert chat.last_text(heidi).startswith("Hallo Heidi! Du bist jetzt dabei.")  # German has its own welcome
    await chat.run_poll()
    for user in (heidi, amy, chloe):
        await chat.say(user, "Lovely")
    assert [chat.last_text(u) for u in (heidi, amy, chloe)] == [
        "Tausend Dank!",
        "Thank you for your answer!",
        "Merci pour votre réponse !",
    ]


# ---------------------------------------------------------------------------------------- poll questions
def test_per_language_questions_are_checked() -> None:
    def poll(question: object, **engine: object) -> list[str]:
        return problems({"engine": engine, "polls": [{"id": "visit", "question": question}]})

    assert poll({"en": "Liked it?", "de": "Gefallen?"}) == []
    assert poll({"de": "Gefallen?"}) == [
        "polls[0].question: no question in 'en', the default language ([engine] language): add en = \"...\""
    ]
    assert poll({"de": "Gefallen?"}, language="de") == []
    assert poll({"en": "Liked it?", "xx": "?"}) == [
        "polls[0].question: xx: no texts in language 'xx'; feedbot speaks de, en, es, fr"
    ]
    assert poll({"en": "  "}) == ["polls[0].question: en: expected the question in quotes, not empty"]
    assert poll({}) == ["polls[0].question: the table has no languages"]
    assert poll(["Liked it?"]) == [
        'polls[0].question: expected text in quotes or a table of languages such as { en = "...", de = "..." }'
    ]


async def test_feedbot_check_reports_language_problems_all_at_once(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        '[engine]\nlanguage = "de"\n\n[[polls]]\nid = "visit"\nquestion = { en = "Liked it?", fr = "" }\n\n'
        '[texts.de]\nthank = "Danke!"\n',
    )
    result = await check(config)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "feedbot: configuration error: polls[0].question: fr: expected the question in quotes, not empty",
        "feedbot: configuration error: texts.de.thank: unknown key; did you mean 'thanks'?",
    ]


async def test_each_customer_is_asked_in_their_language_and_the_run_keeps_its_questions(sqlite_store: Store) -> None:
    question = {"en": "How was the cake?", "de": "Wie war der Kuchen?", "fr": "C’était bon, le gâteau ?"}
    settings = make_settings(polls=[{"id": "visit", "question": question}])
    chat = await Chat.open(sqlite_store, settings)
    heidi, chloe, marco = (chat.user(n, language=c) for n, c in (("Heidi", "de"), ("Chloé", "fr-CA"), ("Marco", "it")))
    for user in (heidi, chloe, marco):
        await chat.say(user, "/start")
    assert "„Wie war der Kuchen?“" in chat.last_text(heidi)
    run_id = await chat.run_poll()
    assert [chat.last_text(u) for u in (heidi, chloe, marco)] == [question["de"], question["fr"], question["en"]]
    async with sqlite_store.read() as unit:
        run = await unit.runs.get(run_id)
    assert run is not None and run.question == "How was the cake?"  # digests and exports: the default language


async def test_when_a_customers_app_changes_language_later_questions_follow(sqlite_store: Store) -> None:
    from adapters.local import LocalUser

    question = {"en": "How was the cake?", "de": "Wie war der Kuchen?"}
    chat = await Chat.open(sqlite_store, make_settings(polls=[{"id": "visit", "question": question}]))
    kim = chat.user("Kim", language="en")
    await chat.say(kim, "/start")
    await chat.run_poll()
    assert chat.last_text(kim) == "How was the cake?"
    kim_in_german = LocalUser(kim.user_id, "Kim", language="de")  # she switched her app to German
    await chat.say(kim_in_german, "/help")
    assert chat.last_text(kim).startswith("Ich sammle kurzes Feedback")
    await chat.run_poll()
    assert chat.last_text(kim) == "Wie war der Kuchen?"


def test_the_welcome_is_built_from_the_configured_polls() -> None:
    from bot.customer_commands import welcome_text

    ten = make_settings(polls=[{"id": "nps", "question": "Would you recommend us?", "scale": 10}])
    assert welcome_text(ten, Voice("en"), "Ann") == (
        "Hi Ann! You're subscribed. Now and then I'll ask one short question, such as “Would you recommend us?” – "
        "just reply in your own words. If you like, rate it from 0 to 10 as well.\n"
        "Send /stop at any time to stop, /mydata to see what is stored about you, and /forget to erase it."
    )
    mixed = make_settings(polls=[{"id": "a", "question": "A?", "scale": 10}, {"id": "b", "question": "B?", "scale": 5}])
    assert "If you like, give it a rating as well." in welcome_text(mixed, Voice("en"), "")
    unrated = make_settings(polls=[{"id": "a", "question": "A?", "rating": False}])
    assert "rat" not in welcome_text(unrated, Voice("en"), "Ann").split("words.")[1].split("\n")[0]
    tagged = make_settings(
        polls=[
            {"id": "vip", "question": "How was the lounge?", "tag": "vip", "scale": 10},
            {"id": "visit", "question": "How was your visit?"},
        ]
    )
    assert "“How was your visit?”" in welcome_text(tagged, Voice("en"), "Ann") and "1 to 5" in welcome_text(
        tagged, Voice("en"), "Ann"
    )
    assert "“How was the lounge?”" in welcome_text(tagged, Voice("en"), "Ann", tag="vip")
    none = make_settings(polls=[])
    assert "“Was hat dir am besten gefallen?”" not in welcome_text(none, Voice("de"), "")
    assert "„Was hat dir am besten gefallen?“" in welcome_text(none, Voice("de"), "")


def test_config_problems_name_the_language_keys() -> None:
    with pytest.raises(ConfigProblems, match="texts.en.welcom: unknown key"):
        make_settings({"texts": {"en": {"welcom": "x"}}})


def test_the_readme_language_example_is_a_valid_configuration() -> None:
    import re
    import tomllib

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Languages", 1)[1]
    example = re.search(r"```toml\n(.*?)```", section, flags=re.DOTALL)
    assert example is not None
    result = validate(tomllib.loads(example.group(1)))
    assert result.problems == []
    settings = result.settings()
    assert settings is not None and settings.voice("de")(texts.THANKS) == "Tausend Dank!"


def test_the_commented_overrides_in_config_example_are_valid_when_uncommented() -> None:
    import re
    import tomllib

    example = (Path(__file__).resolve().parents[2] / "config.example.toml").read_text()
    block = re.search(r"^\[texts\.en\]\n((?:#.*\n)+)", example, flags=re.MULTILINE)
    assert block is not None
    table = tomllib.loads(re.sub(r"^# ", "", block.group(1), flags=re.MULTILINE))
    assert set(table) == {"welcome", "thanks"}
    assert problems({"texts": {"en": table}}) == []
