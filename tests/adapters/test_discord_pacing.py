"""Discord's limits against the fake, which enforces them by default (fake_discord_limits.py): discord.py
alone bursts into the global limit; our pacer in front of it keeps every DM within it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.discord.client import DiscordAdapter
from bot.adapter import Handled
from bot.errors import TryLater
from bot.pacing import LocalPacer, PaceRules
from bot.types import ChatRef, Outbound
from tests.adapters.fake_discord import FakeDiscord
from tests.support import make_settings


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    yield server
    await server.stop()


async def ignore(_: object) -> Handled:
    return Handled()


async def _send_dms(fake: FakeDiscord, adapter: DiscordAdapter, count: int) -> list[str | BaseException]:
    chats = []
    for i in range(count):
        user = fake.add_user(f"customer{i}")
        chats.append(ChatRef("discord", str(fake.dm_channel(user)), str(user.id)))
    await adapter.start(ignore)
    try:
        sends = (adapter.send(Outbound(chat, "How was your visit?")) for chat in chats)
        return await asyncio.gather(*sends, return_exceptions=True)
    finally:
        await adapter.stop()


async def test_the_fake_answers_a_burst_beyond_the_global_limit_with_429(fake: FakeDiscord) -> None:
    settings = make_settings(discord={"api_base": fake.api_base})
    assert settings.discord is not None
    unpaced = DiscordAdapter(settings.discord, fake.token, guild_ready_timeout=0.05, pacer=LocalPacer(PaceRules()))
    results = await _send_dms(fake, unpaced, 120)
    assert fake.too_many_requests > 0  # discord.py does not pace the global limit in advance
    failed = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, TryLater) for r in failed)  # a 429 never marks anyone unreachable


async def test_300_dms_at_our_pace_meet_no_429(fake: FakeDiscord) -> None:
    # 40/s: Discord's global 50/s less room for what is not a send (log-in, command sync, reads).
    settings = make_settings(discord={"api_base": fake.api_base, "send_rate": 40})
    assert settings.discord is not None
    adapter = DiscordAdapter(settings.discord, fake.token, guild_ready_timeout=0.05)
    sent = await _send_dms(fake, adapter, 300)
    assert len(set(sent)) == 300
    assert fake.too_many_requests == 0 and fake.invalid_requests == 0
    assert all(len(fake.channel_messages(int(ch))) == 1 for ch in fake.dm_channels.values())


def test_the_default_pace_is_5_dms_per_second() -> None:
    settings = make_settings(discord={})
    assert settings.discord is not None
    adapter = DiscordAdapter(settings.discord, "token")
    assert isinstance(adapter.pacer, LocalPacer) and adapter.pacer.rules.per_second == 5
