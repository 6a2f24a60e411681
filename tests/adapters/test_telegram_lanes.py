"""RequestLanes: PTB's Bot over lanes of one connection each, errors and pool timeout as PTB's own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.error import ChatMigrated, Forbidden, RetryAfter, TimedOut

from adapters.telegram.lanes import RequestLanes
from tests.adapters.fake_telegram import FakeTelegram, FakeUser
from tests.adapters.telegram_harness import ptb_timedelta  # noqa: F401  (the fixture)

ALICE, BOB = FakeUser(4242, "Alice"), FakeUser(4343, "Bob")
pytestmark = pytest.mark.usefixtures("ptb_timedelta")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(limits=None) as server:
        server.send_text(ALICE, "/start")
        server.send_text(BOB, "/start")
        yield server


async def test_concurrent_requests_each_have_a_lane_and_errors_are_ptbs(fake: FakeTelegram) -> None:
    lanes = RequestLanes(4)
    async with Bot(fake.token, base_url=fake.base_url, request=lanes) as bot:
        sent = await asyncio.gather(*(bot.send_message(ALICE.id, f"hello {i}") for i in range(12)))
        assert sorted(m.message_id for m in sent) == [m.message_id for m in fake.messages(ALICE.id)]
        assert len(lanes._lanes) <= 4  # noqa: SLF001
        fake.flood("sendMessage", retry_after=3)
        with pytest.raises(RetryAfter):
            await bot.send_message(ALICE.id, "again")
        fake.migrate_group(-100, -1000100, by=ALICE, announce=False)
        with pytest.raises(ChatMigrated) as migrated:
            await bot.send_message(-100, "digest")
        assert migrated.value.new_chat_id == -1000100
        fake.forbid(BOB.id)
        with pytest.raises(Forbidden):
            await bot.send_message(BOB.id, "hi")
    assert lanes._lanes == []  # noqa: SLF001  (shut down with the bot)


async def test_a_request_finding_no_free_lane_within_the_pool_timeout_is_not_sent(fake: FakeTelegram) -> None:
    async with Bot(fake.token, base_url=fake.base_url, request=RequestLanes(1, pool_timeout=0.2)) as bot:
        fake.stall("sendMessage")
        first = asyncio.create_task(bot.send_message(ALICE.id, "first"))
        await fake.until(lambda: fake.calls_to("sendMessage"))
        with pytest.raises(TimedOut, match="Pool timeout"):
            await bot.send_message(BOB.id, "second")
        fake.unstall("sendMessage")
        assert (await first).text == "first"
        assert [params["text"] for params in fake.calls_to("sendMessage")] == ["first"]
