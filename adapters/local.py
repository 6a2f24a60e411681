"""An in-process adapter: no network, no tokens. Used by `feedbot demo` and by the engine tests.

It behaves like a platform: `send` returns a message id and can fail the way platforms do (a user
who blocked the bot gives a permanent DeliveryError), and simulated users talk through `say`,
`press`, `send_sticker` and `edit`, each awaiting the engine's callback like a real adapter does.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.adapter import OnMessage
from bot.errors import DeliveryError
from bot.types import ChatRef, Inbound, InboundKind, Outbound


@dataclass(frozen=True, slots=True)
class LocalUser:
    user_id: str
    name: str
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    chat_id: str
    speaker: str  # the user's name, or "bot"
    text: str


class LocalAdapter:
    platform = "local"

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self._on_message: OnMessage | None = None
        self._ids = itertools.count(1)
        self.outbox: list[Outbound] = []
        self.transcript: list[TranscriptLine] = []
        self.blocked: dict[str, str] = {}  # chat id -> reason a send fails permanently
        self.failing: dict[str, str] = {}  # chat id -> reason a send fails for now
        self.send_hook: Callable[[Outbound], None] | None = None
        self.unreachable_starts = 0  # how many start() calls fail as if the platform were down
        self.started = False

    # ------------------------------------------------------------------ adapter protocol
    async def start(self, on_message: OnMessage) -> None:
        if self.unreachable_starts > 0:
            self.unreachable_starts -= 1
            raise DeliveryError("local: platform unreachable", permanent=False)
        self._on_message = on_message
        self.started = True

    async def send(self, message: Outbound) -> str:
        if not self.started:
            raise DeliveryError("local adapter not started", permanent=False)
        chat_id = message.chat.chat_id
        if chat_id in self.blocked:
            raise DeliveryError(f"local: {self.blocked[chat_id]}", permanent=True)
        if chat_id in self.failing:
            raise DeliveryError(f"local: {self.failing[chat_id]}", permanent=False, retry_after=1)
        if self.send_hook is not None:
            self.send_hook(message)
        self.outbox.append(message)
        self.transcript.append(TranscriptLine(chat_id, "bot", message.with_numbered_choices()))
        return str(next(self._ids))

    async def stop(self) -> None:
        self.started = False

    # ------------------------------------------------------------------ simulated users
    def received(self, user: LocalUser) -> list[Outbound]:
        return [m for m in self.outbox if m.chat.chat_id == user.user_id]

    def last(self, user: LocalUser) -> Outbound:
        messages = self.received(user)
        if not messages:
            raise AssertionError(f"{user.name} received nothing")
        return messages[-1]

    async def _deliver(self, inbound: Inbound, shown: str) -> str:
        if self._on_message is None:
            raise RuntimeError("local adapter not started")
        self.transcript.append(TranscriptLine(inbound.chat.chat_id, inbound.sender_name, shown))
        await self._on_message(inbound)
        return inbound.message_id

    def _inbound(self, user: LocalUser, text: str = "", **kw: object) -> Inbound:
        fields: dict[str, object] = {
            "chat": ChatRef(self.platform, user.user_id, user.user_id),
            "sender_id": user.user_id,
            "sender_name": user.name,
            "text": text,
            "message_id": str(next(self._ids)),
            "received_at": self._now(),
            "sender_roles": user.roles,
        }
        fields.update(kw)
        return Inbound(**fields)  # type: ignore[arg-type]

    async def say(self, user: LocalUser, text: str, *, message_id: str | None = None) -> str:
        inbound = self._inbound(user, text)
        if message_id is not None:
            inbound = self._inbound(user, text, message_id=message_id)
        return await self._deliver(inbound, text)

    async def say_in_group(self, user: LocalUser, group_id: str, text: str) -> str:
        inbound = self._inbound(user, text, chat=ChatRef(self.platform, group_id), is_private=False)
        return await self._deliver(inbound, text)

    async def press(self, user: LocalUser, value: str) -> str:
        inbound = self._inbound(user, "", kind=InboundKind.CHOICE, choice=value)
        label = next((c.label for m in reversed(self.received(user)) for c in m.choices if c.value == value), value)
        return await self._deliver(inbound, f"[taps {label}]")

    async def answer_with(self, user: LocalUser, text: str, choice: str) -> str:
        """A text that names the run it answers (like Discord's modal submit)."""
        return await self._deliver(self._inbound(user, text, choice=choice), text)

    async def send_sticker(self, user: LocalUser) -> str:
        return await self._deliver(self._inbound(user, "", kind=InboundKind.MEDIA), "[sticker]")

    async def edit(self, user: LocalUser, message_id: str, text: str) -> str:
        inbound = self._inbound(user, text, kind=InboundKind.EDIT, message_id=message_id)
        return await self._deliver(inbound, f"[edited] {text}")

    async def block(self, user: LocalUser, reason: str = "bot was blocked by the user") -> None:
        self.blocked[user.user_id] = reason
        await self._deliver(self._inbound(user, "", kind=InboundKind.BLOCKED), "[blocked the bot]")

    async def unblock(self, user: LocalUser) -> None:
        self.blocked.pop(user.user_id, None)
        await self._deliver(self._inbound(user, "", kind=InboundKind.UNBLOCKED), "[unblocked the bot]")
