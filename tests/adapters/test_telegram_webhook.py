"""Webhook mode: the secret header is checked, and 200 goes back only once the update is committed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters.telegram.client import SECRET_HEADER
from bot.adapter import Handled
from bot.customer_commands import mydata_json
from bot.errors import ConfigError, TryLater
from bot.types import Inbound
from storage.store import Store
from tests.adapters.fake_telegram import FakeTelegram, FakeUser
from tests.adapters.telegram_harness import (
    FailsFirstCommit,
    TelegramWorld,
    make_adapter,
    open_world,
    running_world,
    telegram_settings,
)
from tests.support import find_customer, free_port

ALICE = FakeUser(4242, "Alice")
SECRET = "s3cret-Value_1"
PUBLIC_URL = "https://bot.example.test/telegram/hook"


@pytest.fixture
async def hooked(fake_telegram: FakeTelegram, sqlite_store: Store) -> AsyncIterator[TelegramWorld]:
    port = free_port()
    settings = telegram_settings(fake_telegram, mode="webhook", webhook_url=PUBLIC_URL, port=port)
    environ = {"TELEGRAM_WEBHOOK_SECRET": SECRET}
    async with running_world(fake_telegram, sqlite_store, settings, environ=environ) as world:
        yield world


def local_url(world: TelegramWorld) -> str:
    assert world.settings.telegram is not None
    return f"http://127.0.0.1:{world.settings.telegram.port}/telegram/hook"


async def test_set_webhook_with_the_secret_at_start(hooked: TelegramWorld) -> None:
    assert hooked.fake.webhook["url"] == PUBLIC_URL
    assert hooked.fake.webhook["secret_token"] == SECRET
    assert hooked.fake.calls_to("getUpdates") == []


async def test_requests_without_the_right_secret_are_rejected(hooked: TelegramWorld) -> None:
    fake = hooked.fake
    fake.send_text(ALICE, "/start")
    update = fake.pending_updates[0]
    async with aiohttp.ClientSession() as session:
        async with session.post(local_url(hooked), json=update) as response:
            assert response.status == 401
        async with session.post(local_url(hooked), json=update, headers={SECRET_HEADER: "guess"}) as response:
            assert response.status == 403
    assert await find_customer(hooked.store, "telegram", str(ALICE.id)) is None
    assert fake.messages(ALICE.id) == []

    assert await fake.deliver_webhook(local_url(hooked)) == [200]
    assert await find_customer(hooked.store, "telegram", str(ALICE.id)) is not None  # committed before the 200
    await hooked.worker.drain()
    assert "You're subscribed" in fake.last(ALICE.id).shown
    assert fake.pending_updates == []


async def test_an_update_posted_twice_is_stored_once(hooked: TelegramWorld) -> None:
    """Our 200 got lost on the way: Telegram posts the same update again."""
    fake = hooked.fake
    fake.send_text(ALICE, "/start")
    assert await fake.deliver_webhook(local_url(hooked)) == [200]
    await hooked.engine.start_run("visit", triggered_by="test")
    await hooked.worker.drain()
    fake.send_text(ALICE, "Great coffee")
    update = fake.pending_updates[0]
    assert await fake.deliver_webhook(local_url(hooked)) == [200]
    await hooked.worker.drain()
    sent = len(fake.messages(ALICE.id))
    fake.redeliver(update)
    assert await fake.deliver_webhook(local_url(hooked)) == [200]
    await hooked.worker.drain()
    customer = await find_customer(hooked.store, "telegram", str(ALICE.id))
    assert customer is not None and customer.id is not None
    async with hooked.store.read() as unit:
        data = await unit.customers.data(customer.id)
    assert data is not None
    answers = mydata_json(data)["answers"]
    assert [a["answer"] for a in answers] == ["Great coffee"]
    assert len(fake.messages(ALICE.id)) == sent


async def test_failed_update_answers_500_so_telegram_retries(fake_telegram: FakeTelegram, sqlite_store: Store) -> None:
    settings = telegram_settings(fake_telegram, mode="webhook", webhook_url=PUBLIC_URL, port=free_port())
    world = await open_world(fake_telegram, sqlite_store, settings, webhook_secret=SECRET)
    await world.adapter.stop()
    await world.restart(FailsFirstCommit(world.engine))
    try:
        fake_telegram.send_text(ALICE, "/start")
        assert await fake_telegram.deliver_webhook(local_url(world)) == [500]
        assert len(fake_telegram.pending_updates) == 1
        assert await fake_telegram.deliver_webhook(local_url(world)) == [200]
        assert await find_customer(world.store, "telegram", str(ALICE.id)) is not None
    finally:
        await world.adapter.stop()


async def test_switching_back_to_polling_deletes_the_webhook(fake_telegram: FakeTelegram, sqlite_store: Store) -> None:
    settings = telegram_settings(fake_telegram, mode="webhook", webhook_url=PUBLIC_URL, port=free_port())
    async with running_world(fake_telegram, sqlite_store, settings, webhook_secret=SECRET):
        pass
    assert fake_telegram.webhook["url"] == PUBLIC_URL  # stopping keeps it: Telegram queues updates meanwhile
    async with running_world(fake_telegram, sqlite_store) as world:
        assert fake_telegram.webhook["url"] == ""
        await world.say(ALICE, "/start")
        assert "You're subscribed" in fake_telegram.last(ALICE.id).shown


async def test_webhook_mode_needs_a_secret(fake_telegram: FakeTelegram) -> None:
    settings = telegram_settings(fake_telegram, mode="webhook", webhook_url=PUBLIC_URL)
    adapter = make_adapter(fake_telegram, settings, environ={})

    async def nothing(inbound: Inbound) -> Handled:
        return Handled()

    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET is not set"):
        await adapter.start(nothing)
    bad = make_adapter(fake_telegram, settings, webhook_secret="has spaces")
    with pytest.raises(ConfigError, match="1-256 characters"):
        await bad.start(nothing)
    assert fake_telegram.calls == []  # refused before talking to Telegram


async def test_max_connections_is_set_and_telegram_errors_are_logged_at_start_and_then_regularly(
    fake_telegram: FakeTelegram, sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    fake_telegram.webhook_error = (1_700_000_000, "SSL error {error:0A000086:SSL routines::certificate verify failed}")
    settings = telegram_settings(
        fake_telegram, mode="webhook", webhook_url=PUBLIC_URL, port=free_port(), webhook_max_connections=12
    )
    environ = {"TELEGRAM_WEBHOOK_SECRET": SECRET}
    async with running_world(fake_telegram, sqlite_store, settings, environ=environ, webhook_check_every=0.05) as world:
        assert fake_telegram.webhook["max_connections"] == 12

        def errors() -> list[str]:
            return [r.getMessage() for r in caplog.records if "could not deliver to the webhook" in r.getMessage()]

        assert len(errors()) == 1 and "certificate verify failed" in errors()[0]
        calls = len(fake_telegram.calls_to("getWebhookInfo"))
        await fake_telegram.until(lambda: len(fake_telegram.calls_to("getWebhookInfo")) >= calls + 2)
        assert len(errors()) == 1  # the same error is logged once
        fake_telegram.webhook_error = (1_700_000_600, "Read timeout expired")
        await fake_telegram.until(lambda: len(fake_telegram.calls_to("getWebhookInfo")) >= calls + 4)
        assert len(errors()) == 2 and "Read timeout expired" in errors()[1]
        assert world.adapter is not None


async def test_a_webhook_call_not_answered_in_time_is_posted_again(hooked: TelegramWorld) -> None:
    fake = hooked.fake
    fake.webhook_timeout = 0.3
    fake.send_text(ALICE, "/start")
    original = hooked.engine.on_message
    slow = {"first": True}

    async def slow_first(inbound: Inbound) -> Handled:
        if slow["first"]:
            slow["first"] = False
            await asyncio.sleep(1.0)  # longer than Telegram waits
        return await original(inbound)

    hooked.adapter._on_message = slow_first
    assert await fake.deliver_webhook(local_url(hooked)) == [0]
    assert fake.pending_updates and fake.webhook_error is not None
    assert await fake.deliver_webhook(local_url(hooked)) == [200]
    assert not fake.pending_updates
    await hooked.worker.drain()
    customer = await find_customer(hooked.store, "telegram", str(ALICE.id))
    assert customer is not None
    assert len([m for m in fake.messages(ALICE.id) if "subscribed" in m.shown]) == 1  # handled twice, stored once


async def test_a_passing_set_webhook_failure_leaves_nothing_half_started(fake_telegram: FakeTelegram) -> None:
    port = free_port()
    settings = telegram_settings(fake_telegram, mode="webhook", webhook_url=PUBLIC_URL, port=port)
    adapter = make_adapter(fake_telegram, settings, environ={"TELEGRAM_WEBHOOK_SECRET": SECRET})

    async def nothing(inbound: Inbound) -> Handled:
        return Handled()

    fake_telegram.fail("setWebhook", 502, "Bad Gateway")
    with pytest.raises(TryLater, match="Bad Gateway"):
        await adapter.start(nothing)
    assert fake_telegram.webhook["url"] == ""
    await adapter.start(nothing)  # tried again: the port is free again, nothing is left over
    try:
        assert fake_telegram.webhook["url"] == PUBLIC_URL
    finally:
        await adapter.stop()
    fake_telegram.fail("setWebhook", 400, "Bad Request: bad webhook: Failed to resolve host")
    with pytest.raises(ConfigError, match="telegram.webhook_url"):  # the operator's to fix: not retried
        await adapter.start(nothing)
