"""Fixtures: real databases (SQLite files and the local PostgreSQL server), never mocks of our code."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text

from storage.db import make_engine, upgrade
from storage.store import Store
from tests.support import Chat, FakeClock

PG_ADMIN_DSN = os.environ.get("FEEDBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
TABLES = (
    "analysis_change",
    "run_theme_quote",
    "run_theme_tally",
    "run_analysis",
    "answer_term",
    "answer_theme",
    "answer_analysis",
    "answer_followup",
    "staff_alert",
    "answer",
    "delivery",
    "customer_tag",
    "inbound_seen",
    "dead_letter",
    "worker",
    "digest_post",
    "poll_run",
    "customer",
)


@pytest.fixture(autouse=True)
def _no_internet(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests may talk to 127.0.0.1 only (fake platforms, PostgreSQL); `live` tests are the exception."""
    if request.node.get_closest_marker("live") is not None:
        return
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        if isinstance(address, tuple) and address and isinstance(address[0], str):
            host = address[0]
            if host not in {"127.0.0.1", "::1", "localhost"} and not host.startswith("127."):
                raise RuntimeError(f"test tried to reach {host}: no network access in tests")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


async def _admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated, dropped at the end.

    Fails (never skips) when the server cannot be reached: CI must prove PostgreSQL works.
    """
    name = f"feedbot_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - environment problem
        pytest.fail(f"PostgreSQL at {PG_ADMIN_DSN} is not reachable: {exc}")
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"

    async def migrate() -> None:
        engine = make_engine(url)
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def fresh_pg_url() -> AsyncIterator[str]:
    """An empty PostgreSQL database of its own (no tables), dropped afterwards."""
    name = f"feedbot_fresh_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def sqlite_store(tmp_path: object) -> AsyncIterator[Store]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/feedbot.db")
    await upgrade(engine)
    yield Store(engine)
    await engine.dispose()


async def _pg_store(url: str) -> Store:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    return Store(engine)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: object, pg_url: str) -> AsyncIterator[Store]:
    """The same test against every storage backend (Bot Framework's storage-contract idea)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/feedbot.db")
        await upgrade(engine)
        result = Store(engine)
    else:
        result = await _pg_store(pg_url)
    yield result
    await result.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def chat(sqlite_store: Store, clock: FakeClock) -> Chat:
    return await Chat.open(sqlite_store, clock=clock, staff=("900",), managers=("901",))
