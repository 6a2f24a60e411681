"""Inbound updates: the dedupe claim of each unit of work, and the dead letters of updates that kept failing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Table, and_, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables as t
from storage.models import DeadLetterStatus


@dataclass(frozen=True, slots=True)
class UpdateKey:
    """Identifies one platform update for good (a redelivery carries the same key)."""

    platform: str
    chat_id: str
    message_id: str
    kind: str

    def values(self) -> dict[str, str]:
        return {
            "platform": self.platform[:32],
            "chat_id": self.chat_id[:64],
            "message_id": self.message_id[:64],
            "kind": self.kind[:16],
        }


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    id: int
    platform: str
    chat_id: str
    message_id: str
    kind: str
    user_id: str
    inbound: str
    error: str
    attempts: int
    status: str
    first_failed_at: datetime
    last_failed_at: datetime

    @property
    def key(self) -> UpdateKey:
        return UpdateKey(self.platform, self.chat_id, self.message_id, self.kind)


def _matching(table: Table, key: UpdateKey) -> ColumnElement[bool]:
    return and_(*(table.c[name] == value for name, value in key.values().items()))


_CLAIM = t.prepared(
    lambda dialect: (
        (postgresql.insert if dialect == "postgresql" else sqlite.insert)(t.inbound_seen)
        .on_conflict_do_nothing()
        .returning(t.inbound_seen.c.id)
    )
)


class InboundRepo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    # ------------------------------------------------------------------ dedupe
    async def claim(self, key: UpdateKey, now: datetime) -> bool:
        """Claim the update for this transaction; False when it was handled already (stop there)."""
        result = await self.conn.execute(_CLAIM(self.conn), {**key.values(), "seen_at": now})
        return result.first() is not None

    async def seen(self, key: UpdateKey) -> bool:
        stmt = select(t.inbound_seen.c.id).where(_matching(t.inbound_seen, key))
        return (await self.conn.execute(stmt)).first() is not None

    async def unclaim(self, key: UpdateKey) -> None:
        """Let the update be handled again (a dead letter replayed by the operator)."""
        await self.conn.execute(delete(t.inbound_seen).where(_matching(t.inbound_seen, key)))

    async def prune(self, before: datetime) -> int:
        """Platforms re-deliver for about a day (Telegram keeps updates 24 h); older claims can go."""
        result = await self.conn.execute(delete(t.inbound_seen).where(t.inbound_seen.c.seen_at < before))
        return int(result.rowcount or 0)

    async def forget_chat(self, platform: str, chat_id: str) -> None:
        """Erasure: the claims and dead letters of one private chat (they identify its messages)."""
        for table in (t.inbound_seen, t.dead_letter):
            await self.conn.execute(delete(table).where(table.c.platform == platform, table.c.chat_id == chat_id))

    # ------------------------------------------------------------------ dead letters
    async def record_failure(
        self, key: UpdateKey, *, user_id: str, inbound: str, error: str, now: datetime, dead_after: int
    ) -> DeadLetterRecord:
        """Count one more failed attempt; at `dead_after` attempts the update is set aside (status dead)."""
        existing = await self.dead_letter_for(key)
        if existing is None:
            await self.conn.execute(
                t.insert_ignoring_conflicts(self.conn, t.dead_letter).values(
                    **key.values(),
                    user_id=user_id[:64],
                    inbound=inbound,
                    error=error[:2000],
                    attempts=1,
                    status=DeadLetterStatus.DEAD if dead_after <= 1 else DeadLetterStatus.RETRYING,
                    first_failed_at=now,
                    last_failed_at=now,
                )
            )
        else:
            attempts = existing.attempts + 1
            status = DeadLetterStatus.DEAD if attempts >= dead_after else DeadLetterStatus.RETRYING
            await self.conn.execute(
                update(t.dead_letter)
                .where(t.dead_letter.c.id == existing.id)
                .values(attempts=attempts, status=status, error=error[:2000], last_failed_at=now, inbound=inbound)
            )
        record = await self.dead_letter_for(key)
        assert record is not None
        return record

    async def dead_letter_for(self, key: UpdateKey) -> DeadLetterRecord | None:
        row = (await self.conn.execute(select(t.dead_letter).where(_matching(t.dead_letter, key)))).first()
        return None if row is None else DeadLetterRecord(**row._mapping)

    async def clear_failures(self, key: UpdateKey) -> None:
        """The update went through after failing before: its retry counter goes."""
        await self.conn.execute(
            delete(t.dead_letter).where(
                _matching(t.dead_letter, key),
                t.dead_letter.c.status == DeadLetterStatus.RETRYING,
            )
        )

    async def dead_letters(self, limit: int = 100) -> list[DeadLetterRecord]:
        stmt = (
            select(t.dead_letter)
            .where(t.dead_letter.c.status == DeadLetterStatus.DEAD)
            .order_by(t.dead_letter.c.id)
            .limit(limit)
        )
        return [DeadLetterRecord(**row._mapping) for row in await self.conn.execute(stmt)]

    async def dead_letter(self, letter_id: int) -> DeadLetterRecord | None:
        row = (await self.conn.execute(select(t.dead_letter).where(t.dead_letter.c.id == letter_id))).first()
        return None if row is None else DeadLetterRecord(**row._mapping)

    async def mark_replayed(self, letter_id: int) -> None:
        await self.conn.execute(
            update(t.dead_letter).where(t.dead_letter.c.id == letter_id).values(status=DeadLetterStatus.REPLAYED)
        )

    async def count_dead(self) -> int:
        stmt = select(func.count()).select_from(t.dead_letter).where(t.dead_letter.c.status == DeadLetterStatus.DEAD)
        return int((await self.conn.execute(stmt)).scalar_one())
