"""Claims when several processes share one PostgreSQL database: a chat belongs to one claiming
transaction at a time, and rests `chat_gap` seconds after a send, whichever process claims next."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, text

from storage import tables as t
from storage.models import DeliveryKind
from storage.outbox import FRESH_STATISTICS_AFTER, OutboxMessage
from storage.store import Store
from tests.conftest import _pg_store
from tests.storage.test_store import new_run

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[Store]:
    store = await _pg_store(pg_url)
    yield store
    await store.dispose()


async def queue(store: Store, chat: str, text: str, user: str | None = None) -> int:
    """A reply to `chat`: a group chat, or the private chat of `user`."""
    async with store.unit() as unit:
        message = OutboxMessage(kind=DeliveryKind.REPLY, platform="telegram", chat_id=chat, body=text, user_id=user)
        return await unit.outbox.queue(message, NOW)


async def send_next(store: Store, worker: str, at: datetime, group_per_minute: float) -> int | None:
    """Claim one message at `at` with Telegram's shared per-chat pace; record it sent 0.1 s later."""
    async with store.unit() as unit:
        claims = await unit.outbox.claim(worker, ["telegram"], at, 1, chat_gap=1.0, group_per_minute=group_per_minute)
    if not claims:
        return None
    async with store.unit() as unit:
        assert await unit.outbox.record_sent(claims[0], f"m{claims[0].delivery_id}", at + timedelta(seconds=0.1))
    return claims[0].delivery_id


async def test_a_chat_claimed_in_an_open_transaction_is_skipped_by_another(pg_store: Store) -> None:
    first = await queue(pg_store, "7", "one")
    await queue(pg_store, "7", "two")
    other = await queue(pg_store, "8", "other chat")
    async with pg_store.unit() as a:
        claimed_a = await a.outbox.claim("a", ["telegram"], NOW, 1)
        assert [c.delivery_id for c in claimed_a] == [first]
        # Process b claims while a has not committed: it cannot see a's claim, yet must not take
        # chat 7's second message (it would go out beside, or before, the first).
        async with pg_store.unit() as b:
            claimed_b = await b.outbox.claim("b", ["telegram"], NOW, 10)
        assert [c.delivery_id for c in claimed_b] == [other]
    async with pg_store.unit() as b:
        assert await b.outbox.claim("b", ["telegram"], NOW, 10) == []  # chat 7 has a send in flight


async def test_a_chat_rests_chat_gap_after_a_send_whoever_claims_next(pg_store: Store) -> None:
    await queue(pg_store, "7", "one")
    second = await queue(pg_store, "7", "two")
    async with pg_store.unit() as a:
        (claim,) = await a.outbox.claim("a", ["telegram"], NOW, 1, chat_gap=1.0)
    sent_at = NOW + timedelta(seconds=0.3)
    async with pg_store.unit() as a:
        assert await a.outbox.record_sent(claim, "m1", sent_at)
    async with pg_store.unit() as b:
        assert await b.outbox.claim("b", ["telegram"], sent_at + timedelta(seconds=0.9), 10, chat_gap=1.0) == []
    async with pg_store.unit() as b:
        later = await b.outbox.claim("b", ["telegram"], sent_at + timedelta(seconds=1.0), 10, chat_gap=1.0)
    assert [c.delivery_id for c in later] == [second]


async def test_a_group_chat_gets_its_minute_s_sends_and_no_more_whoever_claims(pg_store: Store) -> None:
    """Telegram lets a bot send a group 20 messages a minute; with several processes the outbox keeps
    that count, as it keeps the gap after each send (3 a minute here, to keep the test short)."""
    group = [await queue(pg_store, "-100", f"team {i}") for i in range(4)]
    sent = [await send_next(pg_store, worker, NOW + timedelta(seconds=2 * i), 3) for i, worker in enumerate("aba")]
    assert sent == group[:3]
    assert await send_next(pg_store, "b", NOW + timedelta(seconds=59), 3) is None  # 3 ended within the minute
    assert await send_next(pg_store, "b", NOW + timedelta(seconds=60.1), 3) == group[3]  # the first is a minute old


async def test_the_group_limit_leaves_private_chats_to_their_gap(pg_store: Store) -> None:
    private = [await queue(pg_store, "8", f"you {i}", user="8") for i in range(4)]
    sent = [await send_next(pg_store, "ab"[i % 2], NOW + timedelta(seconds=1.2 * i), 3) for i in range(4)]
    assert sent == private


async def test_a_large_fan_out_leaves_postgresql_planning_claims_for_the_rows_it_queued(pg_store: Store) -> None:
    """Claims planned for the table as it was before a fan-out can scan every row per candidate."""
    rows = [
        {
            "platform": "telegram",
            "platform_user_id": str(i),
            "chat_id": str(i),
            "display_name": f"c{i}",
            "subscribed": True,
            "reachable": True,
            "created_at": NOW,
            "updated_at": NOW,
        }
        for i in range(FRESH_STATISTICS_AFTER)
    ]
    async with pg_store.unit() as unit:
        await unit.conn.execute(insert(t.customer), rows)
    run = await new_run(pg_store)
    async with pg_store.unit() as unit:
        assert await unit.outbox.fan_out(run, None, NOW) == FRESH_STATISTICS_AFTER
    async with pg_store.read() as unit:
        estimate = (await unit.conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'delivery'"))).scalar()
    assert estimate is not None and estimate >= FRESH_STATISTICS_AFTER
