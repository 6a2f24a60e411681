"""The delivery worker: drains the durable outbox through the adapters.

Everything that leaves (replies, questions, reminders, digests) is a `delivery` row, claimed with a
fencing token before it is sent and recorded right after. Claims are sized to what the platform's
pace lets us send in the next few seconds, so a crash strands little. Each chat's messages are sent
one at a time in queue order (replies before questions); different chats go concurrently, within
the platform's pace (bot.pacing).

The worker beats its heart in the `worker` table. A worker that falls silent (killed with SIGKILL,
frozen) loses its claims after `silent_after` seconds to whichever worker looks next; their outcome
is unknown, so a question among them counts as asked (an answer to it is taken) and is sent again
unless it was answered meanwhile. Cancelling the worker (a clean stop) waits for the sends in flight
to be recorded and hands the rest back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from bot.adapter import Adapter
from bot.config import QuietHours, Settings
from bot.errors import DeliveryError, MessageRejected, PlatformGone, RecipientUnreachable
from bot.outbox_codec import from_claim
from bot.runtime.clock import Clock, SystemClock
from bot.runtime.metrics import Metrics
from bot.runtime.sent_ledger import SentLedger, write_through_outages
from bot.signals import OutboxSignal
from storage.outbox import Claim
from storage.store import Store, Unit

log = logging.getLogger("feedbot.delivery")

IDLE_POLL = timedelta(seconds=5)  # how often an idle worker looks for work queued by other processes
HEARTBEAT_EVERY = 5.0
SILENT_AFTER = 15.0
CLAIM_HORIZON = 2.0  # claim what the pace allows in this many seconds
CLAIM_GATHER = 0.02  # with sends in flight, claim at most this often: what their ends freed, at once
RELEASE_EVERY = 1.0  # look for silent workers' claims at most this often (seconds)
T = TypeVar("T")


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


def new_worker_id() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        adapters: Mapping[str, Adapter],
        settings: Settings,
        *,
        clock: Clock | None = None,
        signal: OutboxSignal | None = None,
        worker_id: str | None = None,
        horizon: float = CLAIM_HORIZON,
        heartbeat_every: float = HEARTBEAT_EVERY,
        silent_after: float = SILENT_AFTER,
        max_lanes: int = 256,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.adapters = adapters
        self.settings = settings
        self.clock = clock or SystemClock()
        self.worker_id = worker_id or new_worker_id()
        self.horizon = horizon
        self.heartbeat_every = heartbeat_every
        self.silent_after = silent_after
        self.max_lanes = max_lanes
        self.metrics = metrics or Metrics()
        self.ledger = SentLedger(store, self.clock)
        self._wake = asyncio.Event()
        self._claiming = asyncio.Lock()
        self._released_at = -math.inf  # time.monotonic() of the last look for silent workers' claims
        # One lane per chat with claims in hand: a task sending its queue one message after the other.
        self._lanes: dict[tuple[str, str], tuple[asyncio.Task[None], deque[Claim]]] = {}
        self._in_flight: dict[str, int] = {}
        self._gone: dict[str, str] = {}  # platform -> why it refuses us (token revoked)
        self._on_gone: dict[str, Callable[[PlatformGone], None]] = {}
        self._down: set[str] = set()  # platforms not running now (starting, retrying, ended): nothing is claimed
        self._registered = False
        if signal is not None:
            signal.subscribe(self.wake)

    def wake(self) -> None:
        self._wake.set()

    @property
    def gone(self) -> Mapping[str, str]:
        return self._gone

    def on_gone(self, platform: str, callback: Callable[[PlatformGone], None]) -> None:
        """Who hears that `platform` refuses us for good (the runtime's supervisor stops it)."""
        self._on_gone[platform] = callback

    def platform_back(self, platform: str) -> None:
        """The adapter of `platform` works (again): its deliveries are claimed."""
        self._gone.pop(platform, None)
        self._down.discard(platform)
        self.wake()

    def platform_down(self, platform: str) -> None:
        """The adapter of `platform` is not running: its deliveries wait, without spending attempts."""
        self._down.add(platform)

    # ------------------------------------------------------------------ lifecycle
    async def _register(self) -> None:
        async with self.store.unit() as unit:
            await unit.workers.register(self.worker_id, socket.gethostname(), os.getpid(), self.clock.now())
        self._registered = True

    async def heartbeat(self) -> None:
        async with self.store.unit() as unit:
            alive = await unit.workers.heartbeat(self.worker_id, self.clock.now())
        if not alive:
            log.warning("worker %s was declared silent by another process; registering again", self.worker_id)
            await self._register()

    async def run_forever(self) -> None:
        """Deliver until cancelled; a database outage is logged and retried, never fatal."""
        heart = asyncio.create_task(self._beat_forever(), name="delivery-heartbeat")
        try:
            while True:
                self._wake.clear()
                try:
                    if not self._registered:
                        await self._register()
                    if time.monotonic() - self._released_at >= RELEASE_EVERY:
                        await self._release_silent_claims()
                        self._released_at = time.monotonic()
                    await self._claim_and_dispatch()
                except Exception:
                    log.exception("delivery worker failed; retrying")
                    await asyncio.sleep(1.0)
                if self._lanes:  # sends ending in the next moments are claimed for together
                    await asyncio.sleep(CLAIM_GATHER)
                timeout = await self._idle_timeout()
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
                # that arrives as the wait ends, and this loop would then never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
        finally:
            heart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heart
            await self._stop_lanes()
            await self.ledger.close()
            await self._deregister()

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_every)
            try:
                await self.heartbeat()
            except Exception as exc:
                log.warning("delivery heartbeat failed: %s", exc)

    async def _deregister(self) -> None:
        if not self._registered:
            return
        try:
            async with self.store.unit() as unit:
                await unit.workers.remove(self.worker_id)
        except Exception as exc:  # its claims are released by the others once it is silent
            log.warning("could not deregister worker %s: %s", self.worker_id, exc)
        self._registered = False

    async def _stop_lanes(self) -> None:
        lanes = [task for task, _ in self._lanes.values()]
        for lane in lanes:
            lane.cancel()
        for lane in lanes:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await lane

    async def _idle_timeout(self) -> float:
        """Until the next due delivery, or until another worker's claims may be released; at most IDLE_POLL.

        With lanes busy, a finishing lane wakes the worker anyway, and silent workers are looked for
        at most every RELEASE_EVERY seconds: no query is needed to know how long to wait.
        """
        if self._lanes:
            return 0.05 if self._capacity_left() else RELEASE_EVERY
        try:
            async with self.store.read() as unit:
                due = await unit.outbox.next_due()
                quiet = await unit.outbox.oldest_foreign_claim(self.worker_id)
        except Exception:
            return IDLE_POLL.total_seconds()
        moments = [due] if due is not None else []
        if quiet is not None:
            moments.append(quiet + timedelta(seconds=self.silent_after + 0.05))
        if not moments:
            return IDLE_POLL.total_seconds()
        wait = (min(moments) - self.clock.now()).total_seconds()
        return max(0.05, min(wait, IDLE_POLL.total_seconds()))

    def _capacity_left(self) -> bool:
        return any(self._worth_claiming(platform) > 0 for platform in self._platforms())

    # ------------------------------------------------------------------ claiming
    def _platforms(self) -> list[str]:
        return [p for p in self.adapters if p not in self._gone and p not in self._down]

    def _worth_claiming(self, platform: str) -> int:
        """How many more claims this platform's pace can use within the horizon; 0 while sends are
        in flight and less than a quarter of the pace is free.

        At a pace of 25/s a send ends every 40 ms: claiming after each (a transaction of several
        statements) would cost more than the sends. A platform with nothing in flight claims at once.
        """
        capacity = self.adapters[platform].pacer.capacity(self.horizon)
        in_flight = self._in_flight.get(platform, 0)
        room = capacity - in_flight
        return room if in_flight == 0 or room >= max(1, capacity // 4) else 0

    async def _release_silent_claims(self) -> int:
        now = self.clock.now()
        async with self.store.unit() as unit:
            await unit.workers.heartbeat(self.worker_id, now)
            released = await unit.outbox.release_claims_of_silent_workers(
                now - timedelta(seconds=self.silent_after), now
            )
            await unit.workers.remove_silent(now - timedelta(seconds=self.silent_after * 4))
        if released:
            log.warning("released %d claim(s) of silent workers (outcome unknown)", released)
        return released

    async def _claim_and_dispatch(self) -> int:
        """Claim what fits and start a lane per chat; returns how many deliveries were claimed.

        One claim of this worker at a time: `drain` called while `run_forever` is claiming would
        otherwise find the rows locked by that claim (SKIP LOCKED) and no lanes yet, and return
        before they are sent.
        """
        claimed = 0
        async with self._claiming:
            for platform in self._platforms():
                room = min(self._worth_claiming(platform), self.max_lanes - len(self._lanes))
                if room <= 0:
                    continue
                async with self.store.unit() as unit:
                    pacer = self.adapters[platform].pacer
                    claims = await unit.outbox.claim(
                        self.worker_id,
                        [platform],
                        self.clock.now(),
                        room,
                        chat_gap=pacer.chat_gap,
                        group_per_minute=pacer.group_limit,
                    )
                claimed += len(claims)
                self._dispatch(claims)
        return claimed

    def _dispatch(self, claims: Sequence[Claim]) -> None:
        for claim in claims:
            self._in_flight[claim.platform] = self._in_flight.get(claim.platform, 0) + 1
            chat = (claim.platform, claim.chat_id)
            lane = self._lanes.get(chat)
            if lane is not None:  # its last claim was recorded but the lane has not looked again yet
                lane[1].append(claim)
                continue
            queue = deque([claim])
            task = asyncio.create_task(self._lane(chat, queue), name=f"deliver-{chat[0]}-{chat[1]}")
            self._lanes[chat] = (task, queue)
            task.add_done_callback(self._lane_done)

    def _lane_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("a delivery lane failed", exc_info=task.exception())
        self.wake()

    async def _write(self, op: Callable[[Unit], Awaitable[T]]) -> T:
        return await write_through_outages(self.store, op)

    async def drain(self) -> int:
        """Send everything due now and wait for it (tests, the demo, one-shot CLI use)."""
        if not self._registered:
            await self._register()
        await self._release_silent_claims()
        attempted = 0
        while True:
            claimed = await self._claim_and_dispatch()
            attempted += claimed
            if self._lanes:
                lanes = [task for task, _ in self._lanes.values()]
                await asyncio.wait(lanes, return_when=asyncio.FIRST_COMPLETED)
                continue
            if not claimed:
                return attempted

    # ------------------------------------------------------------------ sending
    async def _lane(self, chat: tuple[str, str], queue: deque[Claim]) -> None:
        """One chat's claimed messages, one after the other, until its queue is empty.

        Cancelled (a clean stop), the lane lets an API call already on the wire finish and be
        recorded; a send still waiting for its turn is not made, and it and the rest go back.
        """
        while queue:
            claim = queue.popleft()
            task: asyncio.Task[bool] = asyncio.ensure_future(self._deliver(claim))
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                adapter = self.adapters.get(claim.platform)
                if adapter is not None and not task.done() and not adapter.pacer.has_called(task):
                    task.cancel()
                sent = False
                with contextlib.suppress(BaseException):
                    sent = await task
                if not sent:
                    await self._hand_back([claim], count=False)
                rest = list(queue)
                queue.clear()
                del self._lanes[chat]
                await self._hand_back(rest)
                raise
            finally:
                self._in_flight[claim.platform] -= 1
        # No await between the empty check and this: a claim dispatched later starts a new lane.
        del self._lanes[chat]

    async def _hand_back(self, claims: Sequence[Claim], *, count: bool = True) -> None:
        """Claimed but never sent: back to the queue now, not when this worker is declared silent.

        `count`: these claims are still counted in flight (the lane's current one is not).
        """
        if not claims:
            return
        now = self.clock.now()
        try:
            async with self.store.unit() as unit:
                for claim in claims:
                    await unit.outbox.hold(claim, now)
        except Exception as exc:
            log.warning("could not hand back %d claim(s): %s", len(claims), exc)
        if count:
            for claim in claims:
                self._in_flight[claim.platform] -= 1

    def _quiet_until(self, claim: Claim, now: datetime) -> datetime | None:
        if not claim.is_question:
            return None  # replies answer someone who just wrote: never held back
        poll = self.settings.poll(claim.poll_id or "")
        tz = self.settings.poll_timezone(poll) if poll else ZoneInfo(self.settings.engine.timezone)
        return quiet_until(self.settings.engine.quiet_hours, now, tz)

    async def _deliver(self, claim: Claim) -> bool:
        """Send one claim and record the outcome; False only when it was cancelled before sending."""
        now = self.clock.now()
        held = self._quiet_until(claim, now)
        if held is not None:
            await self._write(lambda unit: unit.outbox.hold(claim, held))
            self._count(claim, "held")
            return True
        adapter = self.adapters.get(claim.platform)
        if adapter is None:
            await self._write(lambda unit: unit.outbox.fail(claim, f"no adapter for platform {claim.platform!r}"))
            return True
        started = time.monotonic()
        try:
            message_id = await adapter.send(from_claim(claim, self.settings.voice))
        except DeliveryError as exc:
            await self._failed(claim, exc)
            return True
        except Exception as exc:  # an adapter bug must not stop the outbox
            log.exception("adapter %s raised a non-DeliveryError", claim.platform)
            await self._failed(claim, DeliveryError(f"unexpected {type(exc).__name__}"))
            return True
        self.metrics.send_latency.labels(platform=claim.platform).observe(time.monotonic() - started)
        self._count(claim, "sent")
        recorded = await self.ledger.record(claim, message_id)
        if not recorded:  # the customer answered while it was on the wire, or the claim was released
            log.info("delivery %s was sent; it had been settled meanwhile", claim.delivery_id)
        log.info(
            "delivered %s run=%s customer=%s platform=%s chat=%s",
            claim.kind.value,
            claim.run_id,
            claim.customer_id,
            claim.platform,
            claim.chat_id,
        )
        return True

    def _count(self, claim: Claim, status: str) -> None:
        self.metrics.deliveries.labels(platform=claim.platform, status=status).inc()

    async def _failed(self, claim: Claim, exc: DeliveryError) -> None:
        await self._write(lambda unit: self._record_failure(unit, claim, exc))

    async def _record_failure(self, unit: Unit, claim: Claim, exc: DeliveryError) -> None:
        now = self.clock.now()
        what = f"{claim.kind.value} {claim.delivery_id} run={claim.run_id} chat={claim.chat_id}"
        if isinstance(exc, RecipientUnreachable):
            self._count(claim, "failed")
            log.warning("%s: recipient unreachable: %s", what, exc.reason)
            await unit.outbox.fail(claim, exc.reason)
            if claim.customer_id is not None:
                await unit.customers.mark_unreachable(claim.customer_id, exc.reason, now)
            elif claim.user_id is not None:
                await unit.customers.set_reachable(claim.platform, claim.user_id, False, exc.reason, now)
        elif isinstance(exc, MessageRejected):
            self._count(claim, "failed")
            log.error("%s: the platform refused our message: %s", what, exc.reason)
            await unit.outbox.fail(claim, exc.reason)
        elif isinstance(exc, PlatformGone):
            # Not the customer's doing: the delivery waits, unchanged, for the platform to come back.
            callback = self._on_gone.get(claim.platform)
            if claim.platform not in self._gone and callback is None:
                log.error("%s refuses us (%s): no more sends there until it is fixed", claim.platform, exc.reason)
            self._gone[claim.platform] = exc.reason
            await unit.outbox.hold(claim, now, exc.parts_sent)
            if callback is not None:
                callback(exc)
        elif claim.attempts >= self.settings.engine.max_attempts:
            self._count(claim, "gave_up")
            log.warning("%s: gave up after %d attempts: %s", what, claim.attempts, exc.reason)
            await unit.outbox.fail(claim, f"gave up after {claim.attempts} attempts: {exc.reason}")
        else:
            self._count(claim, "retry")
            await unit.outbox.retry(
                claim, exc.reason, now + retry_delay(claim.attempts, exc.retry_after), exc.parts_sent
            )
