"""The storage contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from storage.repository import Repository

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


async def subscribe(repo: Repository, user: str, tag: str | None = None) -> int:
    customer, _ = await repo.subscribe(
        platform="telegram", user_id=user, chat_id=user, display_name=f"user {user}", language="en", tag=tag, now=NOW
    )
    assert customer.id is not None
    return customer.id


async def new_run(repo: Repository, scheduled_for: datetime | None = None, tag: str | None = None) -> int:
    run = await repo.create_run(
        poll_id="visit",
        question="Favourite part?",
        rating=True,
        scale=5,
        tag=tag,
        triggered_by="test",
        now=NOW,
        closes_at=NOW + timedelta(days=3),
        scheduled_for=scheduled_for,
    )
    assert run is not None and run.id is not None
    return run.id


async def test_subscribe_is_idempotent_and_keeps_tags(repo: Repository) -> None:
    first = await subscribe(repo, "1", tag="vip")
    again = await subscribe(repo, "1", tag="vip")
    also = await subscribe(repo, "1", tag="brunch")
    assert first == again == also
    assert await repo.customer_tags(first) == ["brunch", "vip"]


async def test_concurrent_subscribes_make_one_customer(repo: Repository) -> None:
    ids = await asyncio.gather(*(subscribe(repo, "42") for _ in range(5)))
    assert len(set(ids)) == 1


async def test_scheduled_run_is_unique_per_poll_and_time(repo: Repository) -> None:
    when = NOW.replace(hour=9)
    await new_run(repo, scheduled_for=when)
    duplicate = await repo.create_run(
        poll_id="visit",
        question="?",
        rating=True,
        scale=5,
        tag=None,
        triggered_by="other process",
        now=NOW,
        closes_at=NOW,
        scheduled_for=when,
    )
    assert duplicate is None
    assert await repo.scheduled_run_exists("visit", when)
    # Manual runs (no scheduled time) are never duplicates of each other.
    assert await new_run(repo) != await new_run(repo)


async def test_fan_out_queues_each_customer_once_and_respects_tags(repo: Repository) -> None:
    for user in ("1", "2", "3"):
        await subscribe(repo, user, tag="vip" if user != "3" else None)
    stopped = await subscribe(repo, "4")
    await repo.unsubscribe(stopped, NOW)
    gone = await subscribe(repo, "5")
    await repo.mark_unreachable(gone, "blocked", NOW)

    run = await new_run(repo)
    assert await repo.fan_out(run, NOW) == 3
    assert await repo.fan_out(run, NOW) == 0  # resuming a fan-out adds nobody twice
    tagged = await new_run(repo, tag="vip")
    assert await repo.fan_out(tagged, NOW) == 2
    assert await repo.runs_not_fanned_out() == []


async def test_claims_are_exclusive(repo: Repository) -> None:
    for user in map(str, range(10)):
        await subscribe(repo, user)
    run = await new_run(repo)
    await repo.fan_out(run, NOW)
    a, b = await asyncio.gather(repo.claim_due_deliveries(NOW, 6), repo.claim_due_deliveries(NOW, 6))
    ids = [d.delivery_id for d in a + b]
    assert len(ids) == len(set(ids))  # two claimers never get the same delivery
    ids += [d.delivery_id for d in await repo.claim_due_deliveries(NOW, 10)]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 10


async def test_answers_are_stored_once_and_text_is_cleaned(repo: Repository) -> None:
    customer = await subscribe(repo, "1")
    run = await new_run(repo)
    stored = await repo.record_answer(
        run_id=run,
        customer_id=customer,
        text="nul\x00 and 🎉 and עברית",
        source_message_id="telegram:1:10",
        now=NOW,
        late=False,
        await_rating=True,
    )
    assert stored is not None and stored.text == "nul and 🎉 and עברית"
    again = await repo.record_answer(
        run_id=run,
        customer_id=customer,
        text="nul",
        source_message_id="telegram:1:10",
        now=NOW,
        late=False,
        await_rating=True,
    )
    assert again is None
    other_message_same_run = await repo.record_answer(
        run_id=run,
        customer_id=customer,
        text="second",
        source_message_id="telegram:1:11",
        now=NOW,
        late=False,
        await_rating=False,
    )
    assert other_message_same_run is None
    assert await repo.edit_answer("telegram:1:10", "edited\x00", NOW)
    rows = [row async for batch in repo.iter_answers() for row in batch]
    assert [(r.answer, r.answered_at) for r in rows] == [("edited", NOW)]


async def test_erasure_removes_everything_about_one_customer_only(repo: Repository) -> None:
    alice, bob = await subscribe(repo, "1", tag="vip"), await subscribe(repo, "2")
    run = await new_run(repo)
    await repo.fan_out(run, NOW)
    for cid, msg in ((alice, "a"), (bob, "b")):
        await repo.record_answer(
            run_id=run,
            customer_id=cid,
            text=msg,
            source_message_id=f"t:{msg}",
            now=NOW,
            late=False,
            await_rating=False,
        )
    await repo.mark_handled("telegram", "1", "99", "text", NOW)
    assert await repo.erase_customer(alice)
    assert await repo.customer_data(alice) == {}
    assert not await repo.was_handled("telegram", "1", "99", "text")
    rows = [row async for batch in repo.iter_answers() for row in batch]
    assert [r.answer for r in rows] == ["b"]
    assert (await repo.run_counts(run)).asked == 1


async def test_export_pages_through_answers_in_batches(repo: Repository) -> None:
    run = await new_run(repo)
    for i in range(7):
        cid = await subscribe(repo, str(i))
        await repo.record_answer(
            run_id=run,
            customer_id=cid,
            text=f"a{i}",
            source_message_id=f"t:{i}",
            now=NOW + timedelta(days=i),
            late=False,
            await_rating=False,
        )
    batches = [batch async for batch in repo.iter_answers(batch=3)]
    assert [len(b) for b in batches] == [3, 3, 1]
    recent = [row async for batch in repo.iter_answers(since=NOW + timedelta(days=5)) for row in batch]
    assert [r.answer for r in recent] == ["a5", "a6"]


async def test_handled_updates_are_pruned(repo: Repository) -> None:
    await repo.mark_handled("discord", "c", "m1", "text", NOW - timedelta(days=3))
    await repo.mark_handled("discord", "c", "m2", "text", NOW)
    await repo.mark_handled("discord", "c", "m2", "text", NOW)  # harmless twice
    assert await repo.prune_handled(NOW - timedelta(days=2)) == 1
    assert await repo.was_handled("discord", "c", "m2", "text")


async def test_digest_post_is_claimed_once(repo: Repository) -> None:
    assert await repo.claim_digest_post("telegram", "-100", "week", NOW, NOW)
    assert not await repo.claim_digest_post("telegram", "-100", "week", NOW, NOW)
    await repo.release_digest_post("telegram", "-100", "week", NOW)
    assert await repo.claim_digest_post("telegram", "-100", "week", NOW, NOW)
