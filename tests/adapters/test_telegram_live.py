"""Smoke test against the real Telegram. Runs only with `pytest -m live` and TELEGRAM_BOT_TOKEN set.

Use a test bot: starting the adapter sets its command menu and deletes any webhook it has. With
TELEGRAM_TEST_CHAT_ID (your user id, after you sent /start to the test bot) it also sends messages.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from adapters.telegram.client import TelegramAdapter
from bot.config import TelegramSettings
from bot.types import ChatRef, Choice, Inbound, Outbound

pytestmark = pytest.mark.live


async def test_live_bot_connects_and_sends() -> None:
    """The suite-wide 127.0.0.1-only guard (tests/conftest.py) stands aside for `live` tests."""
    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        pytest.skip("TELEGRAM_BOT_TOKEN is not set")
    received: list[Inbound] = []

    async def on_message(inbound: Inbound) -> None:
        received.append(inbound)

    adapter = TelegramAdapter(TelegramSettings(), token)
    await adapter.start(on_message)
    try:
        assert adapter.username
        chat_id = os.environ.get("TELEGRAM_TEST_CHAT_ID", "").strip()
        if chat_id:
            chat = ChatRef("telegram", chat_id, chat_id)
            first = await adapter.send(Outbound(chat, "feedbot live test: <b>plain</b> text, *no* markup"))
            last = await adapter.send(
                Outbound(
                    chat, "line\n" * 1000 + "Rate the test?", choices=(Choice("1", "live:1"), Choice("2", "live:2"))
                )
            )
            assert first.isdigit() and int(last) > int(first)
        await asyncio.sleep(1)  # one getUpdates round trip
    finally:
        await adapter.stop()
