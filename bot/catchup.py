"""The open questions per platform, for adapters that read missed messages from the chat history."""

from __future__ import annotations

from bot.runtime.clock import Clock
from bot.types import ChatRef, OpenQuestion
from storage.store import Store


class OpenQuestions:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def __call__(self, platform: str) -> list[OpenQuestion]:
        async with self.store.read() as unit:
            rows = await unit.conversation.open_questions(platform, self.clock.now())
        return [OpenQuestion(ChatRef(platform, row.chat_id, row.user_id), row.message_id) for row in rows]
