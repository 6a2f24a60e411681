"""Delivery workers and their heartbeats: how a claim's owner is known to be alive."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables as t

w = t.worker.c


class WorkerRepo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def register(self, worker_id: str, host: str, pid: int, now: datetime) -> None:
        stmt = t.upsert(
            self.conn,
            t.worker,
            ["id"],
            {"id": worker_id[:64], "host": host[:255], "pid": pid, "started_at": now, "heartbeat_at": now},
            ["heartbeat_at"],
        )
        await self.conn.execute(stmt)

    async def heartbeat(self, worker_id: str, now: datetime) -> bool:
        """False when the row is gone: another process declared this worker dead and took its claims."""
        result = await self.conn.execute(update(t.worker).where(w.id == worker_id).values(heartbeat_at=now))
        return bool(result.rowcount)

    async def remove(self, worker_id: str) -> None:
        await self.conn.execute(delete(t.worker).where(w.id == worker_id))

    async def remove_silent(self, silent_since: datetime) -> int:
        result = await self.conn.execute(delete(t.worker).where(w.heartbeat_at < silent_since))
        return int(result.rowcount or 0)

    async def live(self, since: datetime) -> list[str]:
        rows = await self.conn.execute(select(w.id).where(w.heartbeat_at >= since).order_by(w.id))
        return list(rows.scalars())
