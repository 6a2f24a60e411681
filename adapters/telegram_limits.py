"""Telegram's send limits, kept proactively so 429s stay the exception.

Telegram's bot FAQ: about 30 messages per second overall, one per second in a private chat, 20 per
minute in a group. PTB's own `AIORateLimiter` has no per-private-chat limit and re-raises the
first 429, so the adapter keeps its own: three sliding windows, each "at most N sends in any P
seconds". A send reserves the earliest instant all windows allow, then sleeps until it. Time and
sleep are injected so tests can run the clock without waiting.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Sleep = Callable[[float], Awaitable[None]]

OVERALL = (25, 1.0)  # sends per period (seconds), below Telegram's ~30/s
PRIVATE_CHAT = (1, 1.0)
GROUP_CHAT = (20, 60.0)
_MAX_WINDOWS = 10_000  # idle per-chat windows are dropped beyond this many


@dataclass
class _Window:
    """At most `limit` sends in any `period` seconds; `stamps` holds the newest reservations, sorted."""

    limit: int
    period: float
    stamps: list[float] = field(default_factory=list)

    def earliest(self, t: float) -> float:
        if len(self.stamps) < self.limit:
            return t
        return max(t, self.stamps[-self.limit] + self.period)

    def take(self, t: float) -> None:
        bisect.insort(self.stamps, t)
        del self.stamps[: -self.limit]

    def idle(self, now: float) -> bool:
        return not self.stamps or self.stamps[-1] + self.period <= now


def is_private_chat(chat_id: str) -> bool:
    """Private chats have the user's (positive) id; groups, supergroups and channels are negative."""
    return chat_id.isdigit()


class SendLimiter:
    def __init__(
        self,
        *,
        overall: tuple[int, float] = OVERALL,
        private_chat: tuple[int, float] = PRIVATE_CHAT,
        group_chat: tuple[int, float] = GROUP_CHAT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._overall = _Window(*overall)
        self._private = private_chat
        self._group = group_chat
        self._chats: dict[str, _Window] = {}
        self._held_until = 0.0
        self.clock = clock
        self.sleep = sleep

    def _window(self, chat_id: str) -> _Window:
        window = self._chats.get(chat_id)
        if window is None:
            if len(self._chats) >= _MAX_WINDOWS:
                now = self.clock()
                self._chats = {k: w for k, w in self._chats.items() if not w.idle(now)}
            limit, period = self._private if is_private_chat(chat_id) else self._group
            window = self._chats[chat_id] = _Window(limit, period)
        return window

    def reserve(self, chat_id: str) -> float:
        """Book the earliest allowed send time for `chat_id` (no await: atomic in asyncio)."""
        chat = self._window(chat_id)
        t = max(self.clock(), self._held_until)
        t = max(self._overall.earliest(t), chat.earliest(t))
        self._overall.take(t)
        chat.take(t)
        return t

    async def acquire(self, chat_id: str) -> float:
        """Wait until a message may go to `chat_id`; returns the seconds waited."""
        waited = 0.0
        while True:
            delay = self.reserve(chat_id) - self.clock()
            if delay > 0:
                await self.sleep(delay)
                waited += delay
            if self._held_until <= self.clock():
                return waited
            # A 429 arrived while this send was waiting: its slot is void, book again after the pause.

    def hold(self, seconds: float) -> None:
        """Pause every send for `seconds` (Telegram answered 429 with retry_after)."""
        self._held_until = max(self._held_until, self.clock() + seconds)
