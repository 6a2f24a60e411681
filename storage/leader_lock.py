"""Leadership among the processes on one PostgreSQL database: a session advisory lock held on a
connection of its own.

PostgreSQL releases a session lock when its session ends: a leader killed with SIGKILL loses it as
soon as the kernel closes its socket, and a leader cut off from the network once the server's TCP
keepalives give up (set short on this session). The holder checks its connection regularly; a
failed check means leadership is lost, and it stops its leader-only work at once.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

LEADER_LOCK_KEY = 0x6665656462_6C6561  # "feedb" "lea": no other feedbot lock uses it
CHECK_TIMEOUT = 5.0  # seconds a check of the lock's connection may take before leadership counts as lost
_KEEPALIVES = (
    "SET tcp_keepalives_idle = 5",
    "SET tcp_keepalives_interval = 2",
    "SET tcp_keepalives_count = 3",
)


class LeaderLock:
    def __init__(self, url: str, key: int = LEADER_LOCK_KEY) -> None:
        self.url = url
        self.key = key
        self._engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None

    async def try_acquire(self) -> bool:
        """True when this process now holds the lock (it keeps a connection open for it)."""
        await self.release()
        self._engine = create_async_engine(self.url, poolclass=NullPool, hide_parameters=True)
        try:
            conn = await self._engine.connect()
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            for statement in _KEEPALIVES:
                await conn.execute(text(statement))
            got = bool((await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})).scalar())
        except BaseException:
            await self.release()
            raise
        if not got:
            await conn.close()
            await self.release()
            return False
        self._conn = conn
        return True

    async def held(self) -> bool:
        """Whether the lock's session is still there and still holds it (False: leadership lost)."""
        conn = self._conn
        if conn is None:
            return False
        try:  # the session holds the lock for as long as it lives
            async with asyncio.timeout(CHECK_TIMEOUT):  # not wait_for: it can swallow a cancellation (3.11)
                result = await conn.execute(text("SELECT 1"))
            return result.scalar() == 1
        except Exception:
            return False

    async def release(self) -> None:
        """Let go of the lock (closing its session releases it)."""
        conn, engine = self._conn, self._engine
        self._conn, self._engine = None, None
        if conn is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CHECK_TIMEOUT):
                    await conn.close()
        if engine is not None:
            with contextlib.suppress(Exception):
                await engine.dispose()
