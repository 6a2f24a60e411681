"""The fake Discord's rate limits, on by default, as Discord documents them
(https://discord.com/developers/docs/topics/rate-limits):

- global: 50 requests per second per bot; interaction callbacks and follow-ups are exempt. A 429
  carries `X-RateLimit-Global: true` and `X-RateLimit-Scope: global`; discord.py does not pace this
  in advance, it only stops after the first global 429.
- per route: every answer carries `X-RateLimit-Limit`, `-Remaining`, `-Reset`, `-Reset-After` and
  `-Bucket`, which discord.py follows. Sending messages is limited per channel (5 per 5 seconds, the
  figure Discord's headers give for that route).
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

API = "/api/v10"
_CHANNEL_MESSAGES = re.compile(rf"^{API}/channels/(\d+)/messages$")


@dataclass(frozen=True)
class Verdict:
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: float | None = None  # set: answer 429
    is_global: bool = False


@dataclass
class _Window:
    start: float
    used: int = 0


class DiscordLimits:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = True
        self.global_per_second = 50
        self.channel_messages = (5, 5.0)  # per channel: this many messages per this many seconds
        self.clock = clock
        self._recent: deque[float] = deque()  # times of the requests in the last second (global)
        self._windows: dict[str, _Window] = {}

    def check(self, method: str, path: str) -> Verdict:
        if not self.enabled:
            return Verdict()
        now = self.clock()
        exempt = path.startswith((f"{API}/interactions/", f"{API}/webhooks/"))
        if not exempt:
            while self._recent and self._recent[0] <= now - 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.global_per_second:
                return Verdict(retry_after=round(self._recent[0] + 1.0 - now, 3) or 0.001, is_global=True)
        headers: dict[str, str] = {}
        match = _CHANNEL_MESSAGES.match(path) if method == "POST" else None
        if match is not None:
            limit, period = self.channel_messages
            window = self._windows.get(match.group(1))
            if window is None or now >= window.start + period:
                window = self._windows[match.group(1)] = _Window(now)
            reset_after = window.start + period - now
            if window.used >= limit:
                headers = self._headers(limit, 0, reset_after)
                return Verdict(headers, retry_after=round(reset_after, 3) or 0.001)
            window.used += 1
            headers = self._headers(limit, limit - window.used, reset_after)
        if not exempt:
            self._recent.append(now)
        return Verdict(headers)

    @staticmethod
    def _headers(limit: int, remaining: int, reset_after: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": "channel-messages",
        }
