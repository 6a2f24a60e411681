"""Scheduled polls, reminders and digests.

APScheduler only wakes us up; the database is the source of truth. A scheduled run is unique on
(poll, scheduled time), so a restart, a double fire or a second process can never create it twice.
All logic takes `now`, so tests drive it with a fake clock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import PollSettings, Settings
from bot.runs import start_run
from bot.runtime.clock import Clock
from bot.runtime.cron import WallClockCronTrigger
from bot.signals import OutboxSignal
from storage.store import Store

log = logging.getLogger("feedbot.schedule")

LOOKBACK = timedelta(days=8)  # how far back a restart looks for missed runs to report


def fire_times(cron: str, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Fire times of a 5-field cron in `tz` within [start, end], ascending, as aware UTC datetimes.

    A 09:00 poll stays at 09:00 local across daylight-saving changes (see bot.runtime.cron).
    """
    return WallClockCronTrigger(cron, tz).fire_times(start, end)


def next_fire_time(cron: str, tz: ZoneInfo, after: datetime) -> datetime | None:
    return WallClockCronTrigger(cron, tz).next_after(after)


class PollScheduler:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Clock,
        *,
        signal: OutboxSignal,
        on_digest: Callable[[datetime], Awaitable[object]] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.signal = signal
        self.on_digest = on_digest
        self._apscheduler: AsyncIOScheduler | None = None

    @property
    def grace(self) -> timedelta:
        return self.settings.engine.missed_run_grace

    def scheduled_polls(self) -> list[PollSettings]:
        return [p for p in self.settings.polls if p.schedule]

    async def tick(self, now: datetime | None = None) -> list[int]:
        """Create the runs due now (latest fire time inside the grace window) and queue reminders.

        Returns the ids of runs this call created (an existing run is not created again).
        """
        now = now or self.clock.now()
        created: list[int] = []
        for poll in self.scheduled_polls():
            assert poll.schedule is not None
            tz = self.settings.poll_timezone(poll)
            due = fire_times(poll.schedule, tz, now - self.grace, now)
            if not due:
                continue
            for skipped in due[:-1]:
                log.warning("poll=%s fire time %s superseded by a later one; not sent", poll.id, skipped.isoformat())
            async with self.store.unit() as unit:
                if await unit.runs.scheduled_exists(poll.id, due[-1]):
                    continue
                started = await start_run(
                    unit, self.settings, poll.id, triggered_by="schedule", scheduled_for=due[-1], now=now
                )
            if started is not None:
                created.append(started.run_id)
        if created:
            self.signal.notify()
        await self.queue_reminders(now)
        return created

    async def queue_reminders(self, now: datetime) -> int:
        total = 0
        async with self.store.unit() as unit:
            for run_id in await unit.runs.close_anonymous(now):  # their salt goes as they close
                log.info("anonymous run closed: salt dropped run=%s", run_id)
            for run_id in await unit.runs.due_for_reminders(now):
                queued = await unit.outbox.queue_reminders(run_id, now)
                await unit.runs.mark_reminders_queued(run_id)
                log.info("reminders queued run=%s count=%d", run_id, queued)
                total += queued
        if total:
            self.signal.notify()
        return total

    async def report_missed(self, now: datetime | None = None) -> list[tuple[str, datetime]]:
        """At start: log scheduled times (within LOOKBACK) that are too old to send and have no run."""
        now = now or self.clock.now()
        missed: list[tuple[str, datetime]] = []
        async with self.store.read() as unit:
            for poll in self.scheduled_polls():
                assert poll.schedule is not None
                tz = self.settings.poll_timezone(poll)
                for when in fire_times(poll.schedule, tz, now - LOOKBACK, now - self.grace - timedelta(microseconds=1)):
                    if not await unit.runs.scheduled_exists(poll.id, when):
                        missed.append((poll.id, when))
        for poll_id, when in missed:
            log.warning("missed scheduled run poll=%s at %s: older than the grace window, skipped", poll_id, when)
        return missed

    # ------------------------------------------------------------------ APScheduler wiring
    def start(self) -> AsyncIOScheduler:
        """One cron job per scheduled poll (and the digest), plus a minute tick for reminders."""
        tz = ZoneInfo(self.settings.engine.timezone)
        scheduler = AsyncIOScheduler(
            timezone=tz,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": int(self.grace.total_seconds())},
        )
        for poll in self.scheduled_polls():
            assert poll.schedule is not None
            trigger = WallClockCronTrigger(poll.schedule, self.settings.poll_timezone(poll))
            scheduler.add_job(self._safe_tick, trigger, id=f"poll:{poll.id}")
        scheduler.add_job(self._safe_tick, IntervalTrigger(minutes=1, timezone=tz), id="tick")
        if self.settings.digest.schedule and self.on_digest is not None:
            digest_tz = ZoneInfo(self.settings.digest.timezone or self.settings.engine.timezone)
            trigger = WallClockCronTrigger(self.settings.digest.schedule, digest_tz)
            scheduler.add_job(self._safe_digest, trigger, id="digest")
        scheduler.start()
        self._apscheduler = scheduler
        return scheduler

    def stop(self) -> None:
        if self._apscheduler is not None and self._apscheduler.running:
            self._apscheduler.shutdown(wait=False)
        self._apscheduler = None

    async def _safe_tick(self) -> None:
        try:
            await self.tick()
        except Exception:
            log.exception("scheduler tick failed; the next tick retries")

    async def _safe_digest(self) -> None:
        if self.on_digest is None:
            return
        try:
            await self.on_digest(self.clock.now())
        except Exception:
            log.exception("scheduled digest failed")
