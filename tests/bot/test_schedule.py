"""Scheduled polls and reminders with a fake clock: the database decides what exists."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.runtime.schedule import PollScheduler, fire_times
from storage.store import Store
from tests.support import Chat, FakeClock, get_run, latest_run, make_settings, run_counts

BERLIN_WEEKLY = {
    "polls": [
        {
            "id": "weekly",
            "question": "What was your favourite part this week?",
            "schedule": "0 9 * * 1",
            "timezone": "Europe/Berlin",
            "remind_after": "1d",
            "close_after": "3d",
        }
    ]
}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def open_chat(store: Store, now: datetime, customers: int = 3) -> tuple[Chat, PollScheduler]:
    chat = await Chat.open(store, make_settings(BERLIN_WEEKLY), FakeClock(now - timedelta(days=1)))
    for i in range(customers):
        await chat.say(chat.user(f"c{i}"), "/start")
    chat.clock.set(now)
    return chat, chat.runtime.scheduler


def questions(chat: Chat, text: str = "What was your favourite part this week?") -> dict[str, int]:
    counts: dict[str, int] = {}
    for m in chat.adapter.outbox:
        if m.text.endswith(text):
            counts[m.chat.chat_id] = counts.get(m.chat.chat_id, 0) + 1
    return counts


@pytest.mark.parametrize(
    ("monday_local_nine", "utc_hour"),
    [
        (utc(2026, 3, 23, 8, 0), 8),  # CET, the Monday before the spring change
        (utc(2026, 3, 30, 7, 0), 7),  # CEST, the Monday after
        (utc(2026, 10, 19, 7, 0), 7),  # CEST, before the autumn change
        (utc(2026, 10, 26, 8, 0), 8),  # CET, after it
    ],
)
async def test_weekly_poll_fires_at_nine_local_across_dst(
    sqlite_store: Store, monday_local_nine: datetime, utc_hour: int
) -> None:
    chat, scheduler = await open_chat(sqlite_store, monday_local_nine - timedelta(minutes=1))
    assert await scheduler.tick() == []  # 08:59 local: nothing yet
    chat.clock.set(monday_local_nine)
    [run_id] = await scheduler.tick()
    run = await get_run(sqlite_store, run_id)
    assert run is not None and run.scheduled_for == monday_local_nine
    assert run.scheduled_for.astimezone(ZoneInfo("Europe/Berlin")).hour == 9
    assert run.scheduled_for.hour == utc_hour
    assert run.closes_at == monday_local_nine + timedelta(days=3)


def test_fire_times_over_a_dst_change() -> None:
    times = list(fire_times("0 9 * * *", ZoneInfo("Europe/Berlin"), utc(2026, 3, 28), utc(2026, 3, 31)))
    assert times == [utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), utc(2026, 3, 30, 7)]


async def test_restart_between_schedule_and_delivery_sends_once(sqlite_store: Store) -> None:
    fire = utc(2026, 3, 23, 8, 0)
    chat, scheduler = await open_chat(sqlite_store, fire)
    assert len(await scheduler.tick()) == 1  # the run is created... and the process dies before sending

    restarted = await Chat.open(sqlite_store, chat.settings, chat.clock, adapter=chat.adapter)  # same users' chats
    scheduler2 = restarted.runtime.scheduler
    chat.clock.advance(minutes=20)
    assert await scheduler2.tick() == []  # same poll and time: not created again
    await restarted.worker.drain()
    await restarted.worker.drain()
    assert questions(chat) == {u.user_id: 1 for u in chat.users.values()}


async def test_missed_run_inside_grace_is_sent_and_older_is_skipped(sqlite_store: Store) -> None:
    fire = utc(2026, 3, 23, 8, 0)
    chat, scheduler = await open_chat(sqlite_store, fire + timedelta(minutes=59))
    assert len(await scheduler.tick()) == 1

    later = utc(2026, 3, 30, 7, 0) + timedelta(hours=2)  # the next Monday, 2 h after its fire time
    chat.clock.set(later)
    assert await scheduler.tick() == []
    missed = await scheduler.report_missed()
    assert missed == [("weekly", utc(2026, 3, 30, 7, 0))]


async def test_two_schedulers_on_postgres_create_one_run(store: Store) -> None:
    fire = utc(2026, 3, 23, 8, 0)
    chat, scheduler_a = await open_chat(store, fire)
    other = await Chat.open(store, chat.settings, chat.clock)
    scheduler_b = other.runtime.scheduler
    created = await asyncio.gather(*(s.tick() for s in (scheduler_a, scheduler_b, scheduler_a, scheduler_b)))
    assert sum(len(c) for c in created) == 1
    latest = await latest_run(store)
    assert latest is not None and (await run_counts(store, int(latest.id or 0))).asked == 3


async def test_reminder_goes_once_and_only_to_non_answerers(sqlite_store: Store) -> None:
    fire = utc(2026, 3, 23, 8, 0)
    chat, scheduler = await open_chat(sqlite_store, fire)
    [run_id] = await scheduler.tick()
    await chat.worker.drain()
    c0, c1, c2 = chat.users["c0"], chat.users["c1"], chat.users["c2"]
    await chat.say(c0, "The new menu")
    await chat.say(c0, "5")

    chat.clock.advance(hours=23)
    assert await scheduler.queue_reminders(chat.clock.now()) == 0  # not yet
    chat.clock.advance(hours=1, minutes=1)
    await scheduler.tick()
    await chat.say(c1, "Answered just before the reminder went out")
    await chat.worker.drain()
    reminders = {m.chat.chat_id for m in chat.adapter.outbox if m.text.startswith("A gentle reminder")}
    assert reminders == {c2.user_id}

    for _ in range(3):
        chat.clock.advance(hours=1)
        await scheduler.tick()
        await chat.worker.drain()
    assert [m.chat.chat_id for m in chat.adapter.outbox if m.text.startswith("A gentle reminder")] == [c2.user_id]
    counts = await run_counts(sqlite_store, run_id)
    assert (counts.reminded, counts.answered) == (1, 2)

    await chat.say(c2, "Fine, the terrace")  # the reminder's answer belongs to the same run
    assert (await run_counts(sqlite_store, run_id)).answered == 3


async def test_apscheduler_jobs_use_the_poll_time_zone(sqlite_store: Store) -> None:
    chat, scheduler = await open_chat(sqlite_store, utc(2026, 3, 23, 7, 0))
    aps = scheduler.start()
    try:
        job = aps.get_job("poll:weekly")
        assert job is not None
        assert str(job.trigger.timezone) == "Europe/Berlin"
        assert job.next_run_time.astimezone(UTC) > datetime.now(UTC) - timedelta(days=7)
        assert aps.get_job("tick") is not None
    finally:
        scheduler.stop()


BERLIN = ZoneInfo("Europe/Berlin")


def test_time_in_the_repeated_autumn_hour_fires_once() -> None:
    times = fire_times("30 2 * * *", BERLIN, utc(2026, 10, 24), utc(2026, 10, 27))
    assert [t.astimezone(BERLIN).isoformat() for t in times] == [
        "2026-10-24T02:30:00+02:00",
        "2026-10-25T02:30:00+02:00",  # once, in its first occurrence
        "2026-10-26T02:30:00+01:00",
    ]


def test_time_in_the_skipped_spring_hour_fires_when_the_clock_jumps() -> None:
    times = fire_times("30 2 * * *", BERLIN, utc(2026, 3, 28), utc(2026, 3, 31))
    assert [t.astimezone(BERLIN).isoformat() for t in times] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:30:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_trigger_always_moves_forward_across_the_autumn_change() -> None:
    """APScheduler's own CronTrigger goes backwards here; ours must not (its misfire loop would spin)."""
    from bot.runtime.cron import WallClockCronTrigger

    trigger = WallClockCronTrigger("*/20 * * * *", BERLIN)
    current = utc(2026, 10, 24, 23, 30)
    seen = []
    for _ in range(12):
        nxt = trigger.get_next_fire_time(current, current)
        assert nxt is not None and nxt > current
        seen.append(nxt)
        current = nxt
    assert len(set(seen)) == 12


async def test_hourly_poll_restarted_on_the_autumn_night_creates_each_run_once(sqlite_store: Store) -> None:
    settings = make_settings(
        polls=[{"id": "hourly", "question": "Q?", "schedule": "0 * * * *", "timezone": "Europe/Berlin"}]
    )
    chat = await Chat.open(sqlite_store, settings, FakeClock(utc(2026, 10, 24, 22, 0)))
    scheduler = chat.runtime.scheduler
    created: list[int] = []
    while chat.clock.now() < utc(2026, 10, 25, 4, 0):
        created += await scheduler.tick()
        chat.clock.advance(minutes=15)
    runs = [await get_run(sqlite_store, run_id) for run_id in created]
    local = [r.scheduled_for.astimezone(BERLIN).strftime("%H:%M%z") for r in runs if r and r.scheduled_for]
    # 02:00 happens twice that night; the poll runs at the first one only.
    assert local == ["00:00+0200", "01:00+0200", "02:00+0200", "03:00+0100", "04:00+0100"]
