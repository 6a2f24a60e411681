"""Shared test helpers: a fake clock, settings builders, a chat harness over the local adapter, and
one-line readers of what the real database holds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from adapters.local import LocalAdapter, LocalUser
from bot.commands import CommandRegistry, Reporting
from bot.config import Settings, settings_from_mapping
from bot.engine import Engine
from bot.platforms import role_policy
from bot.roles import PlatformRoles
from bot.runtime.app import Runtime, build_runtime
from bot.runtime.delivery import DeliveryWorker
from bot.types import ChatRef
from storage.customers import CustomerRecord
from storage.runs import RunCounts, RunRecord
from storage.store import Store

T = TypeVar("T")


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self.current += delta if delta is not None else timedelta(**kwargs)
        return self.current

    def set(self, when: datetime) -> None:
        self.current = when


DEFAULT_POLL: dict[str, Any] = {
    "id": "visit",
    "question": "What was your favourite part?",
    "rating": True,
    "close_after": "3d",
}


def make_settings(data: Mapping[str, Any] | None = None, **sections: Any) -> Settings:
    raw: dict[str, Any] = {"polls": [DEFAULT_POLL]}
    raw.update(data or {})
    raw.update(sections)
    return settings_from_mapping(raw)


# ---------------------------------------------------------------------------------------- reading
async def find_customer(store: Store, platform: str, user_id: str) -> CustomerRecord | None:
    async with store.read() as unit:
        return await unit.customers.find(platform, user_id)


async def customer_tags(store: Store, customer_id: int) -> list[str]:
    async with store.read() as unit:
        return await unit.customers.tags(customer_id)


async def run_counts(store: Store, run_id: int) -> RunCounts:
    async with store.read() as unit:
        return await unit.runs.counts(run_id)


async def get_run(store: Store, run_id: int) -> RunRecord | None:
    async with store.read() as unit:
        return await unit.runs.get(run_id)


async def latest_run(store: Store) -> RunRecord | None:
    async with store.read() as unit:
        return await unit.runs.latest()


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    user: str
    answer: str
    rating: int | None
    late: bool
    answered_at: datetime


async def stored_answers(store: Store) -> list[StoredAnswer]:
    """Every answer in the database, in id order."""
    rows: list[StoredAnswer] = []
    async with store.read() as unit:
        after = 0
        while batch := await unit.conversation.answers_after(after):
            rows += [StoredAnswer(a.user_id, a.text, a.rating, a.late, a.answered_at) for a in batch]
            after = batch[-1].id
    return rows


# ---------------------------------------------------------------------------------------- chat harness
class OnRuntime:
    """A test world around one runtime, with its parts at hand."""

    runtime: Runtime

    @property
    def store(self) -> Store:
        return self.runtime.store

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def engine(self) -> Engine:
        return self.runtime.engine

    @property
    def worker(self) -> DeliveryWorker:
        return self.runtime.worker


@dataclass
class Chat(OnRuntime):
    """A conversation harness: `await chat.say(alice, "/start")`, then look at what alice received.

    Every action is delivered like a platform update and then the outbox is drained, as the
    running delivery worker would do at once.
    """

    runtime: Runtime
    adapter: LocalAdapter
    clock: FakeClock
    users: dict[str, LocalUser] = field(default_factory=dict)

    @classmethod
    async def open(
        cls,
        store: Store,
        settings: Settings | None = None,
        clock: FakeClock | None = None,
        staff: tuple[str, ...] = (),
        managers: tuple[str, ...] = (),
        registry: CommandRegistry | None = None,
        adapter: LocalAdapter | None = None,
        reporting: Reporting | None = None,
        team_chats: tuple[str, ...] = (),
        alert_chats: Sequence[ChatRef] | None = None,
    ) -> Chat:
        settings = settings or make_settings()
        clock = clock or FakeClock()
        adapter = adapter or LocalAdapter(now=clock.now)
        roles = role_policy(settings).with_platform(
            "local", PlatformRoles(staff_ids=frozenset(staff), manager_ids=frozenset(managers))
        )
        runtime = build_runtime(
            settings,
            adapters=[adapter],
            clock=clock,
            store=store,
            roles=roles,
            registry=registry,
            reporting=reporting,
            team_chats=[ChatRef(adapter.platform, chat_id) for chat_id in team_chats] or None,
            alert_chats=alert_chats,
        )
        await adapter.start(runtime.engine.on_message)
        return cls(runtime, adapter, clock)

    def user(self, name: str, user_id: str | None = None, language: str | None = None) -> LocalUser:
        user = LocalUser(user_id or str(1000 + len(self.users)), name, language=language)
        self.users[name] = user
        return user

    async def _then_drain(self, action: Awaitable[T]) -> T:
        """A customer acts; then the replies go out, as the running delivery worker would send them."""
        result = await action
        await self.worker.drain()
        return result

    async def say(self, user: LocalUser, text: str, *, message_id: str | None = None) -> str:
        return await self._then_drain(self.adapter.say(user, text, message_id=message_id))

    async def say_in_group(self, user: LocalUser, group_id: str, text: str) -> str:
        return await self._then_drain(self.adapter.say_in_group(user, group_id, text))

    async def press(self, user: LocalUser, value: str) -> str:
        return await self._then_drain(self.adapter.press(user, value))

    async def answer_with(self, user: LocalUser, text: str, choice: str) -> str:
        return await self._then_drain(self.adapter.answer_with(user, text, choice))

    async def send_sticker(self, user: LocalUser) -> str:
        return await self._then_drain(self.adapter.send_sticker(user))

    async def edit(self, user: LocalUser, message_id: str, text: str) -> str:
        return await self._then_drain(self.adapter.edit(user, message_id, text))

    async def block(self, user: LocalUser) -> None:
        await self._then_drain(self.adapter.block(user))

    async def unblock(self, user: LocalUser) -> None:
        await self._then_drain(self.adapter.unblock(user))

    def texts(self, user: LocalUser) -> list[str]:
        return [m.text for m in self.adapter.received(user)]

    def last_text(self, user: LocalUser) -> str:
        return self.adapter.last(user).text

    async def run_poll(self, poll_id: str = "visit", tag: str | None = None) -> int:
        started = await self.engine.start_run(poll_id, triggered_by="test", tag=tag)
        assert started is not None
        await self.worker.drain()
        return started.run_id


class LineReader:
    """A real process whose standard error is read line by line in a thread, so a test can wait for a
    line with a time limit (a blocking readline would hang the suite on a silent process)."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None) -> None:
        root = Path(__file__).resolve().parents[1]
        self.process = subprocess.Popen(
            list(argv), cwd=cwd or root, env=dict(env) if env is not None else None, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def text(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, needle: str, timeout: float = 60.0, nth: int = 1) -> str:
        """The `nth` line containing `needle`; fails with everything read so far after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [line for line in self.lines if needle in line]
                if len(found) >= nth:
                    return found[nth - 1]
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no line with {needle!r} in:\n" + "\n".join(self.lines))
                self._changed.wait(min(left, 0.5))

    def __enter__(self) -> LineReader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self._reader.join(timeout=10)


# ---------------------------------------------------------------------------------- real processes
def telegram_config(
    folder: Path, url: str, base_url: str, *, staff: int, send_rate: float, question: str, rating: bool = False
) -> Path:
    """A config.toml for a real `feedbot run` against a fake Bot API: one poll, one staff member."""
    config = folder / "config.toml"
    config.write_text(
        f'[storage]\nurl = "{url}"\n'
        f'[[polls]]\nid = "visit"\nquestion = "{question}"\n'
        + ("rating = true\n" if rating else "")
        + f'[telegram]\nbase_url = "{base_url}"\nstaff = [{staff}]\nsend_rate = {send_rate:g}\n'
    )
    return config


def feedbot_run(config: Path, token: str, python: Sequence[str] = (sys.executable,)) -> LineReader:
    """`feedbot run` in a child process, its log lines read as they come."""
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": token}
    return LineReader([*python, "-m", "bot.runtime.cli", "run", "--config", str(config)], env=env)


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports on 127.0.0.1: every probe stays bound until all are chosen, so the
    kernel cannot hand the same port out twice (two listeners on one port made a test fail once)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def free_port() -> int:
    return free_ports(1)[0]
