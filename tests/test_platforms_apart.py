"""Two platforms in one runtime, as `feedbot run` wires them: one being down never holds up the other.

Telegram and Discord are the fake servers, each through its real SDK; the database is SQLite.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.discord.client import DiscordAdapter
from bot.runtime.app import build_runtime
from tests.adapters.fake_discord import FakeDiscord
from tests.adapters.fake_telegram import FakeTelegram, FakeUser
from tests.adapters.telegram_harness import TEST_LIMITS, make_adapter
from tests.support import make_settings

ALICE = FakeUser(4242, "Alice")
DISCORD_DOWN = 3  # start attempts that find Discord's API failing


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.runtime.supervisor

    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    monkeypatch.setattr(bot.runtime.supervisor, "START_BACKOFF", 0.05)
    monkeypatch.setattr(bot.runtime.supervisor, "START_BACKOFF_CAP", 0.2)


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeTelegram, FakeDiscord]]:
    discord = FakeDiscord()
    await discord.start()
    async with FakeTelegram(limits=TEST_LIMITS) as telegram:
        yield telegram, discord
    await discord.stop()


async def test_with_discord_down_at_start_telegram_customers_are_served_and_discord_joins_later(
    servers: tuple[FakeTelegram, FakeDiscord], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    telegram, discord = servers
    caplog.set_level(logging.WARNING, logger="feedbot.app")
    discord.fail("GET", r"/users/@me$", 503, 0, "Service Unavailable", times=DISCORD_DOWN)
    settings = make_settings(
        {"storage": {"url": f"sqlite+aiosqlite:///{tmp_path}/feedbot.db"}},
        telegram={"base_url": telegram.base_url},
        discord={"api_base": discord.api_base},
    )
    assert settings.discord is not None
    on_discord = DiscordAdapter(settings.discord, discord.token, poll_ids=["visit"], guild_ready_timeout=0.05)
    runtime = build_runtime(settings, adapters=[make_adapter(telegram, settings), on_discord])
    stop = asyncio.Event()
    running = asyncio.create_task(runtime.run(stop))
    try:
        telegram.send_text(ALICE, "/start")
        await telegram.until(lambda: telegram.messages(ALICE.id), within=20)
        assert "You're subscribed" in telegram.last(ALICE.id).shown
        for _ in range(400):  # Discord joins once its API answers again
            if discord.connected:
                break
            await asyncio.sleep(0.05)
        assert discord.connected
    finally:
        stop.set()
        await asyncio.wait_for(running, 20)
    retries = [r.getMessage() for r in caplog.records if "could not start" in r.getMessage()]
    assert len(retries) == DISCORD_DOWN
    assert all(line.startswith("platform discord could not start") for line in retries)
    assert not any("storage" in line or "url" in line for line in retries)
