"""The composition root: `build_runtime(settings)` wires storage, engine, delivery worker, scheduler,
health server and adapters, every dependency passed in through constructors; `Runtime.run` runs them
until told to stop. The adapters come from the platform registry (bot.platforms), which imports each
platform's SDK only when its section is configured (tests/test_layering.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.adapter import Adapter, CatchesUp, Remembering
from bot.catchup import OpenQuestions
from bot.commands import CommandRegistry, Reporting
from bot.config import Settings
from bot.engine import Engine
from bot.errors import FeedbotError
from bot.outbox_codec import to_row
from bot.platforms import build_adapters, digest_chats
from bot.reporting.digest import Digest, build_digest, goals_status_text
from bot.reporting.periods import is_period
from bot.roles import RolePolicy
from bot.runtime.banner import ready_line
from bot.runtime.chat_memory import StoredChatMemory
from bot.runtime.clock import Clock, SystemClock
from bot.runtime.delivery import DeliveryWorker
from bot.runtime.health import HealthServer
from bot.runtime.heap import HeapTrimmer
from bot.runtime.leadership import Leadership
from bot.runtime.metrics import Metrics
from bot.runtime.scale_out import share_pace
from bot.runtime.schedule import PollScheduler
from bot.runtime.supervisor import PlatformSupervisor
from bot.signals import OutboxSignal
from bot.types import ChatRef, Image, Outbound
from storage.db import make_engine, upgrade
from storage.models import DeliveryKind
from storage.reporting import Reports
from storage.store import Store

log = logging.getLogger("feedbot.app")

PRUNE_EVERY = timedelta(hours=6)


class PlatformsGone(FeedbotError):
    """Every configured platform ended for good (token revoked...): the process exits non-zero."""


async def _unless_stopped(work: Awaitable[object], stopping: asyncio.Task[object]) -> bool:
    """Await `work` unless the stop signal comes first (then `work` is cancelled); True if it finished."""
    task = asyncio.ensure_future(work)
    await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return False


class DigestReporting:
    """Digest and goal texts for chat commands, the scheduler and the CLI (wraps bot.reporting.digest)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.reports = Reports(store.db)
        self.settings = settings

    async def build(self, period: str, now: datetime, current: bool = False, language: str | None = None) -> Digest:
        if not is_period(period):
            raise ValueError(f"unknown digest period {period!r}")
        return await build_digest(self.reports, self.settings, period, now, current=current, language=language)

    async def digest(
        self, period: str, now: datetime, current: bool = False, language: str | None = None
    ) -> tuple[str, bytes | None]:
        digest = await self.build(period, now, current, language)
        return digest.text, digest.chart_png

    async def goals(self, now: datetime, language: str | None = None) -> str:
        return await goals_status_text(self.reports, self.settings, now, language)


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
    leadership: Leadership | None = None  # several processes on PostgreSQL (bot.runtime.leadership)

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set (at any time, start-up included), or until every configured
        platform has ended for good: then `PlatformsGone` is raised, so the process exits non-zero."""
        tasks: list[asyncio.Task[object]] = []
        supervisors: list[PlatformSupervisor] = []
        stopping = asyncio.create_task(stop.wait(), name="stop-signal")
        try:
            await self.health.start()  # /healthz, /readyz, /metrics when [http] is configured
            if not await _unless_stopped(self._prepare(), stopping):
                return
            for adapter in self.adapters.values():
                if isinstance(adapter, Remembering):
                    adapter.remember_with(StoredChatMemory(self.store, self.clock))
                self.worker.platform_down(adapter.platform)  # until it has started
                supervisor = PlatformSupervisor(
                    adapter, self.engine.on_message, on_up=self._platform_up, on_down=self._platform_down
                )
                self.worker.on_gone(adapter.platform, supervisor.gone)
                supervisors.append(supervisor)
                tasks.append(asyncio.create_task(supervisor.run(), name=f"platform-{adapter.platform}"))
            if self.leadership is None:
                self.scheduler.start()
            else:  # the scheduler and leader-only receiving run once this process is elected
                tasks.append(asyncio.create_task(self.leadership.run_forever(), name="leadership"))
            tasks.append(asyncio.create_task(self.worker.run_forever(), name="delivery-worker"))
            tasks.append(asyncio.create_task(self._prune_forever(), name="prune"))
            tasks.append(asyncio.create_task(HeapTrimmer().run_forever(), name="heap-trim"))
            first_round = asyncio.gather(*(s.first_attempt.wait() for s in supervisors))
            if not await _unless_stopped(first_round, stopping):
                return
            running = [s.platform for s in supervisors if s.running]
            log.info(ready_line(self.settings, running, self.health.address))
            platforms = [t for t in tasks if t.get_name().startswith("platform-")]
            if platforms:
                all_ended: asyncio.Future[Any] = asyncio.gather(*platforms, return_exceptions=True)
                waiting: list[asyncio.Future[Any]] = [stopping, all_ended]
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if not stopping.done():
                    reasons = "; ".join(f"{s.platform}: {s.reason}" for s in supervisors)
                    raise PlatformsGone(f"no platform left running ({reasons})")
            else:
                await stopping
        finally:
            log.info("feedbot stopping")
            stopping.cancel()
            await _cancel([t for t in tasks if t.get_name() == "leadership"])  # another may lead at once
            await self.health.stop()
            self.scheduler.stop()
            # The platforms first (no new messages), then the worker finishes what is on the wire.
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self.store.dispose()

    async def _prepare(self) -> None:
        await upgrade(self.store.db)
        await self.engine.resume_fan_out()
        if self.leadership is None:  # else the elected leader does this (bot.runtime.leadership)
            await self.scheduler.report_missed()
            await self.scheduler.tick()

    def _platform_up(self, platform: str) -> None:
        self.health.platform_up(platform)
        self.worker.platform_back(platform)

    def _platform_down(self, platform: str) -> None:
        self.health.platform_down(platform)
        self.worker.platform_down(platform)

    async def _prune_forever(self) -> None:
        while True:
            try:
                await self.engine.prune()
            except Exception:
                log.exception("pruning handled updates failed")
            await asyncio.sleep(PRUNE_EVERY.total_seconds())


async def _cancel(tasks: Sequence[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


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
    team_chats: Sequence[ChatRef] | None = None,
    scale_out: bool = False,
    alert_chats: Sequence[ChatRef] | None = None,
) -> Runtime:
    """Wire one feedbot process. `adapters` defaults to the platforms configured in `settings`
    (their tokens from `environ`, default the process environment); `team_chats` (where results may be
    shown besides private chats) defaults to the configured digest chats. `scale_out` (`feedbot run`):
    on PostgreSQL, share the send pace with the other processes (bot.runtime.scale_out) and elect
    a leader for polling and scheduling (bot.runtime.leadership)."""
    clock = clock or SystemClock()
    store = store or Store(make_engine(settings.storage.url))
    signal = OutboxSignal()
    metrics = Metrics()  # one registry per runtime
    chosen = list(build_adapters(settings, environ, metrics=metrics) if adapters is None else adapters)
    by_platform = {adapter.platform: adapter for adapter in chosen}
    if scale_out:
        share_pace(chosen, store)
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
        team_chats=team_chats,
        alerts=alert_chats,  # default: [alerts], else the digest chats
    )
    for adapter in chosen:
        if isinstance(adapter, CatchesUp):  # reads what its platform does not replay after downtime
            adapter.catch_up_with(OpenQuestions(store, clock))
    worker = DeliveryWorker(
        store, by_platform, settings, clock=clock, signal=signal, worker_id=worker_id, metrics=metrics
    )
    digests = DigestPoster(store, digests_reporting, settings, signal)
    scheduler = PollScheduler(store, settings, clock, signal=signal, on_digest=digests.post)
    leadership = None
    if scale_out and store.dialect == "postgresql":
        url = store.db.url.render_as_string(hide_password=False)
        leadership = Leadership.for_runtime(url, chosen, scheduler)
    return Runtime(
        settings=settings,
        clock=clock,
        store=store,
        signal=signal,
        reporting=digests_reporting,
        engine=engine,
        worker=worker,
        scheduler=scheduler,
        digests=digests,
        adapters=by_platform,
        metrics=metrics,
        health=HealthServer.for_runtime(settings.http, metrics, store.db, list(by_platform)),
        leadership=leadership,
    )
