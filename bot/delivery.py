"""The delivery worker: drains the durable outbox through the adapters.

A delivery is claimed (status 'sending' with a lease) and committed before it is sent, and marked
'sent' right after. Cancelling the worker waits for the send in flight to be recorded, so a restart
asks nobody twice and skips nobody. A process killed mid-send leaves a 'sending' row whose lease
expires; it is then sent again (the one case where a question can arrive twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot import texts
from bot.adapter import Adapter
from bot.clock import Clock, SystemClock
from bot.config import QuietHours, Settings
from bot.errors import DeliveryError
from bot.types import ChatRef, Outbound, QuestionRef
from storage.repository import DueDelivery, Repository

log = logging.getLogger("feedbot.delivery")

IDLE_POLL = timedelta(seconds=30)


def retry_delay(attempts: int, retry_after: float | None) -> timedelta:
    """Exponential back-off from 30 s, capped at one hour; never sooner than the platform asked."""
    backoff = min(30 * 2 ** max(attempts - 1, 0), 3600)
    return timedelta(seconds=max(backoff, retry_after or 0))


def quiet_until(quiet: QuietHours | None, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The end of the quiet window `now` falls into (in the poll's time zone), or None outside it."""
    if quiet is None:
        return None
    local = now.astimezone(tz)
    if not quiet.contains(local.time()):
        return None
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    # Re-localise: across a DST change the wall-clock end keeps its meaning.
    end = end.replace(tzinfo=None).replace(tzinfo=tz)
    return end.astimezone(now.tzinfo)


class DeliveryWorker:
    def __init__(
        self,
        repo: Repository,
        adapters: Mapping[str, Adapter],
        settings: Settings,
        clock: Clock | None = None,
        *,
        batch_size: int = 50,
        concurrency: int = 8,
    ) -> None:
        self.repo = repo
        self.adapters = adapters
        self.settings = settings
        self.clock = clock or SystemClock()
        self.batch_size = batch_size
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.drain()
            except Exception:
                # A database outage must not kill the worker: log, wait, try again.
                log.exception("delivery worker failed; retrying")
            timeout = await self._idle_timeout()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _idle_timeout(self) -> float:
        try:
            nxt = await self.repo.next_delivery_time()
        except Exception:
            return IDLE_POLL.total_seconds()
        if nxt is None:
            return IDLE_POLL.total_seconds()
        return max(0.05, min((nxt - self.clock.now()).total_seconds(), IDLE_POLL.total_seconds()))

    async def drain(self) -> int:
        """Send everything due now; returns how many deliveries were attempted."""
        await self.repo.release_stale_claims(self.clock.now())
        attempted = 0
        while True:
            batch = await self.repo.claim_due_deliveries(self.clock.now(), limit=self.batch_size)
            if not batch:
                return attempted
            attempted += len(batch)
            async with asyncio.TaskGroup() as group:
                for due in batch:
                    group.create_task(self._deliver(due))

    async def _deliver(self, due: DueDelivery) -> None:
        try:
            await self._slots.acquire()
        except asyncio.CancelledError:
            # Claimed but never sent: hand it back now rather than when the lease runs out.
            await self.repo.hold_delivery(due.delivery_id, self.clock.now())
            raise
        try:
            # Shielded: a cancelled worker still records the send in flight, then stops.
            task = asyncio.ensure_future(self._send_and_record(due))
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                await task
                raise
        finally:
            self._slots.release()

    @staticmethod
    def _outbound(due: DueDelivery) -> Outbound:
        # The run's own snapshot of question, rating and scale: a later config change does not alter it.
        text = texts.reminder(due.question) if due.reminder else due.question
        return Outbound(
            chat=ChatRef(due.platform, due.chat_id, due.user_id),
            text=text,
            question=QuestionRef(run_id=due.run_id, rating=due.rating, scale=due.scale),
        )

    def _quiet_until(self, due: DueDelivery, now: datetime) -> datetime | None:
        poll = self.settings.poll(due.poll_id)
        tz = self.settings.poll_timezone(poll) if poll else ZoneInfo(self.settings.engine.timezone)
        return quiet_until(self.settings.engine.quiet_hours, now, tz)

    async def _send_and_record(self, due: DueDelivery) -> None:
        now = self.clock.now()
        held = self._quiet_until(due, now)
        if held is not None:
            await self.repo.hold_delivery(due.delivery_id, held)
            return
        adapter = self.adapters.get(due.platform)
        if adapter is None:
            await self.repo.fail_delivery(due, f"no adapter configured for platform {due.platform!r}")
            return
        try:
            message_id = await adapter.send(self._outbound(due))
        except DeliveryError as exc:
            await self._failed(due, exc)
            return
        except Exception as exc:  # an adapter bug must not stop the outbox
            log.exception("adapter %s raised a non-DeliveryError", due.platform)
            await self._failed(due, DeliveryError(f"unexpected {type(exc).__name__}", permanent=False))
            return
        await self.repo.record_sent(due, message_id, self.clock.now())
        log.info(
            "delivered %s run=%s customer=%s platform=%s",
            "reminder" if due.reminder else "question",
            due.run_id,
            due.customer_id,
            due.platform,
        )

    async def _failed(self, due: DueDelivery, exc: DeliveryError) -> None:
        now = self.clock.now()
        if exc.permanent:
            log.warning("delivery failed for good run=%s customer=%s: %s", due.run_id, due.customer_id, exc.reason)
            await self.repo.fail_delivery(due, exc.reason)
            await self.repo.mark_unreachable(due.customer_id, exc.reason, now)
        elif due.attempts >= self.settings.engine.max_attempts:
            log.warning("delivery gave up after %d attempts run=%s: %s", due.attempts, due.run_id, exc.reason)
            await self.repo.fail_delivery(due, f"gave up after {due.attempts} attempts: {exc.reason}")
        else:
            await self.repo.retry_delivery(due, exc.reason, now + retry_delay(due.attempts, exc.retry_after))
