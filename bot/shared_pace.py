"""The platform's send pace shared by every process on one PostgreSQL database.

Telegram's and Discord's limits are per bot token, not per process: with several processes the
overall pace comes from the database (storage.pace: slots `1 / per_second` apart, reserved by
moving one row forward atomically), and each chat's pace from the outbox (a chat whose last send
ended less than `chat_gap` ago is not claimed, and a chat has one send in flight, whoever sends).

A slot is used at its time or given up: a send that finds its slot more than `slack` seconds in
the past (this process's loop was busy) reserves a new one, so late sends never bunch up at the
server. `capacity` is this process's share: the pace divided by the live delivery workers.
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
SLACK = 0.1  # a slot this late is given up


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
        # One chat's sends within this process (two claimed together go one after the other).
        self._chats = LocalPacer(replace(rules, per_second=math.inf), clock=clock, sleep=sleep)
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
            if task is not None:
                self._callers.add(task)
            yield

    async def _overall(self) -> None:
        while True:
            wait = self._held_until - self.clock()
            if wait > 0:
                await self.sleep(wait)
            if not self._interval:
                return
            at = await self._next_slot()
            now = self.clock()
            if at > now:
                await self.sleep(at - now)
                now = self.clock()
            if now - at <= SLACK and self._held_until <= now:
                return

    async def _next_slot(self) -> float:
        self._unserved += 1
        try:
            async with self._reserving:
                now = self.clock()
                while self._slots and self._slots[0] < now - SLACK:
                    self._slots.popleft()
                if not self._slots:
                    count = max(1, min(self._unserved, self._batch))
                    try:
                        async with self.store.unit() as unit:
                            reservation = await unit.pace.reserve(self.platform, count, self._interval)
                    except Exception as exc:  # the database is away: the send waits for a retry
                        raise TryLater(f"{self.platform}: shared send pace unavailable: {type(exc).__name__}") from exc
                    start = self.clock() + reservation.first_in
                    self._slots.extend(start + i * self._interval for i in range(count))
                    self._peers = reservation.peers
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
