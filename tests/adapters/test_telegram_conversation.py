"""What Telegram customers send besides plain text: forwards, photos with captions, albums, a bare number."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot import texts
from bot.i18n import Voice
from storage.store import Store
from tests.adapters.fake_telegram import FakeTelegram, FakeUser
from tests.adapters.telegram_harness import TEST_LIMITS, TelegramWorld, open_world
from tests.support import stored_answers

EN = Voice("en")  # the English texts, as a customer without a catalog language reads them

ALICE, CRITIC = FakeUser(4242, "Alice"), FakeUser(777, "Food Critic")


@pytest.fixture
async def tg(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TelegramWorld]:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with FakeTelegram(limits=TEST_LIMITS) as fake:
        world = await open_world(fake, sqlite_store)
        await world.say(ALICE, "/start")
        started = await world.engine.start_run("visit", triggered_by="test")
        assert started is not None
        await world.worker.drain()
        yield world
        await world.adapter.stop()


async def handled(tg: TelegramWorld) -> None:
    await tg.fake.wait_confirmed()
    await tg.worker.drain()


async def test_a_forward_is_not_taken_as_the_answer(tg: TelegramWorld) -> None:
    tg.fake.forward(ALICE, "Best croissants in town!", origin=CRITIC)
    await handled(tg)
    assert tg.fake.last(ALICE.id).shown == EN(texts.OWN_WORDS)
    assert await stored_answers(tg.store) == []


async def test_a_photo_caption_is_the_answer(tg: TelegramWorld) -> None:
    tg.fake.send_photo(ALICE, "Look at this latte art")
    await handled(tg)
    assert tg.fake.last(ALICE.id).shown == EN(texts.ASK_RATING, low=1, high=5)
    assert [a.answer for a in await stored_answers(tg.store)] == ["Look at this latte art"]


async def test_an_album_gets_one_reply(tg: TelegramWorld) -> None:
    before = len(tg.fake.messages(ALICE.id))
    tg.fake.send_album(ALICE, 4, caption="Our brunch")
    await handled(tg)
    assert tg.fake.texts(ALICE.id)[before:] == [EN(texts.ASK_RATING, low=1, high=5)]
    assert [a.answer for a in await stored_answers(tg.store)] == ["Our brunch"]


async def test_an_album_without_words_gets_one_request_for_words(tg: TelegramWorld) -> None:
    before = len(tg.fake.messages(ALICE.id))
    tg.fake.send_album(ALICE, 3)
    await handled(tg)
    assert tg.fake.texts(ALICE.id)[before:] == [EN(texts.ASK_IN_WORDS)]


async def test_a_bare_number_is_the_rating_then_the_words_follow(tg: TelegramWorld) -> None:
    await tg.say(ALICE, "5")
    assert tg.fake.last(ALICE.id).shown == EN(texts.ASK_WORDS, rating=5)
    await tg.say(ALICE, "Quick and friendly")
    assert [(a.answer, a.rating) for a in await stored_answers(tg.store)] == [("Quick and friendly", 5)]
