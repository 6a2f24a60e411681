"""Leader election among the `feedbot run` processes on one PostgreSQL database.

Exactly one process leads (storage.leader_lock: a session advisory lock on a connection of its
own). The leader alone receives from platforms that allow one receiver per bot token (Telegram
long polling, the Discord gateway) and runs the scheduler (scheduled polls, reminders, digests;
their unique keys still guard against a double run). Every process sends: the delivery worker
drains the outbox everywhere, and a Telegram webhook is served by every process.

The others try the lock every `retry_every` seconds, so when the leader dies (SIGKILL closes its
connection and PostgreSQL releases the lock) another leads within a few seconds. A leader whose
lock connection fails a check steps down at once: it may no longer be the only one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from bot.adapter import Adapter
from bot.runtime.schedule import PollScheduler
from storage.leader_lock import LeaderLock

log = logging.getLogger("feedbot.leadership")

RETRY_EVERY = 2.0  # seconds between tries of the lock by a process that does not lead
CHECK_EVERY = 2.0  # seconds between checks of the lock's connection by the leader


class Duty(Protocol):
    name: str

    async def lead(self) -> None: ...

    async def step_down(self) -> None: ...


@runtime_checkable
class LeaderReceiver(Protocol):
    """An adapter whose platform allows one receiver per token (long polling, a gateway)."""

    platform: str

    @property
    def leader_only(self) -> bool:
        """True when only the leader may receive (False: every process receives, e.g. a webhook)."""
        ...

    def hold_receiving(self) -> None:
        """Before `start`: connect for sending only; `start_receiving` is called once elected."""

    async def start_receiving(self) -> None: ...

    async def stop_receiving(self) -> None: ...


class ReceiveDuty:
    def __init__(self, adapter: LeaderReceiver) -> None:
        self.adapter = adapter
        self.name = f"{adapter.platform} receiving"

    async def lead(self) -> None:
        await self.adapter.start_receiving()

    async def step_down(self) -> None:
        await self.adapter.stop_receiving()


class SchedulerDuty:
    name = "scheduler"

    def __init__(self, scheduler: PollScheduler) -> None:
        self.scheduler = scheduler

    async def lead(self) -> None:
        await self.scheduler.report_missed()
        await self.scheduler.tick()
        self.scheduler.start()

    async def step_down(self) -> None:
        self.scheduler.stop()


class Leadership:
    def __init__(
        self,
        lock: LeaderLock,
        duties: Sequence[Duty],
        *,
        retry_every: float = RETRY_EVERY,
        check_every: float = CHECK_EVERY,
    ) -> None:
        self.lock = lock
        self.duties = list(duties)
        self.retry_every = retry_every
        self.check_every = check_every
        self.leading = False

    @classmethod
    def for_runtime(cls, url: str, adapters: Iterable[Adapter], scheduler: PollScheduler) -> Leadership:
        """Receiving holds on leader-only adapters (call before they start), the scheduler's duty."""
        duties: list[Duty] = []
        for adapter in adapters:
            if isinstance(adapter, LeaderReceiver) and adapter.leader_only:
                adapter.hold_receiving()
                duties.append(ReceiveDuty(adapter))
        duties.append(SchedulerDuty(scheduler))
        return cls(LeaderLock(url), duties)

    async def run_forever(self) -> None:
        try:
            while True:
                try:
                    elected = await self.lock.try_acquire()
                except Exception as exc:
                    log.warning("leader election: database unavailable (%s); trying again", type(exc).__name__)
                    elected = False
                if not elected:
                    await asyncio.sleep(self.retry_every)
                    continue
                await self._lead()
        finally:
            await self.lock.release()

    async def _lead(self) -> None:
        started: list[Duty] = []
        self.leading = True
        log.info("elected leader: %s run in this process", ", ".join(d.name for d in self.duties))
        try:
            for duty in self.duties:
                await duty.lead()
                started.append(duty)
            await self._while_held()
            log.error("leadership lost: the leader lock's database connection failed; stepping down")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("leader duties failed; stepping down")
        finally:
            self.leading = False
            for duty in reversed(started):
                with contextlib.suppress(Exception):
                    await duty.step_down()
            await self.lock.release()
        await asyncio.sleep(self.retry_every)

    async def _while_held(self) -> None:
        """Returns once a check of the lock's connection fails."""
        while True:
            await asyncio.sleep(self.check_every)
            if not await self.lock.held():
                return
