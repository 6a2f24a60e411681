"""The hand-computed reporting fixture shared by the storage and digest tests.

The fixture (time zone Europe/Berlin, UTC+1 in these weeks; weeks run Monday to Monday local):

previous week, Mon 23 Feb - Mon 2 Mar    run "visit" Tue 24 Feb: 10 asked, 10 delivered, 3 answers rated 5, 5, 5
this week,     Mon 2 Mar  - Mon 9 Mar    run "visit" Tue 3 Mar:  10 asked, 8 delivered (2 failed), 3 answers
                                          rated 5, 4, 3, plus 5 reminders sent (not counted as delivered)
next week      (Sun 8 Mar 23:30 UTC = Mon 9 Mar 00:30 Berlin): run "visit": 10 delivered, 1 answer

This week by hand: asked 10, delivered 8, answers 3, rate 3/8 = 37.5 % -> 38 %, average (5+4+3)/3 = 4.0.
Previous week: rate 3/10 = 30 %, average 5.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from storage.store import Store

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin: the digest's moment
WEEK = (datetime(2026, 3, 1, 23, 0, tzinfo=UTC), datetime(2026, 3, 8, 23, 0, tzinfo=UTC))
PREVIOUS_WEEK = (datetime(2026, 2, 22, 23, 0, tzinfo=UTC), WEEK[0])
NEXT_WEEK = (WEEK[1], WEEK[1] + timedelta(days=7))

LONG_ANSWER = "The terrace view was lovely. " * 12  # 348 characters
ANSWERS_THIS_WEEK = (
    ("Great coffee and friendly staff", 5),
    ("The breakfast was cold\nbut the COFFEE was good\r\n\x07", 4),
    (LONG_ANSWER, 3),
)


@dataclass(frozen=True)
class Seeded:
    customers: list[int]
    previous_run: int
    run: int
    next_week_run: int


async def add_customers(store: Store, n: int, tag: str | None = None, first: int = 0) -> list[int]:
    ids = []
    async with store.unit() as unit:
        for i in range(first, first + n):
            customer_id = await unit.customers.subscribe(
                platform="telegram",
                user_id=str(1000 + i),
                chat_id=str(1000 + i),
                display_name=f"customer {i}",
                language="en",
                tag=tag,
                now=datetime(2026, 2, 1, tzinfo=UTC),
            )
            ids.append(customer_id)
    return ids


async def run_poll(
    store: Store,
    created: datetime,
    *,
    sent: int,
    answers: tuple[tuple[str, int | None], ...],
    poll_id: str = "visit",
    scale: int = 5,
    tag: str | None = None,
) -> int:
    """Create a run at `created`, fan it out, send `sent` deliveries (fail the rest), record answers.

    Answers come from the first customers who were sent the question, one minute apart.
    """
    async with store.unit() as unit:
        run_id = await unit.runs.create(
            poll_id=poll_id,
            question="What was your favourite part?",
            asks_rating=True,
            scale=scale,
            tag=tag,
            triggered_by="test",
            now=created,
            closes_at=created + timedelta(days=3),
        )
        assert run_id is not None
        queued = await unit.outbox.fan_out(run_id, tag, created)
        await unit.workers.register("seed", "test", 1, created)
        claimed = await unit.outbox.claim("seed", ["telegram"], created, limit=queued)
        assert len(claimed) == queued >= sent
        for claim in claimed[:sent]:
            assert await unit.outbox.record_sent(claim, f"m{claim.delivery_id}", created)
        for claim in claimed[sent:]:
            assert await unit.outbox.fail(claim, "403 blocked")
        for i, ((text, rating), claim) in enumerate(zip(answers, claimed, strict=False)):
            assert claim.customer_id is not None
            answered = await unit.conversation.record_answer(
                run_id=run_id,
                customer_id=claim.customer_id,
                text=text,
                source_message_id=f"telegram:{claim.customer_id}:{run_id}",
                answered_at=created + timedelta(hours=1, minutes=i),
                late=False,
                await_rating=rating is not None,
                rating=None,
                now=created + timedelta(hours=1, minutes=i),
            )
            assert answered is not None
            if rating is not None:
                assert await unit.conversation.rate_answer(claim.customer_id, run_id, rating)
    return run_id


async def seed_weeks(store: Store) -> Seeded:
    """The fixture described in the module docstring."""
    customers = await add_customers(store, 10)
    previous = await run_poll(
        store, datetime(2026, 2, 24, 10, 0, tzinfo=UTC), sent=10, answers=(("Nice", 5), ("Cosy", 5), ("Warm", 5))
    )
    run = await run_poll(store, datetime(2026, 3, 3, 10, 0, tzinfo=UTC), sent=8, answers=ANSWERS_THIS_WEEK)
    # Reminders to the 5 who were sent the question and did not answer: sent, but not counted.
    reminder_time = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    async with store.unit() as unit:
        assert await unit.outbox.queue_reminders(run, reminder_time) == 5
        for claim in await unit.outbox.claim("seed", ["telegram"], reminder_time, limit=10):
            await unit.outbox.record_sent(claim, f"r{claim.delivery_id}", reminder_time)
    next_week = await run_poll(store, datetime(2026, 3, 8, 23, 30, tzinfo=UTC), sent=10, answers=(("Late one", 2),))
    return Seeded(customers, previous, run, next_week)
