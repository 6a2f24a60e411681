"""The composition root: reads the settings, builds the adapters (importing each platform lazily,
only when its section is configured), the engine, the delivery worker and the scheduler, and runs
them until told to stop. The only module in bot/ that knows platform names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from bot.adapter import Adapter
from bot.banner import ready_line
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.delivery import DeliveryWorker
from bot.digest import PERIODS, Digest, build_digest, goals_status_text
from bot.engine import Engine
from bot.errors import DeliveryError
from bot.health import HealthServer
from bot.metrics import Metrics
from bot.schedule import PollScheduler
from bot.staff import StaffCommands
from bot.types import ChatRef, Image, Outbound
from storage.db import make_engine, upgrade
from storage.reporting import Reports
from storage.repository import Repository

log = logging.getLogger("feedbot.app")

PRUNE_EVERY = timedelta(hours=6)
START_ATTEMPTS = 5
START_BACKOFF = 2.0  # seconds, doubled after each failed start


def build_adapters(settings: Settings, environ: Mapping[str, str] | None = None) -> list[Adapter]:
    env = os.environ if environ is None else environ
    adapters: list[Adapter] = []
    if settings.telegram is not None:
        from adapters.telegram import TelegramAdapter

        adapters.append(TelegramAdapter(settings.telegram, settings.token("telegram", env)))
    if settings.discord is not None:
        from adapters.discord import DiscordAdapter

        adapters.append(
            DiscordAdapter(settings.discord, settings.token("discord", env), poll_ids=[p.id for p in settings.polls])
        )
    return adapters


def digest_chats(settings: Settings) -> list[ChatRef]:
    chats: list[ChatRef] = []
    if settings.telegram is not None:
        chats += [ChatRef("telegram", chat_id) for chat_id in settings.telegram.digest_chats]
    if settings.discord is not None:
        chats += [ChatRef("discord", channel_id) for channel_id in settings.discord.digest_channels]
    return chats


class Reporting:
    """Digest and goal texts for chat commands, the scheduler and the CLI (wraps bot.digest)."""

    def __init__(self, repo: Repository, settings: Settings) -> None:
        self.reports = Reports(repo.engine)
        self.settings = settings

    async def build(self, period: str, now: datetime) -> Digest:
        if period not in PERIODS:
            raise ValueError(f"unknown digest period {period!r}")
        return await build_digest(self.reports, self.settings, period, now)  # type: ignore[arg-type]

    async def digest(self, period: str, now: datetime) -> tuple[str, bytes | None]:
        digest = await self.build(period, now)
        return digest.text, digest.chart_png

    async def goals(self, now: datetime) -> str:
        return await goals_status_text(self.reports, self.settings, now)


class Runtime:
    def __init__(self, settings: Settings, adapters: Sequence[Adapter], clock: Clock | None = None) -> None:
        self.settings = settings
        self.adapters = list(adapters)
        self.clock = clock or SystemClock()
        self.db = make_engine(settings.storage.url)
        self.repo = Repository(self.db)
        self.engine = Engine(self.repo, settings, self.clock)
        self.reporting = Reporting(self.repo, settings)
        self.engine.staff_commands = StaffCommands(
            self.engine, digest=self.reporting.digest, goals=self.reporting.goals
        )
        self.worker = DeliveryWorker(self.repo, self.engine.adapters, settings, self.clock)
        self.engine.on_outbox_change(self.worker.wake)
        self.scheduler = PollScheduler(self.engine, settings, on_digest=self.post_digest)
        for adapter in self.adapters:
            self.engine.attach(adapter)
        self.metrics = Metrics()  # one registry per runtime
        self.health = HealthServer.for_runtime(
            settings.http, self.metrics, self.db, [a.platform for a in self.adapters]
        )

    async def post_digest(self, now: datetime) -> None:
        """The scheduled digest, posted once per period to every configured digest chat."""
        period = self.settings.digest.period
        digest = await self.reporting.build(period, now)
        image = Image(filename=f"digest-{period}.png", data=digest.chart_png)
        for chat in digest_chats(self.settings):
            # Keyed by the period it covers: a restart or a second process never posts it twice.
            if not await self.repo.claim_digest_post(chat.platform, chat.chat_id, period, digest.start, now):
                continue
            if await self.engine.send_reply(Outbound(chat=chat, text=digest.text, image=image)) is None:
                await self.repo.release_digest_post(chat.platform, chat.chat_id, period, digest.start)
            else:
                log.info("digest posted platform=%s chat=%s period=%s", chat.platform, chat.chat_id, period)

    async def run(self, stop: asyncio.Event) -> None:
        tasks: list[asyncio.Task[None]] = []
        started: list[Adapter] = []
        try:
            await self.health.start()  # /healthz, /readyz, /metrics when [http] is configured
            await upgrade(self.db)
            await self.engine.resume_fan_out()
            for adapter in self.adapters:
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
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for adapter in reversed(started):
                try:
                    await adapter.stop()
                except Exception:
                    log.exception("adapter %s failed to stop cleanly", adapter.platform)
            await self.db.dispose()

    async def _start_adapter(self, adapter: Adapter) -> None:
        """Start one adapter; a platform that is unreachable for now is tried again with back-off."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                await adapter.start(self.metrics.counting(adapter.platform, self.engine.on_message))
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
