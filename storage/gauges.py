"""Read-only numbers for the metrics endpoint, each one cheap query (indexed, no locks taken)."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from storage.models import Delivery

WAITING = ("pending", "sending")


async def ping(engine: AsyncEngine) -> None:
    """Raises when the database cannot be reached."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def outbox_depth(engine: AsyncEngine) -> int:
    """Deliveries waiting to be sent or being sent now."""
    async with engine.connect() as conn:
        query = select(func.count()).select_from(Delivery).where(col(Delivery.status).in_(WAITING))
        count = (await conn.execute(query)).scalar_one()
    return int(count)
