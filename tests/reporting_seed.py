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

from storage.repository import Repository

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


async def add_customers(repo: Repository, n: int, tag: str | None = None, first: int = 0) -> list[int]:
    ids = []
    for i in range(first, first + n):
        customer, _ = await repo.subscribe(
            platform="telegram",
            user_id=str(1000 + i),
            chat_id=str(1000 + i),
            display_name=f"customer {i}",
            language="en",
            tag=tag,
            now=datetime(2026, 2, 1, tzinfo=UTC),
        )
        assert customer.id is not None
        ids.append(customer.id)
    return ids


async def run_poll(
    repo: Repository,
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
    run = await repo.create_run(
        poll_id=poll_id,
        question="What was your favourite part?",
        rating=True,
        scale=scale,
        tag=tag,
        triggered_by="test",
        now=created,
        closes_at=created + timedelta(days=3),
    )
    assert run is not None and run.id is not None
    queued = await repo.fan_out(run.id, created)
    claimed = await repo.claim_due_deliveries(created, limit=queued)
    assert len(claimed) == queued >= sent
    for due in claimed[:sent]:
        await repo.record_sent(due, f"m{due.delivery_id}", created)
    for due in claimed[sent:]:
        await repo.fail_delivery(due, "403 blocked")
    for i, ((text, rating), due) in enumerate(zip(answers, claimed, strict=False)):
        answered = await repo.record_answer(
            run_id=run.id,
            customer_id=due.customer_id,
            text=text,
            source_message_id=f"telegram:{due.customer_id}:{run.id}",
            now=created + timedelta(hours=1, minutes=i),
            late=False,
            await_rating=rating is not None,
        )
        assert answered is not None
        if rating is not None:
            assert await repo.rate_answer(due.customer_id, run.id, rating)
    return run.id


async def seed_weeks(repo: Repository) -> Seeded:
    """The fixture described in the module docstring."""
    customers = await add_customers(repo, 10)
    previous = await run_poll(
        repo, datetime(2026, 2, 24, 10, 0, tzinfo=UTC), sent=10, answers=(("Nice", 5), ("Cosy", 5), ("Warm", 5))
    )
    run = await run_poll(repo, datetime(2026, 3, 3, 10, 0, tzinfo=UTC), sent=8, answers=ANSWERS_THIS_WEEK)
    # Reminders to the 5 who were sent the question and did not answer: sent, but not counted.
    reminder_time = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    assert await repo.queue_reminders(run, reminder_time) == 5
    for due in await repo.claim_due_deliveries(reminder_time, limit=10):
        await repo.record_sent(due, f"r{due.delivery_id}", reminder_time)
    next_week = await run_poll(repo, datetime(2026, 3, 8, 23, 30, tzinfo=UTC), sent=10, answers=(("Late one", 2),))
    return Seeded(customers, previous, run, next_week)
