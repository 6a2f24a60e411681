"""Wiring for Telegram tests: the real PTB Bot against the fake Bot API server, a real runtime and SQLite."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.telegram.client import TelegramAdapter
from bot.adapter import Handled
from bot.commands import CommandRegistry
from bot.config import Settings
from bot.engine import Engine
from bot.errors import HandlingDeferred
from bot.pacing import LocalPacer, PaceRules
from bot.runtime.app import Runtime, build_runtime
from bot.runtime.chat_memory import StoredChatMemory
from bot.types import Inbound
from storage.store import Store
from tests.adapters.fake_telegram import BotMessage, FakeLimits, FakeTelegram, FakeUser
from tests.support import FakeClock, OnRuntime, make_settings

STAFF_ID, MANAGER_ID, TEAM_GROUP = 900, 901, -1001234
CHART = b"\x89PNG\r\n\x1a\n-fake-chart-"

# Telegram's limits with time scaled down 20x for the per-chat gap, so tests do not wait for real;
# the fake server enforces the same, so a send that breaks them still gets its 429.
TEST_LIMITS = FakeLimits(per_second=30, private_gap=0.05, group_per_minute=20)
TEST_RULES = PaceRules(per_second=25, private_gap=TEST_LIMITS.private_gap, group_per_minute=20)


class FailsFirstCommit:
    """An on_message whose first call finds the database gone (the engine defers), then hands on."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen: list[str] = []  # message ids, one per call

    async def __call__(self, inbound: Inbound) -> Handled:
        self.seen.append(inbound.message_id)
        if len(self.seen) == 1:
            raise HandlingDeferred("database connection lost", retry_after=0.05)
        return await self.engine.on_message(inbound)


class FakeTime:
    """Monotonic time for a pacer: sleeping advances it at once, and is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class FakeReporting:
    async def digest(
        self, period: str, now: object, current: bool = False, language: str | None = None
    ) -> tuple[str, bytes | None]:
        return f"Digest for the {period}: 3 answers, average 4.3", CHART

    async def goals(self, now: object, language: str | None = None) -> str:
        return "Goals: all met"


@dataclass
class TelegramWorld(OnRuntime):
    """One bot: fake Telegram <-> PTB <-> TelegramAdapter <-> runtime (engine, outbox) <-> SQLite."""

    fake: FakeTelegram
    runtime: Runtime
    clock: FakeClock
    adapter: TelegramAdapter
    adapter_options: dict[str, Any] = field(default_factory=dict)

    async def say(self, user: FakeUser, text: str) -> int:
        """The user writes; returns once the bot confirmed the update and sent its replies."""
        message_id = self.fake.send_text(user, text)
        await self.fake.wait_confirmed()
        await self.worker.drain()
        return message_id

    async def press(self, user: FakeUser, message: BotMessage, data: str) -> None:
        self.fake.press(user, message, data)
        await self.fake.wait_confirmed()
        await self.worker.drain()
        await self.adapter.settle()  # the used keyboard is removed off the acknowledgement path

    async def restart(self, on_message: Callable[[Inbound], Awaitable[Handled]] | None = None) -> None:
        """A new adapter, as after a process restart (the old one must be stopped or dead)."""
        self.adapter = make_adapter(self.fake, self.settings, **self.adapter_options)
        self.adapter.remember_with(StoredChatMemory(self.store, self.clock))
        self.runtime.adapters[self.adapter.platform] = self.adapter
        await self.adapter.start(on_message or self.engine.on_message)


def make_adapter(fake: FakeTelegram, settings: Settings, **options: Any) -> TelegramAdapter:
    assert settings.telegram is not None
    options = {"poll_timeout": 1, "retry_backoff": 0.05, "stop_grace": 1.0} | options
    pacer = options.pop("pacer", None) or LocalPacer(TEST_RULES)
    return TelegramAdapter(settings.telegram, fake.token, pacer=pacer, **options)


def telegram_settings(fake: FakeTelegram, **overrides: Any) -> Settings:
    section = {
        "base_url": fake.base_url,
        "staff": [str(STAFF_ID)],
        "managers": [str(MANAGER_ID)],
        "digest_chats": [str(TEAM_GROUP)],
    } | overrides
    return make_settings(telegram=section)


async def open_world(
    fake: FakeTelegram,
    store: Store,
    settings: Settings | None = None,
    registry: CommandRegistry | None = None,
    **adapter_options: Any,
) -> TelegramWorld:
    settings = settings or telegram_settings(fake)
    clock = FakeClock(datetime.now(UTC))  # Telegram dates messages with the real time
    adapter = make_adapter(fake, settings, **adapter_options)
    runtime = build_runtime(
        settings, adapters=[adapter], clock=clock, store=store, reporting=FakeReporting(), registry=registry
    )
    adapter.remember_with(StoredChatMemory(store, clock))
    await adapter.start(runtime.engine.on_message)
    return TelegramWorld(fake, runtime, clock, adapter, adapter_options)


@contextlib.asynccontextmanager
async def running_world(
    fake: FakeTelegram, store: Store, settings: Settings | None = None, **adapter_options: Any
) -> AsyncIterator[TelegramWorld]:
    world = await open_world(fake, store, settings, **adapter_options)
    try:
        yield world
    finally:
        await world.adapter.stop()


@contextlib.asynccontextmanager
async def team_world(store: Store) -> AsyncIterator[TelegramWorld]:
    """A bot whose team group is configured and known to the fake (staff and managers act there)."""
    async with FakeTelegram(limits=TEST_LIMITS) as fake:
        fake.add_group(TEAM_GROUP)
        world = await open_world(fake, store)
        try:
            yield world
        finally:
            await world.adapter.stop()


@pytest.fixture
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns on every RetryAfter unless it may hand out timedeltas (the adapter takes both).

    A module opts in with `pytestmark = pytest.mark.usefixtures("ptb_timedelta")` and imports it.
    """
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
