"""Shared test helpers: a fake clock, settings builders and a chat harness over the local adapter."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.local import LocalAdapter, LocalUser
from bot.config import Settings, settings_from_mapping
from bot.delivery import DeliveryWorker
from bot.engine import Engine
from bot.roles import PlatformRoles, RolePolicy
from storage.repository import Repository


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


@dataclass
class Chat:
    """A conversation harness: `await chat.say(alice, "/start")`, then look at what alice received."""

    repo: Repository
    settings: Settings
    clock: FakeClock
    adapter: LocalAdapter
    engine: Engine
    worker: DeliveryWorker
    users: dict[str, LocalUser] = field(default_factory=dict)

    @classmethod
    async def open(
        cls,
        repo: Repository,
        settings: Settings | None = None,
        clock: FakeClock | None = None,
        staff: tuple[str, ...] = (),
        managers: tuple[str, ...] = (),
    ) -> Chat:
        settings = settings or make_settings()
        clock = clock or FakeClock()
        adapter = LocalAdapter(now=clock.now)
        roles = RolePolicy.from_settings(settings).with_platform(
            "local", PlatformRoles(staff_ids=frozenset(staff), manager_ids=frozenset(managers))
        )
        engine = Engine(repo, settings, clock, roles=roles)
        engine.attach(adapter)
        worker = DeliveryWorker(repo, engine.adapters, settings, clock)
        await adapter.start(engine.on_message)
        return cls(repo, settings, clock, adapter, engine, worker)

    def user(self, name: str, user_id: str | None = None) -> LocalUser:
        user = LocalUser(user_id or str(1000 + len(self.users)), name)
        self.users[name] = user
        return user

    async def say(self, user: LocalUser, text: str) -> str:
        return await self.adapter.say(user, text)

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
