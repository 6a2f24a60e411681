"""Telegram chats that change: a team group upgraded to a supergroup (new id), staff who are staff no more."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.types import ChatRef, Outbound
from storage.store import Store
from tests.adapters.fake_telegram import FakeTelegram, FakeUser
from tests.adapters.telegram_harness import (
    MANAGER_ID,
    STAFF_ID,
    TEAM_GROUP,
    TEST_LIMITS,
    make_adapter,
    open_world,
    telegram_settings,
)

BOSS = FakeUser(MANAGER_ID, "Morgan")
SUPERGROUP = -1009876543210
TEAM = ChatRef("telegram", str(TEAM_GROUP))


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with FakeTelegram(limits=TEST_LIMITS) as server:
        server.add_group(TEAM_GROUP)
        yield server


def move_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "moved to" in r.getMessage()]


async def test_a_migrated_team_group_is_followed_remembered_and_still_a_team_chat(
    fake: FakeTelegram, sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="feedbot.telegram")
    world = await open_world(fake, sqlite_store)
    try:
        fake.migrate_group(TEAM_GROUP, SUPERGROUP, by=BOSS)
        await fake.wait_confirmed()
        [line] = move_lines(caplog)
        assert f"put {SUPERGROUP} in place of {TEAM_GROUP} in telegram.digest_chats" in line
        assert SUPERGROUP not in fake.left_chats  # the new id is our team chat, not an outsider's group
        await world.adapter.send(Outbound(TEAM, "Weekly digest"))  # the configured id...
        assert fake.texts(SUPERGROUP) == ["Weekly digest"]  # ...reaches the new one, without a failed call
        assert all(int(p["chat_id"]) != TEAM_GROUP for p in fake.calls_to("sendMessage"))
        fake.send_text(BOSS, "/status@FeedbackTestBot", group=SUPERGROUP)  # results still answer there
        await fake.wait_confirmed()
        await world.worker.drain()
        assert fake.texts(SUPERGROUP)[-1] == "No poll has run yet."

        await world.adapter.stop()
        await world.restart()  # a new process: the move is remembered
        await world.adapter.send(Outbound(TEAM, "Next digest"))
        assert fake.texts(SUPERGROUP)[-1] == "Next digest"
        assert all(int(p["chat_id"]) != TEAM_GROUP for p in fake.calls_to("sendMessage"))
        assert len(move_lines(caplog)) == 1  # the admin is told once
    finally:
        await world.adapter.stop()


async def test_chat_migrated_on_a_send_is_followed_and_remembered(
    fake: FakeTelegram, sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    world = await open_world(fake, sqlite_store)
    try:
        fake.migrate_group(TEAM_GROUP, SUPERGROUP, by=BOSS, announce=False)
        await world.adapter.send(Outbound(TEAM, "First"))
        await world.adapter.send(Outbound(TEAM, "Second"))
        assert fake.texts(SUPERGROUP) == ["First", "Second"]
        to_old = [p for p in fake.calls_to("sendMessage") if int(p["chat_id"]) == TEAM_GROUP]
        assert len(to_old) == 1  # only the first send learnt it the hard way
        assert len(move_lines(caplog)) == 1
    finally:
        await world.adapter.stop()


async def test_menus_of_chats_no_longer_staff_are_deleted(fake: FakeTelegram, sqlite_store: Store) -> None:
    fake.send_text(FakeUser(STAFF_ID, "Sam"), "hi")  # staff opened the bot: their menu can be set
    world = await open_world(fake, sqlite_store)
    staff_scope = (f"chat:{STAFF_ID}", "")
    try:
        assert staff_scope in fake.commands
    finally:
        await world.adapter.stop()
    demoted = telegram_settings(fake, staff=[])
    assert demoted.telegram is not None
    adapter = make_adapter(fake, demoted)
    adapter.remember_with(world.adapter.moves.memory)  # type: ignore[arg-type]
    await adapter.start(world.engine.on_message)
    try:
        assert staff_scope not in fake.commands
        assert [s["scope"]["chat_id"] for s in fake.calls_to("deleteMyCommands")] == [STAFF_ID]
    finally:
        await adapter.stop()
    again = make_adapter(fake, demoted)
    again.remember_with(world.adapter.moves.memory)  # type: ignore[arg-type]
    await again.start(world.engine.on_message)
    await again.stop()
    assert len(fake.calls_to("deleteMyCommands")) == 1  # forgotten once deleted
