"""Send pacing that holds against a strict server, kept before sending so 429s stay the exception.

The rules, per platform (`PaceRules`):
- overall: at most `per_second` sends in any sliding one-second window;
- a private chat: at least `private_gap` seconds from the end of one send to the start of the next;
- a group chat: at most `group_per_minute` sends in any sliding minute.

Every limit is kept as tokens that a send holds from its start until `period` after its end. That
bounds what the server sees, not only what we start: a request that arrives late (network jitter)
was started late too, and one that arrives early ended early, so no window at the server can ever
hold more than the limit (tests/adapters/test_telegram.py and test_discord_pacing.py check it
against the strict fake servers).

A 429 `hold`s every send for the time the platform asks. `capacity(horizon)` says how many sends fit
in the next `horizon` seconds, so the delivery worker claims only what it can send soon.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PaceRules:
    per_second: float = math.inf
    private_gap: float = 0.0
    group_per_minute: float = math.inf

    @property
    def unlimited(self) -> bool:
        return math.isinf(self.per_second) and self.private_gap == 0 and math.isinf(self.group_per_minute)


class Pacer(Protocol):
    # What the outbox keeps of each chat's pace before it hands out a chat's next message: the
    # seconds a chat rests after a send, and the sends a group chat may have end in any minute. 0
    # and inf when the pacer keeps them itself (one process), the platform's when processes share.
    chat_gap: float
    group_limit: float

    def slot(self, chat_id: str, *, private: bool) -> AbstractAsyncContextManager[None]:
        """`async with pacer.slot(chat, private=True):` around one API call that sends to `chat`."""
        ...

    def hold(self, seconds: float) -> None:
        """The platform said 429: no send starts for `seconds`."""

    def capacity(self, horizon: float) -> int:
        """How many sends fit into the next `horizon` seconds at the current pace."""
        ...

    def has_called(self, task: asyncio.Task[object]) -> bool:
        """True once `task` took a slot: a call of it reached the wire, so it must run to its end."""
        ...


class _Tokens:
    """`limit` tokens; a send holds one from its start until `period` after its end."""

    def __init__(self, limit: float, period: float) -> None:
        self.limit = limit
        self.period = period
        self.in_flight = 0
        self.released: deque[float] = deque()  # times at which finished sends give their token back

    def free_at(self, now: float) -> float | None:
        """When a token is free (now or later); None while every token is held by sends in flight."""
        while self.released and self.released[0] <= now:
            self.released.popleft()
        held = self.in_flight + len(self.released)
        if held < self.limit:
            return now
        if len(self.released) > held - self.limit:
            return self.released[int(held - self.limit)]
        return None

    def take(self) -> None:
        self.in_flight += 1

    def give_back(self, ended: float) -> None:
        self.in_flight -= 1
        self.released.append(ended + self.period)

    def idle(self, now: float) -> bool:
        return self.in_flight == 0 and (not self.released or self.released[-1] <= now)


_PRUNE_CHATS_AT = 1_000  # idle per-chat token sets are dropped once there are this many


class LocalPacer:
    """The pace of one process (see the module docstring). Time is injected for tests."""

    chat_gap = 0.0  # kept here, per chat, for this process's sends
    group_limit = math.inf

    def __init__(
        self,
        rules: PaceRules,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rules = rules
        self.clock = clock
        self.sleep = sleep
        self._overall = _Tokens(rules.per_second, 1.0) if not math.isinf(rules.per_second) else None
        self._chats: dict[str, _Tokens] = {}
        self._prune_at = _PRUNE_CHATS_AT
        self._held_until = 0.0
        self._changed = asyncio.Event()  # set (and replaced) whenever a send gives its tokens back
        self._turn = asyncio.Lock()  # the waiters for the overall tokens, first come first served
        self._callers: weakref.WeakSet[asyncio.Task[object]] = weakref.WeakSet()

    def _chat(self, chat_id: str, private: bool) -> _Tokens | None:
        tokens = self._chats.get(chat_id)
        if tokens is None:
            if private:
                if self.rules.private_gap <= 0:
                    return None
                tokens = _Tokens(1, self.rules.private_gap)
            else:
                if math.isinf(self.rules.group_per_minute):
                    return None
                tokens = _Tokens(self.rules.group_per_minute, 60.0)
            if len(self._chats) >= self._prune_at:
                # A chat's tokens are idle a gap after its last send: dropped as soon as there are
                # many, not after thousands pile up (each delivered chat leaves one behind). The
                # threshold doubles with what stays busy, so pruning costs O(1) a send on average.
                now = self.clock()
                self._chats = {k: v for k, v in self._chats.items() if not v.idle(now)}
                self._prune_at = max(_PRUNE_CHATS_AT, 2 * len(self._chats))
            self._chats[chat_id] = tokens
        return tokens

    def _free_at(self, bucket: _Tokens | None, now: float) -> float | None:
        """When `bucket` (and the 429 hold) lets a send start; None: when a send in flight ends."""
        free = now if bucket is None else bucket.free_at(now)
        return None if free is None else max(free, self._held_until)

    async def _until_free(self, bucket: _Tokens | None) -> None:
        while True:
            now = self.clock()
            start = self._free_at(bucket, now)
            if start is not None and start <= now:
                return
            if start is None:  # every token is held by a send in flight: wait for one to end
                await self._changed.wait()
            else:  # tokens come back at known times (sends in flight only add later ones)
                await self.sleep(start - now)

    @asynccontextmanager
    async def slot(self, chat_id: str, *, private: bool) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if self.rules.unlimited and self._held_until <= self.clock():
            self._called(task)
            yield
            return
        chat = self._chat(chat_id, private)
        while True:
            # The chat's own token first: a chat resting after its last send holds up no other chat.
            await self._until_free(chat)
            if self._overall is None:
                now = self.clock()
                if self._free_at(chat, now) == now:  # no await since the check: atomic on the loop
                    break
                continue
            # Then the overall tokens, one waiter at a time in arrival order: the others wait their
            # turn instead of all waking for each token and all but one going back to sleep.
            async with self._turn:
                await self._until_free(self._overall)
                now = self.clock()
                if self._free_at(chat, now) == now and self._free_at(self._overall, now) == now:
                    break
        buckets = [b for b in (self._overall, chat) if b is not None]
        for bucket in buckets:
            bucket.take()
        self._called(task)
        try:
            yield
        finally:
            ended = self.clock()
            for bucket in buckets:
                bucket.give_back(ended)
            self._changed.set()
            self._changed = asyncio.Event()

    def set_rate(self, per_second: float) -> None:
        """Change the overall limit (a process's share of a pace shared with others, bot.shared_pace)."""
        if self._overall is not None and not math.isinf(per_second):
            self._overall.limit = per_second
            self.rules = PaceRules(per_second, self.rules.private_gap, self.rules.group_per_minute)

    def _called(self, task: asyncio.Task[object] | None) -> None:
        if task is not None:
            self._callers.add(task)

    def has_called(self, task: asyncio.Task[object]) -> bool:
        return task in self._callers

    def hold(self, seconds: float) -> None:
        self._held_until = max(self._held_until, self.clock() + seconds)

    def capacity(self, horizon: float) -> int:
        now = self.clock()
        usable = horizon - max(0.0, self._held_until - now)
        if usable <= 0:
            return 0
        if self._overall is None:
            return 1_000
        return max(1, int(self.rules.per_second * usable))
