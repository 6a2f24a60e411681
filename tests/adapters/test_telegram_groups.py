"""Telegram groups: results only where the team reads them; outsiders' groups are left at once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot import texts
from bot.i18n import Voice
from storage.store import Store
from tests.adapters.fake_telegram import FakeUser
from tests.adapters.telegram_harness import (
    MANAGER_ID,
    STAFF_ID,
    TEAM_GROUP,
    TelegramWorld,
    ptb_timedelta,  # noqa: F401  (the fixture)
    team_world,
)
from tests.support import latest_run

EN = Voice("en")  # the English texts, as a customer without a catalog language reads them

BOSS = FakeUser(MANAGER_ID, "Morgan")
STAFF = FakeUser(STAFF_ID, "Sam")
MALLORY = FakeUser(6666, "Mallory")
OUTSIDERS_GROUP = -1009999


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


@pytest.fixture
async def tg(sqlite_store: Store) -> AsyncIterator[TelegramWorld]:
    async with team_world(sqlite_store) as world:
        yield world


async def settle(tg: TelegramWorld) -> None:
    await tg.fake.wait_confirmed()
    await tg.worker.drain()
    await tg.adapter.settle()


async def test_the_bot_leaves_a_group_it_was_not_configured_for(
    tg: TelegramWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="feedbot.telegram")
    tg.fake.add_to_group(MALLORY, OUTSIDERS_GROUP)
    await settle(tg)
    assert OUTSIDERS_GROUP in tg.fake.left_chats
    [line] = [r.getMessage() for r in caplog.records if "leaving" in r.getMessage()]
    assert f"user {MALLORY.id} added the bot to chat {OUTSIDERS_GROUP}" in line
    assert "Mallory" not in line  # ids only
    # Nothing the outsiders write afterwards reaches the bot, and it sent nothing there.
    tg.fake.send_text(BOSS, "/digest@FeedbackTestBot", group=OUTSIDERS_GROUP)
    await settle(tg)
    assert tg.fake.messages(OUTSIDERS_GROUP) == []


async def test_a_manager_in_an_outsiders_group_gets_no_digest(tg: TelegramWorld) -> None:
    tg.fake.add_group(OUTSIDERS_GROUP)  # added while the bot was down: the first update it sees is a command
    tg.fake.send_text(BOSS, "/digest@FeedbackTestBot week", group=OUTSIDERS_GROUP)
    tg.fake.send_text(STAFF, "/poll@FeedbackTestBot visit", group=OUTSIDERS_GROUP)
    await settle(tg)
    assert tg.fake.messages(OUTSIDERS_GROUP) == []
    assert OUTSIDERS_GROUP in tg.fake.left_chats
    assert await latest_run(tg.store) is None


async def test_in_the_team_group_only_our_commands_are_answered(tg: TelegramWorld) -> None:
    for text in ("/help@OtherBot", "/roll@DiceBot 2d6", "/usr/bin/python3 crashed again", "/tmp is full", "hi all"):
        tg.fake.send_text(STAFF, text, group=TEAM_GROUP)
    await settle(tg)
    assert tg.fake.messages(TEAM_GROUP) == []
    tg.fake.send_text(STAFF, "/status@FeedbackTestBot", group=TEAM_GROUP)
    tg.fake.send_text(STAFF, "/polls", group=TEAM_GROUP)  # bare, in a configured chat: ours
    await settle(tg)
    status, polls = tg.fake.texts(TEAM_GROUP)
    assert status == "No poll has run yet." and polls.startswith("Polls:")


async def test_an_anonymous_admin_cannot_read_results(tg: TelegramWorld) -> None:
    tg.fake.send_anonymous(TEAM_GROUP, "/digest@FeedbackTestBot")
    await settle(tg)
    assert tg.fake.messages(TEAM_GROUP) == []


async def test_a_manager_in_a_private_chat_gets_the_digest(tg: TelegramWorld) -> None:
    await tg.say(BOSS, "/digest")
    assert tg.fake.last(BOSS.id).shown.startswith("Digest for the")
    await tg.say(MALLORY, "/digest")
    assert tg.fake.last(MALLORY.id).shown == EN(texts.NOT_ALLOWED_MANAGERS)
