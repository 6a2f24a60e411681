"""Telegram under real faults, through the runtime `feedbot run` builds: start-up failures, a token
revoked mid-run, flood control. The fake Bot API server plays Telegram; the database is SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.telegram.convert import token_rejected
from bot.outbox_codec import to_row
from bot.runtime.app import PlatformsGone, Runtime, build_runtime
from bot.types import ChatRef, Outbound
from storage.models import DeliveryKind
from storage.store import Store
from tests.adapters.fake_telegram import FakeTelegram, FakeUser
from tests.adapters.telegram_harness import TEST_LIMITS, make_adapter, open_world, telegram_settings
from tests.support import find_customer, make_settings, run_counts

ALICE, BOB = FakeUser(4242, "Alice"), FakeUser(4343, "Bob")


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.runtime.supervisor

    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    monkeypatch.setattr(bot.runtime.supervisor, "START_BACKOFF", 0.01)
    monkeypatch.setattr(bot.runtime.supervisor, "START_BACKOFF_CAP", 0.05)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(limits=TEST_LIMITS) as server:
        yield server


def runtime_for(fake: FakeTelegram, tmp_path: Path) -> Runtime:
    settings = make_settings(
        {"storage": {"url": f"sqlite+aiosqlite:///{tmp_path}/feedbot.db"}}, telegram={"base_url": fake.base_url}
    )
    return build_runtime(settings, adapters=[make_adapter(fake, settings)])


async def test_transient_failures_at_start_are_retried_until_telegram_answers(
    fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail("getMe", 502, "Bad Gateway", times=2)
    fake.fail("deleteWebhook", 500, "Internal Server Error")
    fake.flood("deleteWebhook", retry_after=1)
    runtime = runtime_for(fake, tmp_path)
    stop = asyncio.Event()
    running = asyncio.create_task(runtime.run(stop))
    try:
        await fake.until(lambda: fake.calls_to("getUpdates"), within=10)
        fake.send_text(ALICE, "/start")
        await fake.until(lambda: fake.messages(ALICE.id), within=10)
        assert "You're subscribed" in fake.last(ALICE.id).shown
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
    retries = [r.getMessage() for r in caplog.records if "could not start" in r.getMessage()]
    assert len(retries) == 4, retries
    assert all(line.startswith("platform telegram could not start") for line in retries)
    assert not any("storage" in line or fake.token in line for line in retries)
    assert not [r for r in caplog.records if "stopped for good" in r.getMessage()]


async def test_a_token_revoked_mid_run_ends_telegram_with_one_line_and_every_customer_stays_reachable(
    fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = runtime_for(fake, tmp_path)
    running = asyncio.create_task(runtime.run(asyncio.Event()))
    await fake.until(lambda: fake.calls_to("getUpdates"), within=10)
    for user in (ALICE, BOB):
        fake.send_text(user, "/start")
    await fake.until(lambda: fake.messages(ALICE.id) and fake.messages(BOB.id), within=10)
    old_token = fake.token
    fake.token = "123456:a-new-token-from-botfather"  # the owner revoked the old one
    started = await runtime.engine.start_run("visit", triggered_by="test")
    assert started is not None
    with pytest.raises(PlatformsGone, match="no platform left running"):
        await asyncio.wait_for(running, 20)  # Telegram was the only platform: the process exits non-zero
    for user in (ALICE, BOB):
        customer = await find_customer(runtime.store, "telegram", str(user.id))
        assert customer is not None and customer.reachable, user
    gone = [r.getMessage() for r in caplog.records if "stopped for good" in r.getMessage()]
    assert gone == ["platform telegram stopped for good: " + token_rejected("TELEGRAM_BOT_TOKEN").reason]
    assert old_token not in caplog.text


async def test_flood_control_during_a_run_leaves_every_customer_reachable(
    fake: FakeTelegram, sqlite_store: Store
) -> None:
    world = await open_world(fake, sqlite_store, max_flood_retries=1)
    try:
        for user in (ALICE, BOB):
            await world.say(user, "/start")
        fake.flood("sendMessage", retry_after=2, times=10)
        started = await world.engine.start_run("visit", triggered_by="test")
        assert started is not None
        await world.worker.drain()
        counts = await run_counts(world.store, started.run_id)
        assert (counts.pending, counts.failed, counts.sent) == (2, 0, 0)  # waiting for another try
        for user in (ALICE, BOB):
            customer = await find_customer(world.store, "telegram", str(user.id))
            assert customer is not None and customer.reachable
    finally:
        await world.adapter.stop()


async def test_our_own_bad_payload_fails_that_delivery_and_the_customer_stays_reachable(
    fake: FakeTelegram, sqlite_store: Store
) -> None:
    world = await open_world(fake, sqlite_store, settings=telegram_settings(fake))
    try:
        await world.say(ALICE, "/start")
        fake.fail("sendMessage", 400, "Bad Request: can't parse entities: unsupported start tag", times=1)
        started = await world.engine.start_run("visit", triggered_by="test")
        assert started is not None
        await world.worker.drain()
        counts = await run_counts(world.store, started.run_id)
        assert counts.failed == 1
        customer = await find_customer(world.store, "telegram", str(ALICE.id))
        assert customer is not None and customer.reachable
        await world.adapter.send(Outbound(ChatRef("telegram", str(ALICE.id), str(ALICE.id)), "still here"))
        assert fake.last(ALICE.id).shown == "still here"
    finally:
        await world.adapter.stop()


async def test_a_retry_of_a_message_sent_in_parts_sends_only_the_missing_parts(
    fake: FakeTelegram, sqlite_store: Store
) -> None:
    world = await open_world(fake, sqlite_store)
    try:
        await world.say(ALICE, "/start")
        lines = [f"line {i:04d} " + "x" * 90 for i in range(100)]  # three parts of at most 4,096
        chat = ChatRef("telegram", str(ALICE.id), str(ALICE.id))
        async with world.store.unit() as unit:
            await unit.outbox.queue(to_row(Outbound(chat, "\n".join(lines)), DeliveryKind.REPLY), world.clock.now())
        before = len(fake.messages(ALICE.id))
        fake.fail("sendMessage", 502, "Bad Gateway", skip=1)  # the second part meets a passing error
        await world.worker.drain()
        assert len(fake.messages(ALICE.id)) == before + 1
        world.clock.advance(minutes=5)  # the retry is due
        await world.worker.drain()
        parts = fake.texts(ALICE.id)[before:]
        assert len(parts) == 3  # the first part was not sent again
        assert "\n".join(parts) == "\n".join(lines)
    finally:
        await world.adapter.stop()
