"""The platform's send pace shared by every process on one PostgreSQL database.

Telegram's and Discord's limits are per bot token, not per process: with several processes the
overall pace comes from the database (storage.pace: slots `1 / per_second` apart, reserved by
moving one row forward atomically), and each chat's pace from the outbox (a chat whose last send
ended less than `chat_gap` ago, or a group chat with `group_limit` sends ended in the last minute, is
not claimed, and a chat has one send in flight, whoever sends).

Slots space the processes' sends evenly and carry a 429's pause to all of them. The hard bound is
each process's share of the pace (the pace divided by the live delivery workers), kept the way
bot.pacing.LocalPacer keeps a limit: a send holds a token until a second after it ended. So even a
late send (a busy loop), or a server slow to read its requests that then takes a backlog at once,
never lets a server see more than the limit from all processes together. `capacity` is that share
over the claim horizon.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

from bot.errors import TryLater
from bot.pacing import LocalPacer, PaceRules
from storage.store import Store

log = logging.getLogger("feedbot.pace")

BATCH_SECONDS = 0.2  # reserve at most this much of the pace at once


class SharedPacer:
    def __init__(
        self,
        platform: str,
        rules: PaceRules,
        store: Store,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.platform = platform
        self.rules = rules
        self.store = store
        self.clock = clock
        self.sleep = sleep
        self.chat_gap = rules.private_gap
        self.group_limit = rules.group_per_minute
        # This process's own pace is kept as well (bot.pacing): each chat's sends within it (waited
        # for before a slot is taken, so a slot is never spent waiting for a chat), and what the
        # server can see of this process in any second, whatever the network's and loop's delays.
        self._chats = LocalPacer(replace(rules, per_second=math.inf), clock=clock, sleep=sleep)
        self._rate = LocalPacer(PaceRules(per_second=rules.per_second), clock=clock, sleep=sleep)
        self._interval = 0.0 if math.isinf(rules.per_second) else 1.0 / rules.per_second
        self._batch = max(1, int(rules.per_second * BATCH_SECONDS)) if self._interval else 1
        self._slots: deque[float] = deque()
        self._unserved = 0  # sends waiting for a slot of their own
        self._reserving = asyncio.Lock()
        self._peers = 1
        self._held_until = 0.0
        self._callers: weakref.WeakSet[asyncio.Task[object]] = weakref.WeakSet()
        self._background: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def slot(self, chat_id: str, *, private: bool) -> AsyncIterator[None]:
        task = asyncio.current_task()
        async with self._chats.slot(chat_id, private=private):
            await self._overall()
            async with self._rate.slot(chat_id, private=private):
                if task is not None:
                    self._callers.add(task)
                yield

    async def _overall(self) -> None:
        wait = self._held_until - self.clock()
        if wait > 0:
            await self.sleep(wait)
        if not self._interval:
            return
        at = await self._next_slot()
        wait = at - self.clock()
        if wait > 0:
            await self.sleep(wait)

    async def _next_slot(self) -> float:
        self._unserved += 1
        try:
            async with self._reserving:
                if not self._slots:
                    count = max(1, min(self._unserved, self._batch))
                    try:
                        async with self.store.unit() as unit:
                            reservation = await unit.pace.reserve(self.platform, count, self._interval)
                    except Exception as exc:  # the database is away: the send waits for a retry
                        raise TryLater(f"{self.platform}: shared send pace unavailable: {type(exc).__name__}") from exc
                    start = self.clock() + reservation.first_in
                    self._slots.extend(start + i * self._interval for i in range(count))
                    if reservation.peers != self._peers:
                        self._peers = reservation.peers
                        self._rate.set_rate(self.rules.per_second / self._peers)
                return self._slots.popleft()
        finally:
            self._unserved -= 1

    def hold(self, seconds: float) -> None:
        """The platform said 429: every process pauses (through the database), this one at once."""
        self._held_until = max(self._held_until, self.clock() + seconds)
        self._slots.clear()
        task = asyncio.get_running_loop().create_task(self._hold_everywhere(seconds))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _hold_everywhere(self, seconds: float) -> None:
        try:
            async with self.store.unit() as unit:
                await unit.pace.hold(self.platform, seconds)
        except Exception as exc:
            log.warning("%s: could not share a 429 pause with the other processes: %s", self.platform, exc)

    def capacity(self, horizon: float) -> int:
        usable = horizon - max(0.0, self._held_until - self.clock())
        if usable <= 0:
            return 0
        if not self._interval:
            return 1_000
        return max(1, int(self.rules.per_second * usable / self._peers))

    def has_called(self, task: asyncio.Task[object]) -> bool:
        return task in self._callers
