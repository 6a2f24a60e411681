"""Telegram groups that moved: a group upgraded to a supergroup gets a new id.

Telegram says so twice: a service message carrying `migrate_to_chat_id` (in the old group) or
`migrate_from_chat_id` (in the new one), and `ChatMigrated` on a send to the old id. The move is
remembered (bot.adapter.ChatMemory, kept in the database), so from then on sends go to the new id at
once, also after a restart; and the admin is told, once, to put the new id in the configuration.

Inside feedbot the chat keeps the id the configuration gives it: messages from the new id reach the
engine under the configured one (so it is still a team chat), and sends to it go to the new id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.adapter import ChatMemory

log = logging.getLogger("feedbot.telegram")

PLATFORM = "telegram"


class ChatMoves:
    def __init__(self, configured: Iterable[str]) -> None:
        self.configured = frozenset(configured)
        self.memory: ChatMemory | None = None
        self._moves: dict[str, str] = {}

    async def load(self) -> None:
        if self.memory is not None:
            self._moves = dict(await self.memory.moves(PLATFORM))

    def route(self, chat_id: str) -> str:
        """Where a message for `chat_id` goes now (following moves, however many)."""
        seen = {chat_id}
        while chat_id in self._moves and self._moves[chat_id] not in seen:
            chat_id = self._moves[chat_id]
            seen.add(chat_id)
        return chat_id

    def canonical(self, chat_id: str) -> str:
        """The configured id a chat is known by inside feedbot (itself if none moved to it)."""
        if chat_id in self.configured:
            return chat_id
        for old in self.configured:
            if old in self._moves and self.route(old) == chat_id:
                return old
        return chat_id

    async def moved(self, old: str, new: str) -> None:
        if old == new or self._moves.get(old) == new:
            return
        self._moves[old] = new
        known = self.canonical(new)
        log.warning(
            "telegram chat %s moved to %s (a group upgraded to a supergroup); sending to %s from now on. "
            "Update the configuration: put %s in place of %s in telegram.digest_chats",
            old,
            new,
            new,
            new,
            known if known != new else old,
        )
        if self.memory is not None:
            try:
                await self.memory.record_move(PLATFORM, old, new)
            except Exception as exc:  # remembered for this run; the next ChatMigrated teaches us again
                log.warning("telegram: could not store the move of chat %s: %s", old, exc)
