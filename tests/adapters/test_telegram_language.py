"""Customers read feedbot in their Telegram app's language: the real PTB against the fake Bot API.

Heidi's Telegram is German, so everything she reads is German, from the welcome to the reminder, and
her menu is the German one; Marco's is Italian, for which feedbot has no catalog, so he gets the
configured `[engine] language`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot import texts
from bot.i18n import Voice
from bot.types import rating_choice
from storage.store import Store
from tests.adapters.fake_telegram import FakeTelegram, FakeUser
from tests.adapters.telegram_harness import (
    TelegramWorld,
    open_world,
    ptb_timedelta,  # noqa: F401  (the fixture)
    telegram_settings,
)
from tests.support import make_settings

DE, ES = Voice("de"), Voice("es")
HEIDI = FakeUser(7001, "Heidi", language_code="de")
MARCO = FakeUser(7002, "Marco", language_code="it")
QUESTION = {
    "en": "What was your favourite part?",
    "de": "Was hat dir am besten gefallen?",
    "es": "¿Qué es lo que más te gustó?",
}


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


@pytest.fixture
async def tg(fake_telegram: FakeTelegram, sqlite_store: Store) -> AsyncIterator[TelegramWorld]:
    base = telegram_settings(fake_telegram)
    assert base.telegram is not None
    settings = make_settings(
        {
            "engine": {"language": "es"},
            "polls": [{"id": "visit", "question": QUESTION, "remind_after": "1h", "close_after": "3d"}],
        },
        telegram=base.telegram.model_dump(),
    )
    world = await open_world(fake_telegram, sqlite_store, settings, voices=settings.voice)
    yield world
    await world.adapter.stop()


async def test_a_german_customer_reads_german_from_welcome_to_reminder(tg: TelegramWorld) -> None:
    fake = tg.fake
    await tg.say(HEIDI, "/start")
    welcome = fake.last(HEIDI.id).shown
    assert welcome.startswith("Hallo Heidi! Du bist jetzt dabei.")
    # Built from the configured poll: its German question as the example, its 1-5 scale.
    assert "„Was hat dir am besten gefallen?“" in welcome and "von 1 bis 5" in welcome
    assert welcome == DE(
        texts.WELCOME,
        greeting=DE(texts.GREETING, name="Heidi"),
        question=QUESTION["de"],
        rating=DE(texts.RATING_HINT, low=1, high=5),
    )

    started = await tg.engine.start_run("visit", triggered_by="test", now=tg.clock.now())
    assert started is not None
    await tg.worker.drain()
    assert fake.last(HEIDI.id).shown == "Was hat dir am besten gefallen?"

    tg.clock.advance(hours=2)  # past remind_after, no answer yet
    assert await tg.runtime.scheduler.queue_reminders(tg.clock.now()) == 1
    await tg.worker.drain()
    assert fake.last(HEIDI.id).shown == (
        "Eine kleine Erinnerung – wir würden uns über deine Antwort freuen:\n\nWas hat dir am besten gefallen?"
    )

    await tg.say(HEIDI, "Der Kuchen war großartig")
    ask = fake.last(HEIDI.id)
    assert ask.shown == "Danke! Wie würdest du es bewerten, von 1 bis 5?"
    await tg.press(HEIDI, ask, rating_choice(started.run_id, 5))
    assert fake.last(HEIDI.id).shown == "Danke – deine Bewertung ist gespeichert."

    await tg.say(HEIDI, "/help")
    assert fake.last(HEIDI.id).shown.startswith("Ich sammle kurzes Feedback für das Team hinter diesem Chat.")
    assert "/mydata – alles sehen, was über dich gespeichert ist" in fake.last(HEIDI.id).shown

    await tg.say(HEIDI, "/pause 2")
    until = (tg.clock.now() + timedelta(weeks=2)).date()  # [engine] timezone is UTC
    assert fake.last(HEIDI.id).shown == DE(texts.PAUSED, until=DE.date(until, "full"))
    assert fake.last(HEIDI.id).shown.startswith("Pausiert: Bis ")

    await tg.say(HEIDI, "/forget")
    confirm = fake.last(HEIDI.id)
    assert confirm.shown == "Damit werden deine Anmeldung und alle deine Antworten endgültig gelöscht. Bist du sicher?"
    assert [label for label, _ in confirm.buttons] == ["Ja, alles löschen", "Nein, behalten"]


async def test_a_customer_in_a_language_without_a_catalog_gets_the_engine_language(tg: TelegramWorld) -> None:
    await tg.say(MARCO, "/start")
    welcome = tg.fake.last(MARCO.id).shown
    assert welcome.startswith("¡Hola, Marco! Tu suscripción ya está activa.")
    assert "«¿Qué es lo que más te gustó?»" in welcome
    await tg.engine.start_run("visit", triggered_by="test", now=tg.clock.now())
    await tg.worker.drain()
    assert tg.fake.last(MARCO.id).shown == QUESTION["es"]
    await tg.say(MARCO, "Il caffè")
    assert tg.fake.last(MARCO.id).shown == ES(texts.ASK_RATING, low=1, high=5)


async def test_menus_are_set_in_every_language_with_language_code(tg: TelegramWorld) -> None:
    menus = tg.fake.commands

    def described(scope: str, code: str) -> dict[str, str]:
        return {c["command"]: c["description"] for c in menus[(scope, code)]}

    # The default menu is in [engine] language (Spanish here); every other language has its variant.
    assert described("default", "")["forget"] == "Borrar todo lo que se guarda sobre ti"
    assert described("default", "de")["forget"] == "Alles löschen, was über dich gespeichert ist"
    assert described("default", "fr")["forget"] == "Effacer tout ce qui est enregistré à votre sujet"
    assert described("default", "en")["forget"] == "Erase everything stored about you"
    assert ("default", "es") not in menus  # the default already is Spanish
    assert described("all_group_chats", "de") == {"help": "Was dieser Bot macht"}
    assert list(described("default", "de")) == list(described("default", ""))  # same commands, same order
