"""Delivery workers of several processes on one PostgreSQL database keep each chat's pace together
(bot.shared_pace): here two workers, each with its own adapter, as two `feedbot run` processes have."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from adapters.local import LocalAdapter
from bot.adapter import Handled
from bot.outbox_codec import to_row
from bot.pacing import PaceRules
from bot.runtime.delivery import DeliveryWorker
from bot.runtime.scale_out import share_pace
from bot.types import ChatRef, Inbound, Outbound
from storage.models import DeliveryKind
from tests.conftest import _pg_store
from tests.support import make_settings

# Telegram's rules with a group allowed 3 sends a minute instead of 20, so that a few seconds show it.
RULES = PaceRules(per_second=50, private_gap=1.0, group_per_minute=3)


async def nothing_comes_in(_: Inbound) -> Handled:
    return Handled()


async def test_two_processes_send_a_group_chat_its_minute_s_messages_and_no_more(pg_url: str) -> None:
    store = await _pg_store(pg_url)
    adapters = [LocalAdapter(rules=RULES) for _ in range(2)]
    share_pace(adapters, store)
    for adapter in adapters:
        await adapter.start(nothing_comes_in)
    workers = [DeliveryWorker(store, {adapter.platform: adapter}, make_settings()) for adapter in adapters]
    team = ChatRef(LocalAdapter.platform, "-5")  # no user: a group chat
    try:
        # Staff keep the bot busy in their group; the processes take turns sending the replies, so
        # each process alone sees only half of them and its own pacer would let every one go.
        for i in range(6):
            async with store.unit() as unit:
                await unit.outbox.queue(to_row(Outbound(team, f"reply {i}"), DeliveryKind.REPLY), datetime.now(UTC))
            await workers[i % 2].drain()
            await asyncio.sleep(1.1)  # the chat's gap after a send
    finally:
        await store.dispose()
    sent = sorted(message.text for adapter in adapters for message in adapter.outbox)
    assert sent == ["reply 0", "reply 1", "reply 2"]  # the rest wait for the minute to pass
