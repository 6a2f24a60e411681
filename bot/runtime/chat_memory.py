"""`ChatMemory` (bot.adapter) kept in the database: one short transaction per call."""

from __future__ import annotations

from bot.runtime.clock import Clock
from storage.store import Store


class StoredChatMemory:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def moves(self, platform: str) -> dict[str, str]:
        async with self.store.read() as unit:
            return await unit.chats.moves(platform)

    async def record_move(self, platform: str, old: str, new: str) -> None:
        async with self.store.unit() as unit:
            await unit.chats.record_move(platform, old, new, self.clock.now())

    async def menus(self, platform: str) -> dict[str, str]:
        async with self.store.read() as unit:
            return await unit.chats.menus(platform)

    async def record_menu(self, platform: str, chat_id: str, menu: str | None) -> None:
        async with self.store.unit() as unit:
            await unit.chats.record_menu(platform, chat_id, menu, self.clock.now())
