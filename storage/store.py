"""The only place that opens database transactions.

`Store.unit()` is one write transaction: a `Unit` whose repositories (one per aggregate: customers,
runs, conversation, outbox, inbound, workers, chats, pace) all work on the same connection, so whatever the
caller does inside commits together or not at all. `Store.read()` is a read-only one. Failures
leave as `storage.errors` classes where the cause is known (see `classify`).

On SQLite a unit begins with BEGIN IMMEDIATE: it takes the write lock up front, so a transaction
that reads and then writes never fails to upgrade its lock ("database is locked") half-way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.chats import ChatRepo
from storage.conversation import ConversationRepo
from storage.customers import CustomerRepo
from storage.errors import classify
from storage.inbound import InboundRepo
from storage.outbox import OutboxRepo
from storage.pace import PaceRepo
from storage.runs import RunRepo
from storage.workers import WorkerRepo

READ_ONLY = "feedbot_read_only"  # execution option the SQLite begin hook reads (storage.db)


@asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    """Database failures leave as storage.errors classes where their cause is known."""
    try:
        yield
    except Exception as exc:
        translated = classify(exc)
        if translated is None or translated is exc:
            raise
        raise translated from exc


class Unit:
    """Repositories bound to one transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.customers = CustomerRepo(conn)
        self.runs = RunRepo(conn)
        self.conversation = ConversationRepo(conn)
        self.outbox = OutboxRepo(conn)
        self.inbound = InboundRepo(conn)
        self.workers = WorkerRepo(conn)
        self.chats = ChatRepo(conn)
        self.pace = PaceRepo(conn)  # PostgreSQL only: the send pace shared by every process


class Store:
    def __init__(self, db: AsyncEngine) -> None:
        self.db = db
        # SQLite has one writer at a time. Our own write transactions queue here instead of in
        # SQLite's busy handler, whose growing sleeps (up to 100 ms) would throttle a busy process.
        self._writer = asyncio.Lock() if db.dialect.name == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.db.dialect.name

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Unit]:
        """One write transaction; commits when the block ends, rolls back if it raises."""
        async with _translated(), self._serialised(), self.db.begin() as conn:
            yield Unit(conn)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Unit]:
        """A read-only transaction (no write lock on SQLite)."""
        async with _translated(), self.db.connect() as raw:
            conn = await raw.execution_options(**{READ_ONLY: True})
            async with conn.begin():
                yield Unit(conn)

    @asynccontextmanager
    async def _serialised(self) -> AsyncIterator[None]:
        if self._writer is None:
            yield
            return
        async with self._writer:
            yield

    async def dispose(self) -> None:
        await self.db.dispose()
