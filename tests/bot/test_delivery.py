"""The outbox worker: crash-safe, retries what may pass, never retries what cannot."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from adapters.local import LocalAdapter
from bot.pacing import PaceRules
from bot.runtime.delivery import DeliveryWorker, quiet_until, retry_delay
from bot.types import Outbound
from storage.store import Store
from tests.support import Chat, FakeClock, find_customer, make_settings, run_counts, stored_answers

QUESTION = "What was your favourite part?"


def questions_per_user(chat: Chat) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in chat.adapter.outbox:
        if message.text == QUESTION:
            counts[message.chat.chat_id] = counts.get(message.chat.chat_id, 0) + 1
    return counts


async def subscribe(chat: Chat, n: int) -> list[str]:
    users = [chat.user(f"c{i}") for i in range(n)]
    for user in users:
        await chat.say(user, "/start")
    return [u.user_id for u in users]


@pytest.mark.parametrize("cancel_after", [1, 7, 19])
async def test_worker_killed_mid_run_resumes_without_asking_twice(store: Store, cancel_after: int) -> None:
    clock = FakeClock()
    paced = LocalAdapter(now=clock.now, rules=PaceRules(per_second=20))  # sends take time, as on a platform
    chat = await Chat.open(store, clock=clock, adapter=paced)
    ids = await subscribe(chat, 20)
    started = await chat.engine.start_run("visit", triggered_by="test")
    assert started is not None and started.queued == 20

    worker = DeliveryWorker(store, chat.runtime.adapters, chat.settings, clock=chat.clock)
    sent = asyncio.Event()

    def count_sends(_: Outbound) -> None:
        if len(chat.adapter.outbox) + 1 >= 20 + cancel_after:  # 20 welcome messages came first
            sent.set()

    chat.adapter.send_hook = count_sends
    task = asyncio.create_task(worker.run_forever())
    await sent.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    partial = questions_per_user(chat)
    assert 0 < len(partial) < 20 or cancel_after == 19
    assert all(n == 1 for n in partial.values())

    # A new worker (as after a restart) finishes the run.
    restarted = DeliveryWorker(store, chat.runtime.adapters, chat.settings, clock=chat.clock)
    await restarted.drain()
    assert questions_per_user(chat) == {uid: 1 for uid in ids}
    counts = await run_counts(store, started.run_id)
    assert (counts.sent, counts.pending, counts.failed) == (20, 0, 0)


async def test_claims_of_a_silent_worker_are_released_and_their_answers_taken(chat: Chat) -> None:
    """A process killed mid-send leaves a claim; 15 s after its last heartbeat another worker takes it.

    Until then the question counts as asked (its send may have arrived): an answer is stored.
    """
    await subscribe(chat, 3)
    started = await chat.engine.start_run("visit", triggered_by="test")
    assert started is not None
    async with chat.store.unit() as unit:  # another process claims one question, then dies
        await unit.workers.register("dead-worker", "elsewhere", 1, chat.clock.now())
        [claim] = await unit.outbox.claim("dead-worker", ["local"], chat.clock.now(), limit=1)
    await chat.worker.drain()
    assert len(questions_per_user(chat)) == 2
    in_flight = next(u for u in chat.users.values() if u.user_id == claim.chat_id)
    await chat.say(in_flight, "The view, before you even asked me")
    assert [a.answer for a in await stored_answers(chat.store)] == ["The view, before you even asked me"]
    chat.clock.advance(seconds=16)
    await chat.worker.drain()  # the claim is released; the customer answered, so it is not sent again
    assert len(questions_per_user(chat)) == 2
    counts = await run_counts(chat.store, started.run_id)
    assert (counts.sent, counts.answered, counts.pending) == (3, 1, 0)


async def test_claims_of_a_silent_worker_are_sent_again_after_15_seconds(chat: Chat) -> None:
    ids = await subscribe(chat, 3)
    await chat.engine.start_run("visit", triggered_by="test")
    async with chat.store.unit() as unit:
        await unit.workers.register("dead-worker", "elsewhere", 1, chat.clock.now())
        await unit.outbox.claim("dead-worker", ["local"], chat.clock.now(), limit=1)
    await chat.worker.drain()
    assert len(questions_per_user(chat)) == 2
    chat.clock.advance(seconds=14)
    await chat.worker.drain()
    assert len(questions_per_user(chat)) == 2  # still within the dead worker's last heartbeat + 15 s
    chat.clock.advance(seconds=2)
    await chat.worker.drain()
    assert questions_per_user(chat) == {uid: 1 for uid in ids}


async def test_sends_that_end_together_are_recorded_in_a_few_transactions(store: Store) -> None:
    chat = await Chat.open(store)
    ids = await subscribe(chat, 40)
    started = await chat.engine.start_run("visit", triggered_by="test")
    assert started is not None
    batches = chat.worker.ledger.batches
    await chat.worker.drain()
    assert questions_per_user(chat) == {uid: 1 for uid in ids}
    assert (await run_counts(chat.store, started.run_id)).sent == 40
    assert chat.worker.ledger.batches - batches < 10  # not one commit per send


async def test_a_stop_that_arrives_as_the_worker_is_woken_stops_it(chat: Chat) -> None:
    """On Python 3.11, asyncio.wait_for returns normally when it is cancelled just as what it waits
    for ends, and the cancellation is lost: an idle worker woken (new work) as it was told to stop
    went on looping, and shutdown waited for it forever."""
    worker = DeliveryWorker(chat.store, chat.runtime.adapters, chat.settings, clock=chat.clock)
    task = asyncio.create_task(worker.run_forever())
    await asyncio.sleep(0.2)  # idle: waiting to be woken
    worker.wake()
    await asyncio.sleep(0)  # the wait has ended; the worker has not run yet
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)
    assert task in done and task.cancelled()


async def test_transient_failure_is_retried_with_backoff(chat: Chat) -> None:
    [uid] = await subscribe(chat, 1)
    chat.adapter.failing[uid] = "network down"
    run_id = await chat.run_poll()
    assert questions_per_user(chat) == {}
    chat.clock.advance(seconds=10)
    await chat.worker.drain()
    assert questions_per_user(chat) == {}  # not due yet: back-off is 30 s
    del chat.adapter.failing[uid]
    chat.clock.advance(seconds=25)
    await chat.worker.drain()
    assert questions_per_user(chat) == {uid: 1}
    assert (await run_counts(chat.store, run_id)).sent == 1


async def test_transient_failures_give_up_after_max_attempts(chat: Chat) -> None:
    [uid] = await subscribe(chat, 1)
    chat.adapter.failing[uid] = "flaky"
    run_id = await chat.run_poll()
    for _ in range(10):
        chat.clock.advance(hours=1)
        await chat.worker.drain()
    counts = await run_counts(chat.store, run_id)
    assert (counts.sent, counts.failed) == (0, 1)
    customer = await find_customer(chat.store, "local", uid)
    assert customer is not None and customer.reachable  # a passing failure does not mark unreachable


async def test_permanent_failure_marks_unreachable_and_is_not_retried(chat: Chat) -> None:
    a, b = await subscribe(chat, 2)
    chat.adapter.blocked[a] = "bot was blocked by the user"
    run_id = await chat.run_poll()
    assert questions_per_user(chat) == {b: 1}
    customer = await find_customer(chat.store, "local", a)
    assert customer is not None and not customer.reachable
    assert customer.unreachable_reason == "local: bot was blocked by the user"
    chat.clock.advance(hours=2)
    await chat.worker.drain()
    assert (await run_counts(chat.store, run_id)).failed == 1
    second = await chat.run_poll()
    assert (await run_counts(chat.store, second)).asked == 1  # unreachable customers are not queued


async def test_quiet_hours_hold_questions_until_morning(sqlite_store: Store) -> None:
    settings = make_settings(engine={"quiet_hours": "21:00-09:00", "timezone": "Europe/Paris"})
    clock = FakeClock(datetime(2026, 3, 2, 21, 30, tzinfo=UTC))  # 22:30 in Paris
    chat = await Chat.open(sqlite_store, settings, clock)
    [uid] = await subscribe(chat, 1)
    await chat.run_poll()
    assert questions_per_user(chat) == {}
    clock.set(datetime(2026, 3, 3, 7, 59, tzinfo=UTC))  # 08:59 Paris
    await chat.worker.drain()
    assert questions_per_user(chat) == {}
    clock.set(datetime(2026, 3, 3, 8, 0, tzinfo=UTC))  # 09:00 Paris
    await chat.worker.drain()
    assert questions_per_user(chat) == {uid: 1}


def test_quiet_until_handles_windows_and_dst() -> None:
    from zoneinfo import ZoneInfo

    from bot.config import QuietHours

    paris = ZoneInfo("Europe/Paris")
    quiet = QuietHours.parse("21:00-09:00")
    assert quiet_until(quiet, datetime(2026, 3, 2, 12, 0, tzinfo=UTC), paris) is None
    # The night of the spring-forward change (29 March 2026): 09:00 CEST is 07:00 UTC.
    end = quiet_until(quiet, datetime(2026, 3, 28, 22, 0, tzinfo=UTC), paris)
    assert end == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    day = QuietHours.parse("12:00-13:00")
    assert quiet_until(day, datetime(2026, 7, 1, 10, 30, tzinfo=UTC), paris) == datetime(2026, 7, 1, 11, 0, tzinfo=UTC)


def test_retry_delay_honours_platform_and_caps() -> None:
    assert retry_delay(1, None) == timedelta(seconds=30)
    assert retry_delay(3, None) == timedelta(seconds=120)
    assert retry_delay(1, 90) == timedelta(seconds=90)
    assert retry_delay(30, None) == timedelta(hours=1)
