"""A smoke test against the real Discord: `DISCORD_BOT_TOKEN=... pytest -m live tests/adapters`.

Optional: DISCORD_TEST_CHANNEL (a channel id the bot may post in) to send one message there.
Slash commands are not synced, so running this never changes the application's commands.
"""

from __future__ import annotations

import os

import pytest

from adapters.discord.client import DiscordAdapter
from bot.config import DiscordSettings
from bot.types import ChatRef, Outbound

pytestmark = pytest.mark.live

TOKEN = os.environ.get("DISCORD_BOT_TOKEN", "").strip()


@pytest.mark.skipif(not TOKEN, reason="DISCORD_BOT_TOKEN is not set")
async def test_connects_to_the_real_discord_and_posts() -> None:
    adapter = DiscordAdapter(DiscordSettings(), TOKEN, sync_commands=False)

    async def ignore(_: object) -> None:
        return None

    await adapter.start(ignore)
    try:
        assert adapter.client is not None and adapter.client.user is not None
        channel = os.environ.get("DISCORD_TEST_CHANNEL", "").strip()
        if channel:
            message_id = await adapter.send(Outbound(ChatRef("discord", channel), "feedbot live smoke test @everyone"))
            assert message_id.isdigit()
    finally:
        await adapter.stop()
