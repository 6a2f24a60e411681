"""The storage contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from storage.customers import DeliveryData
from storage.inbound import UpdateKey
from storage.models import DeadLetterStatus, DeliveryKind
from storage.outbox import OutboxMessage
from storage.store import Store
from tests.support import customer_tags, run_counts, stored_answers

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


async def subscribe(store: Store, user: str, tag: str | None = None) -> int:
    async with store.unit() as unit:
        return await unit.customers.subscribe(
            platform="telegram", user_id=user, chat_id=user, display_name=f"u{user}", language="en", tag=tag, now=NOW
        )


async def new_run(store: Store, scheduled_for: datetime | None = None, tag: str | None = None) -> int:
    async with store.unit() as unit:
        run_id = await unit.runs.create(
            poll_id="visit",
            question="Favourite part?",
            asks_rating=True,
            scale=5,
            tag=tag,
            triggered_by="test",
            now=NOW,
            closes_at=NOW + timedelta(days=3),
            scheduled_for=scheduled_for,
        )
    assert run_id is not None
    return run_id


async def fan_out(store: Store, run_id: int, tag: str | None = None) -> int:
    async with store.unit() as unit:
        return await unit.outbox.fan_out(run_id, tag, NOW)


async def register(store: Store, worker: str, at: datetime = NOW) -> None:
    async with store.unit() as unit:
        await unit.workers.register(worker, "host", 1, at)


async def record(store: Store, customer: int, run: int, text: str, source: str, at: datetime = NOW) -> int | None:
    async with store.unit() as unit:
        return await unit.conversation.record_answer(
            run_id=run,
            customer_id=customer,
            text=text,
            source_message_id=source,
            answered_at=at,
            late=False,
            await_rating=False,
            rating=None,
            now=at,
        )


async def test_subscribe_is_idempotent_and_keeps_tags(store: Store) -> None:
    first = await subscribe(store, "1", tag="vip")
    again = await subscribe(store, "1", tag="vip")
    also = await subscribe(store, "1", tag="brunch")
    assert first == again == also
    assert await customer_tags(store, first) == ["brunch", "vip"]


async def test_concurrent_subscribes_make_one_customer(store: Store) -> None:
    ids = await asyncio.gather(*(subscribe(store, "42") for _ in range(5)))
    assert len(set(ids)) == 1


async def test_scheduled_run_is_unique_per_poll_and_time(store: Store) -> None:
    when = NOW.replace(hour=9)
    await new_run(store, scheduled_for=when)
    async with store.unit() as unit:
        duplicate = await unit.runs.create(
            poll_id="visit",
            question="?",
            asks_rating=True,
            scale=5,
            tag=None,
            triggered_by="other process",
            now=NOW,
            closes_at=NOW,
            scheduled_for=when,
        )
        assert duplicate is None
        assert await unit.runs.scheduled_exists("visit", when)
    # Manual runs (no scheduled time) are never duplicates of each other.
    assert await new_run(store) != await new_run(store)


async def test_run_ids_out_of_range_are_simply_not_found(store: Store) -> None:
    async with store.read() as unit:
        assert await unit.runs.get(99_999_999_999_999_999) is None
        assert await unit.runs.get(0) is None


async def test_fan_out_queues_each_customer_once_and_respects_tags(store: Store) -> None:
    for user in ("1", "2", "3"):
        await subscribe(store, user, tag="vip" if user != "3" else None)
    stopped = await subscribe(store, "4")
    gone = await subscribe(store, "5")
    async with store.unit() as unit:
        await unit.customers.unsubscribe(stopped, NOW)
        await unit.customers.mark_unreachable(gone, "blocked", NOW)

    run = await new_run(store)
    assert await fan_out(store, run) == 3
    assert await fan_out(store, run) == 0  # resuming a fan-out adds nobody twice
    tagged = await new_run(store, tag="vip")
    assert await fan_out(store, tagged, "vip") == 2


async def test_claims_are_exclusive(store: Store) -> None:
    for user in map(str, range(10)):
        await subscribe(store, user)
    await fan_out(store, await new_run(store))
    await register(store, "a")
    await register(store, "b")

    async def claim(worker: str, limit: int) -> list[int]:
        async with store.unit() as unit:
            return [c.delivery_id for c in await unit.outbox.claim(worker, ["telegram"], NOW, limit)]

    a, b = await asyncio.gather(claim("a", 6), claim("b", 6))
    assert not set(a) & set(b)  # two claimers never get the same delivery
    rest = await claim("a", 10)
    assert sorted(a + b + rest) == sorted(set(a + b + rest)) and len(a + b + rest) == 10


async def test_a_chat_with_a_send_in_flight_gets_nothing_more_claimed(store: Store) -> None:
    await register(store, "w")
    async with store.unit() as unit:
        for text in ("one", "two"):
            message = OutboxMessage(DeliveryKind.REPLY, "telegram", "7", body=f'{{"text": "{text}"}}', user_id="7")
            await unit.outbox.queue(message, NOW)
        first = await unit.outbox.claim("w", ["telegram"], NOW, limit=1)
    async with store.unit() as unit:
        assert await unit.outbox.claim("w", ["telegram"], NOW, limit=5) == []  # "two" waits for "one"
        assert await unit.outbox.record_sent(first[0], "m1", NOW)
        [second] = await unit.outbox.claim("w", ["telegram"], NOW, limit=5)
    assert second.body is not None and "two" in second.body


async def test_write_backs_are_fenced_by_the_claim_token(store: Store) -> None:
    customer = await subscribe(store, "1")
    await fan_out(store, await new_run(store))
    await register(store, "dying", NOW - timedelta(seconds=20))
    await register(store, "alive")
    async with store.unit() as unit:
        [stale] = await unit.outbox.claim("dying", ["telegram"], NOW, 1)
        released = await unit.outbox.release_claims_of_silent_workers(NOW - timedelta(seconds=15), NOW)
        assert released == 1
        [fresh] = await unit.outbox.claim("alive", ["telegram"], NOW, 1)
    assert fresh.delivery_id == stale.delivery_id and fresh.token != stale.token
    async with store.unit() as unit:
        # The silent worker comes back and tries to record its old claim: refused, whatever it says.
        assert not await unit.outbox.record_sent(stale, "late", NOW)
        assert not await unit.outbox.fail(stale, "late failure")
        assert not await unit.outbox.retry(stale, "late retry", NOW)
        assert await unit.outbox.record_sent(fresh, "m1", NOW)
    async with store.read() as unit:
        data = await unit.customers.data(customer)
    assert data is not None and [(d.status, d.platform_message_id) for d in data.deliveries] == [("sent", "m1")]


async def queued_run(store: Store, customers: int, worker: str) -> tuple[list[int], int]:
    """`customers` subscribed, a run's question queued for each, and `worker` registered."""
    ids = [await subscribe(store, str(user)) for user in range(customers)]
    run = await new_run(store)
    await fan_out(store, run)
    await register(store, worker)
    return ids, run


async def deliveries_of(store: Store, customers: list[int]) -> dict[int, tuple[DeliveryData, ...]]:
    async with store.read() as unit:
        found = {customer: await unit.customers.data(customer) for customer in customers}
    return {customer: data.deliveries for customer, data in found.items() if data is not None}


async def test_sends_recorded_together_are_each_fenced_by_their_own_claim(store: Store) -> None:
    customers, run = await queued_run(store, 4, worker="w")
    async with store.unit() as unit:
        first = await unit.outbox.claim("w", ["telegram"], NOW, 2)
        second = await unit.outbox.claim("w", ["telegram"], NOW, 2)  # another claim: another token
        settled = first[1]
        assert await unit.outbox.hold(settled, NOW)  # handed back meanwhile: its token is spent
    async with store.unit() as unit:
        sent = [(claim, f"m{claim.delivery_id}") for claim in (*first, *second)]
        recorded = await unit.outbox.record_sent_many(sent, NOW)
    assert recorded == {first[0].delivery_id, second[0].delivery_id, second[1].delivery_id}
    statuses = {
        customer: [(d.status, d.platform_message_id) for d in deliveries]
        for customer, deliveries in (await deliveries_of(store, customers)).items()
    }
    by_id = {claim.customer_id: claim.delivery_id for claim in (*first, *second)}
    assert statuses == {
        customer: [("pending", None) if by_id[customer] == settled.delivery_id else ("sent", f"m{by_id[customer]}")]
        for customer in customers
    }


async def test_a_reminder_recorded_with_others_marks_its_question_reminded(store: Store) -> None:
    customers, run = await queued_run(store, 3, worker="w")
    async with store.unit() as unit:
        questions = await unit.outbox.claim("w", ["telegram"], NOW, 3)
        await unit.outbox.record_sent_many([(claim, "q") for claim in questions], NOW)
        assert await unit.outbox.queue_reminders(run, NOW) == 3
        reminders = await unit.outbox.claim("w", ["telegram"], NOW, 3)
        later = NOW + timedelta(hours=1)
        assert len(await unit.outbox.record_sent_many([(claim, "r") for claim in reminders[:2]], later)) == 2
    reminded = {
        customer
        for customer, deliveries in (await deliveries_of(store, customers)).items()
        if any(d.kind == "question" and d.reminded_at == later for d in deliveries)
    }
    assert reminded == {claim.customer_id for claim in reminders[:2]}


async def test_a_released_question_counts_as_asked_and_an_answer_settles_it(store: Store) -> None:
    customer = await subscribe(store, "1")
    run = await new_run(store)
    await fan_out(store, run)
    await register(store, "dying", NOW - timedelta(minutes=1))
    async with store.unit() as unit:
        await unit.outbox.claim("dying", ["telegram"], NOW, 1)
        await unit.outbox.release_claims_of_silent_workers(NOW - timedelta(seconds=15), NOW)
        snapshot = await unit.conversation.snapshot("telegram", "1", "telegram:1:5")
    assert snapshot.open_run is not None and snapshot.open_run.id == run
    assert await record(store, customer, run, "The view", "telegram:1:5") is not None
    await register(store, "alive")
    async with store.unit() as unit:
        assert await unit.outbox.claim("alive", ["telegram"], NOW, 5) == []  # never asked again
    counts = await run_counts(store, run)
    assert (counts.sent, counts.pending, counts.answered) == (1, 0, 1)


async def test_answers_are_stored_once_and_text_is_cleaned(store: Store) -> None:
    customer = await subscribe(store, "1")
    run = await new_run(store)
    assert await record(store, customer, run, "nul\x00 and 🎉 and עברית", "telegram:1:10") is not None
    assert await record(store, customer, run, "nul", "telegram:1:10") is None
    assert await record(store, customer, run, "second", "telegram:1:11") is None  # one answer per run
    async with store.unit() as unit:
        assert await unit.conversation.edit_answer("telegram:1:10", "edited\x00", NOW)
    assert [(r.answer, r.answered_at) for r in await stored_answers(store)] == [("edited", NOW)]


async def test_erasure_removes_everything_about_one_customer_only(store: Store) -> None:
    alice, bob = await subscribe(store, "1", tag="vip"), await subscribe(store, "2")
    run = await new_run(store)
    await fan_out(store, run)
    for cid, msg in ((alice, "a"), (bob, "b")):
        await record(store, cid, run, msg, f"t:{msg}")
    key, other = UpdateKey("telegram", "1", "99", "text"), UpdateKey("telegram", "2", "98", "text")
    async with store.unit() as unit:
        assert await unit.inbound.claim(key, NOW) and await unit.inbound.claim(other, NOW)
        await unit.outbox.queue(OutboxMessage(DeliveryKind.REPLY, "telegram", "1", '{"text": "hi"}', "1"), NOW)
        assert await unit.customers.erase(alice)
        await unit.inbound.forget_chat("telegram", "1")
    async with store.read() as unit:
        assert await unit.customers.data(alice) is None
        assert not await unit.inbound.seen(key) and await unit.inbound.seen(other)
        assert await unit.outbox.depth() == 1  # bob's question only
    assert [r.answer for r in await stored_answers(store)] == ["b"]
    assert (await run_counts(store, run)).asked == 1


async def test_answers_page_through_in_batches(store: Store) -> None:
    run = await new_run(store)
    for i in range(7):
        await record(store, await subscribe(store, str(i)), run, f"a{i}", f"t:{i}", NOW + timedelta(days=i))
    pages: list[list[str]] = []
    async with store.read() as unit:
        after = 0
        while page := await unit.conversation.answers_after(after, limit=3):
            pages.append([a.text for a in page])
            after = page[-1].id
    assert pages == [["a0", "a1", "a2"], ["a3", "a4", "a5"], ["a6"]]


async def test_dedupe_claims_once_and_is_pruned(store: Store) -> None:
    old, new = UpdateKey("discord", "c", "m1", "text"), UpdateKey("discord", "c", "m2", "text")
    async with store.unit() as unit:
        assert await unit.inbound.claim(old, NOW - timedelta(days=3))
        assert await unit.inbound.claim(new, NOW)
        assert not await unit.inbound.claim(new, NOW)  # already handled: stop there
        assert await unit.inbound.prune(NOW - timedelta(days=2)) == 1
    async with store.read() as unit:
        assert await unit.inbound.seen(new) and not await unit.inbound.seen(old)


async def test_dedupe_claim_rolls_back_with_a_failed_unit(store: Store) -> None:
    key = UpdateKey("telegram", "5", "1", "text")
    try:
        async with store.unit() as unit:
            assert await unit.inbound.claim(key, NOW)
            raise RuntimeError("the handler failed")
    except RuntimeError:
        pass
    async with store.read() as unit:
        assert not await unit.inbound.seen(key)  # the update will be handled again


async def test_dead_letters_count_attempts_then_set_aside(store: Store) -> None:
    key = UpdateKey("telegram", "5", "1", "text")
    statuses = []
    for attempt in range(3):
        async with store.unit() as unit:
            letter = await unit.inbound.record_failure(
                key, user_id="5", inbound="{}", error=f"boom {attempt}", now=NOW, dead_after=3
            )
        statuses.append((letter.attempts, letter.status))
    assert statuses == [(1, DeadLetterStatus.RETRYING), (2, DeadLetterStatus.RETRYING), (3, DeadLetterStatus.DEAD)]
    async with store.read() as unit:
        [dead] = await unit.inbound.dead_letters()
    assert dead.error == "boom 2" and dead.key == key


async def test_digest_post_is_claimed_once(store: Store) -> None:
    async with store.unit() as unit:
        assert await unit.outbox.claim_digest_post("telegram", "-100", "week", NOW, NOW)
        assert not await unit.outbox.claim_digest_post("telegram", "-100", "week", NOW, NOW)


async def test_replies_go_before_questions(store: Store) -> None:
    await subscribe(store, "1")
    await fan_out(store, await new_run(store))
    await register(store, "w")
    async with store.unit() as unit:
        await unit.outbox.queue(OutboxMessage(DeliveryKind.REPLY, "telegram", "2", '{"text": "hi"}', "2"), NOW)
        claims = await unit.outbox.claim("w", ["telegram"], NOW, 1)
    assert [c.kind for c in claims] == [DeliveryKind.REPLY]
