"""The composition root: `build_runtime(settings)` wires storage, engine, delivery worker, scheduler,
health server and adapters, every dependency passed in through constructors; `Runtime.run` runs them
until told to stop. The adapters come from the platform registry (bot.platforms), which imports each
platform's SDK only when its section is configured (tests/test_layering.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.adapter import Adapter, CatchesUp
from bot.catchup import OpenQuestions
from bot.commands import CommandRegistry, Reporting
from bot.config import Settings
from bot.engine import Engine
from bot.errors import DeliveryError
from bot.outbox_codec import to_row
from bot.platforms import build_adapters, digest_chats
from bot.reporting.digest import PERIODS, Digest, build_digest, goals_status_text
from bot.roles import RolePolicy
from bot.runtime.banner import ready_line
from bot.runtime.clock import Clock, SystemClock
from bot.runtime.delivery import DeliveryWorker
from bot.runtime.health import HealthServer
from bot.runtime.metrics import Metrics
from bot.runtime.schedule import PollScheduler
from bot.signals import OutboxSignal
from bot.types import Image, Outbound
from storage.db import make_engine, upgrade
from storage.models import DeliveryKind
from storage.reporting import Reports
from storage.store import Store

log = logging.getLogger("feedbot.app")

PRUNE_EVERY = timedelta(hours=6)
START_ATTEMPTS = 5
START_BACKOFF = 2.0  # seconds, doubled after each failed start


class DigestReporting:
    """Digest and goal texts for chat commands, the scheduler and the CLI (wraps bot.reporting.digest)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.reports = Reports(store.db)
        self.settings = settings

    async def build(self, period: str, now: datetime, current: bool = False) -> Digest:
        if period not in PERIODS:
            raise ValueError(f"unknown digest period {period!r}")
        return await build_digest(self.reports, self.settings, period, now, current=current)  # type: ignore[arg-type]

    async def digest(self, period: str, now: datetime, current: bool = False) -> tuple[str, bytes | None]:
        digest = await self.build(period, now, current)
        return digest.text, digest.chart_png

    async def goals(self, now: datetime) -> str:
        return await goals_status_text(self.reports, self.settings, now)


class DigestPoster:
    """The scheduled digest, queued once per period for every configured digest chat."""

    def __init__(self, store: Store, reporting: DigestReporting, settings: Settings, signal: OutboxSignal) -> None:
        self.store = store
        self.reporting = reporting
        self.settings = settings
        self.signal = signal

    async def post(self, now: datetime) -> int:
        period = self.settings.digest.period
        digest = await self.reporting.build(period, now)
        image = Image(filename=f"digest-{period}.png", data=digest.chart_png) if digest.chart_png else None
        queued = 0
        async with self.store.unit() as unit:
            for chat in digest_chats(self.settings):
                # Keyed by the period it covers: a restart or a second process never posts it twice.
                if not await unit.outbox.claim_digest_post(chat.platform, chat.chat_id, period, digest.start, now):
                    continue
                message = Outbound(chat=chat, text=digest.text, image=image)
                await unit.outbox.queue(to_row(message, DeliveryKind.DIGEST), now)
                queued += 1
                log.info("digest queued platform=%s chat=%s period=%s", chat.platform, chat.chat_id, period)
        if queued:
            self.signal.notify()
        return queued


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    store: Store
    signal: OutboxSignal
    reporting: DigestReporting
    engine: Engine
    worker: DeliveryWorker
    scheduler: PollScheduler
    digests: DigestPoster
    adapters: dict[str, Adapter]
    metrics: Metrics
    health: HealthServer

    async def run(self, stop: asyncio.Event) -> None:
        tasks: list[asyncio.Task[None]] = []
        started: list[Adapter] = []
        try:
            await self.health.start()  # /healthz, /readyz, /metrics when [http] is configured
            await upgrade(self.store.db)
            await self.engine.resume_fan_out()
            for adapter in self.adapters.values():
                await self._start_adapter(adapter)
                started.append(adapter)
                self.health.platform_up(adapter.platform)
                log.info("adapter started platform=%s", adapter.platform)
            await self.scheduler.report_missed()
            await self.scheduler.tick()
            self.scheduler.start()
            tasks.append(asyncio.create_task(self.worker.run_forever(), name="delivery-worker"))
            tasks.append(asyncio.create_task(self._prune_forever(), name="prune"))
            log.info(ready_line(self.settings, [a.platform for a in started], self.health.address))
            await stop.wait()
        finally:
            log.info("feedbot stopping")
            await self.health.stop()
            self.scheduler.stop()
            for adapter in reversed(started):  # no new messages first, then let the worker finish
                try:
                    await adapter.stop()
                except Exception:
                    log.exception("adapter %s failed to stop cleanly", adapter.platform)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.store.dispose()

    async def _start_adapter(self, adapter: Adapter) -> None:
        """Start one adapter; a platform that is unreachable for now is tried again with back-off."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                await adapter.start(self.engine.on_message)
                return
            except DeliveryError as exc:
                if exc.permanent or attempt == START_ATTEMPTS:
                    raise
                delay = START_BACKOFF * 2 ** (attempt - 1)
                log.warning(
                    "adapter %s could not start (%s); retry %d in %.0fs", adapter.platform, exc.reason, attempt, delay
                )
                await asyncio.sleep(delay)

    async def _prune_forever(self) -> None:
        while True:
            try:
                await self.engine.prune()
            except Exception:
                log.exception("pruning handled updates failed")
            await asyncio.sleep(PRUNE_EVERY.total_seconds())


def build_runtime(
    settings: Settings,
    *,
    adapters: Sequence[Adapter] | None = None,
    clock: Clock | None = None,
    store: Store | None = None,
    roles: RolePolicy | None = None,
    registry: CommandRegistry | None = None,
    reporting: Reporting | None = None,
    worker_id: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Runtime:
    """Wire one feedbot process. `adapters` defaults to the platforms configured in `settings`
    (their tokens from `environ`, default the process environment)."""
    clock = clock or SystemClock()
    store = store or Store(make_engine(settings.storage.url))
    signal = OutboxSignal()
    metrics = Metrics()  # one registry per runtime
    chosen = list(build_adapters(settings, environ, metrics=metrics) if adapters is None else adapters)
    by_platform = {adapter.platform: adapter for adapter in chosen}
    digests_reporting = DigestReporting(store, settings)
    engine = Engine(
        store,
        settings,
        clock=clock,
        roles=roles,
        registry=registry,
        reporting=reporting or digests_reporting,  # tests may stand in for the slow part
        outbox_signal=signal,
        metrics=metrics,
    )
    for adapter in chosen:
        if isinstance(adapter, CatchesUp):  # reads what its platform does not replay after downtime
            adapter.catch_up_with(OpenQuestions(store, clock))
    worker = DeliveryWorker(
        store, by_platform, settings, clock=clock, signal=signal, worker_id=worker_id, metrics=metrics
    )
    digests = DigestPoster(store, digests_reporting, settings, signal)
    return Runtime(
        settings=settings,
        clock=clock,
        store=store,
        signal=signal,
        reporting=digests_reporting,
        engine=engine,
        worker=worker,
        scheduler=PollScheduler(store, settings, clock, signal=signal, on_digest=digests.post),
        digests=digests,
        adapters=by_platform,
        metrics=metrics,
        health=HealthServer.for_runtime(settings.http, metrics, store.db, list(by_platform)),
    )
