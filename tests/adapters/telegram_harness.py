"""Wiring for Telegram tests: the real PTB Bot against the fake Bot API server, a real engine and SQLite."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adapters.telegram import TelegramAdapter
from adapters.telegram_limits import SendLimiter
from bot.config import Settings
from bot.delivery import DeliveryWorker
from bot.engine import Engine
from bot.staff import StaffCommands
from bot.types import Inbound
from storage.repository import Repository
from tests.adapters.fake_telegram import BotMessage, FakeTelegram, FakeUser
from tests.support import FakeClock, make_settings

STAFF_ID, MANAGER_ID, TEAM_GROUP = 900, 901, -1001234
CHART = b"\x89PNG\r\n\x1a\n-fake-chart-"


class FailsFirstCommit:
    """An on_message that fails on its first call (the database went away), then hands on to the engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen: list[str] = []  # message ids, one per call

    async def __call__(self, inbound: Inbound) -> None:
        self.seen.append(inbound.message_id)
        if len(self.seen) == 1:
            raise ConnectionError("database connection lost")
        await self.engine.on_message(inbound)


class FakeTime:
    """Monotonic time for the send limiter: sleeping advances it at once, and is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def fake_digest(period: str, now: datetime, current: bool = False) -> tuple[str, bytes | None]:
    return f"Digest for the {period}: 3 answers, average 4.3", CHART


@dataclass
class TelegramWorld:
    """One bot: fake Telegram <-> PTB <-> TelegramAdapter <-> Engine <-> SQLite."""

    fake: FakeTelegram
    settings: Settings
    repo: Repository
    clock: FakeClock
    time: FakeTime
    engine: Engine
    worker: DeliveryWorker
    adapter: TelegramAdapter
    adapter_options: dict[str, Any] = field(default_factory=dict)

    async def say(self, user: FakeUser, text: str) -> int:
        """The user writes; returns once the bot confirmed the update (so it is committed)."""
        message_id = self.fake.send_text(user, text)
        await self.fake.wait_confirmed()
        return message_id

    async def press(self, user: FakeUser, message: BotMessage, data: str) -> None:
        self.fake.press(user, message, data)
        await self.fake.wait_confirmed()

    async def restart(self, on_message: Callable[[Any], Awaitable[None]] | None = None) -> None:
        """A new adapter, as after a process restart (the old one must be stopped or dead)."""
        self.adapter = make_adapter(self.fake, self.settings, self.time, **self.adapter_options)
        self.engine.attach(self.adapter)
        await self.adapter.start(on_message or self.engine.on_message)


def make_adapter(fake: FakeTelegram, settings: Settings, time: FakeTime, **options: Any) -> TelegramAdapter:
    assert settings.telegram is not None
    options = {"poll_timeout": 1, "retry_backoff": 0.05, "stop_grace": 1.0} | options
    limiter = options.pop("limiter", None) or SendLimiter(clock=time, sleep=time.sleep)
    return TelegramAdapter(settings.telegram, fake.token, limiter=limiter, **options)


def telegram_settings(fake: FakeTelegram, **overrides: Any) -> Settings:
    section = {
        "base_url": fake.base_url,
        "staff": [str(STAFF_ID)],
        "managers": [str(MANAGER_ID)],
        "digest_chats": [str(TEAM_GROUP)],
    } | overrides
    return make_settings(telegram=section)


async def open_world(
    fake: FakeTelegram, repo: Repository, settings: Settings | None = None, **adapter_options: Any
) -> TelegramWorld:
    settings = settings or telegram_settings(fake)
    clock, time = FakeClock(), FakeTime()
    engine = Engine(repo, settings, clock)
    engine.staff_commands = StaffCommands(engine, digest=fake_digest)
    worker = DeliveryWorker(repo, engine.adapters, settings, clock)
    adapter = make_adapter(fake, settings, time, **adapter_options)
    engine.attach(adapter)
    await adapter.start(engine.on_message)
    return TelegramWorld(fake, settings, repo, clock, time, engine, worker, adapter, adapter_options)


@contextlib.asynccontextmanager
async def running_world(
    fake: FakeTelegram, repo: Repository, settings: Settings | None = None, **adapter_options: Any
) -> AsyncIterator[TelegramWorld]:
    world = await open_world(fake, repo, settings, **adapter_options)
    try:
        yield world
    finally:
        await world.adapter.stop()
