"""One platform's life in the process: start it, retry while it is away, end it when it refuses us.

Each platform has its own supervisor, so one platform being down never blocks or ends another.
Start-up failures are told apart by cause (the adapters translate SDK errors, bot.errors):
- `PlatformGone` or `ConfigError` (token revoked, a setting the platform refuses): that platform
  ends, with one clear line;
- anything else (TryLater: network, 5xx, 429; or an unexpected error): tried again with capped
  back-off, for ever, one line each time naming the platform.
Once started, the platform runs until it reports itself gone (the delivery worker on a send, or the
adapter's own loop through `Watchable.watch`); then it is stopped and the supervisor returns.
Cancelling the supervisor (SIGINT/SIGTERM) interrupts a start in progress at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.adapter import Adapter, OnMessage, Watchable
from bot.errors import ConfigError, DeliveryError, PlatformGone

log = logging.getLogger("feedbot.app")

START_BACKOFF = 1.0  # seconds before the second start attempt, doubled after each failure
START_BACKOFF_CAP = 60.0


class PlatformSupervisor:
    def __init__(
        self,
        adapter: Adapter,
        on_message: OnMessage,
        *,
        on_up: Callable[[str], None] = lambda platform: None,
        on_down: Callable[[str], None] = lambda platform: None,
        backoff: float | None = None,
        backoff_cap: float | None = None,
    ) -> None:
        self.adapter = adapter
        self.platform = adapter.platform
        self.on_message = on_message
        self.on_up = on_up
        self.on_down = on_down
        self.backoff = START_BACKOFF if backoff is None else backoff
        self.backoff_cap = START_BACKOFF_CAP if backoff_cap is None else backoff_cap
        self.first_attempt = asyncio.Event()  # set after the first start attempt, whatever its outcome
        self.running = False
        self.reason: str | None = None  # why the platform ended
        self._gone = asyncio.Event()

    def gone(self, exc: PlatformGone) -> None:
        """The platform refuses us for good (called by the delivery worker or the adapter)."""
        if self.reason is None:
            self.reason = exc.reason
        self._gone.set()

    async def run(self) -> str:
        """Run the platform until it is gone; returns why. Cancelled: stops the adapter and re-raises."""
        if isinstance(self.adapter, Watchable):
            self.adapter.watch(self.gone)
        try:
            if await self._start():
                self.running = True
                self.on_up(self.platform)
                log.info("platform started platform=%s", self.platform)
                await self._gone.wait()
            assert self.reason is not None
            log.error("platform %s stopped for good: %s", self.platform, self.reason)
            return self.reason
        finally:
            self.running = False
            self.first_attempt.set()
            self.on_down(self.platform)
            await self._stop_adapter()

    async def _start(self) -> bool:
        """Start the adapter, retrying transient failures for ever; False when the platform is gone."""
        delay = self.backoff
        attempt = 0
        while not self._gone.is_set():
            attempt += 1
            try:
                await self.adapter.start(self.on_message)
                return not self._gone.is_set()
            except PlatformGone as exc:
                self.reason = self.reason or exc.reason
                return False
            except ConfigError as exc:
                self.reason = self.reason or f"configuration: {exc}"
                return False
            except DeliveryError as exc:
                problem = exc.reason
            except Exception as exc:  # an SDK error the adapter did not translate: still passing
                problem = f"{type(exc).__name__}: {exc}"
            finally:
                self.first_attempt.set()
            log.warning(
                "platform %s could not start (attempt %d): %s; trying again in %.3gs",
                self.platform,
                attempt,
                problem,
                delay,
            )
            await self._stop_adapter()  # a half-started adapter starts again from scratch
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_cap)
        return False

    async def _stop_adapter(self) -> None:
        try:
            await self.adapter.stop()
        except Exception:
            log.exception("platform %s failed to stop cleanly", self.platform)
