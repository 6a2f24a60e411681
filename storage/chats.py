"""What adapters remember about chats across restarts (table `platform_chat`): a chat's new id after
it moved (a Telegram group upgraded to a supergroup), and the command menu set for a chat."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables as t

c = t.platform_chat.c


class ChatRepo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def moves(self, platform: str) -> dict[str, str]:
        """Old chat id -> the id it moved to."""
        rows = await self.conn.execute(
            select(c.chat_id, c.moved_to).where(c.platform == platform, c.moved_to.is_not(None))
        )
        return {row.chat_id: row.moved_to for row in rows}

    async def menus(self, platform: str) -> dict[str, str]:
        """Chat id -> the menu set for it (as the adapter wrote it)."""
        rows = await self.conn.execute(select(c.chat_id, c.menu).where(c.platform == platform, c.menu.is_not(None)))
        return {row.chat_id: row.menu for row in rows}

    async def record_move(self, platform: str, old: str, new: str, now: datetime) -> None:
        await self._upsert(platform, old, now, moved_to=new[:64])

    async def record_menu(self, platform: str, chat_id: str, menu: str | None, now: datetime) -> None:
        await self._upsert(platform, chat_id, now, menu=menu[:512] if menu is not None else None)
        await self.conn.execute(
            delete(t.platform_chat).where(
                c.platform == platform, c.chat_id == chat_id, c.menu.is_(None), c.moved_to.is_(None)
            )
        )

    async def _upsert(self, platform: str, chat_id: str, now: datetime, **values: str | None) -> None:
        key = {"platform": platform[:32], "chat_id": chat_id[:64]}
        await self.conn.execute(t.insert_ignoring_conflicts(self.conn, t.platform_chat).values(**key, updated_at=now))
        await self.conn.execute(
            update(t.platform_chat)
            .where(c.platform == key["platform"], c.chat_id == key["chat_id"])
            .values(**values, updated_at=now)
        )
