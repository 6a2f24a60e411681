"""An in-process adapter: no network, no tokens. Used by `feedbot demo` and by the engine tests.

It behaves like a platform: `send` returns a message id and can fail the way platforms do (a user
who blocked the bot is unreachable, a flaky chat says "try later"), and simulated users talk through
`say`, `press`, `send_sticker` and `edit`, each awaiting the engine's callback like a real adapter.
When the engine defers a message (`HandlingDeferred`), the "platform" delivers it again after a
pause, as Telegram does with an unconfirmed update.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot.adapter import Handled, OnMessage
from bot.errors import DeliveryError, HandlingDeferred, PlatformGone, RecipientUnreachable, TryLater
from bot.pacing import LocalPacer, Pacer, PaceRules
from bot.types import ChatRef, Inbound, InboundKind, Outbound

REDELIVERIES = 20  # a "platform" that re-delivers forever would hang a test; real ones keep updates 24 h


@dataclass(frozen=True, slots=True)
class LocalUser:
    user_id: str
    name: str
    roles: frozenset[str] = frozenset()
    language: str | None = None  # the app's language, as Telegram's language_code or Discord's locale


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    chat_id: str
    speaker: str  # the user's name, or "bot"
    text: str


class LocalAdapter:
    platform = "local"

    def __init__(
        self,
        now: Callable[[], datetime] | None = None,
        *,
        redelivery_pause: float = 0.01,
        rules: PaceRules | None = None,
    ) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self.pacer: Pacer = LocalPacer(rules or PaceRules())
        self.redelivery_pause = redelivery_pause
        self._on_message: OnMessage | None = None
        self._ids = itertools.count(1)
        self.outbox: list[Outbound] = []
        self.transcript: list[TranscriptLine] = []
        self.blocked: dict[str, str] = {}  # chat id -> reason a send fails permanently
        self.failing: dict[str, str] = {}  # chat id -> reason a send fails for now
        self.next_failure: dict[str, DeliveryError] = {}  # chat id -> how the next send there fails, once
        self.send_hook: Callable[[Outbound], None] | None = None
        self.unreachable_starts = 0  # how many start() calls fail as if the platform were down
        self.start_hangs = False  # start() waits for ever, as a connect to a black hole does
        self.revoked: str | None = None  # the platform refuses us for good (a revoked token): why
        self.started = False
        self.deliveries: list[Inbound] = []  # every delivery attempt of an inbound message

    # ------------------------------------------------------------------ adapter protocol
    async def start(self, on_message: OnMessage) -> None:
        if self.revoked is not None:
            raise PlatformGone(f"local: {self.revoked}")
        if self.start_hangs:
            await asyncio.Event().wait()
        if self.unreachable_starts > 0:
            self.unreachable_starts -= 1
            raise TryLater("local: platform unreachable")
        self._on_message = on_message
        self.started = True

    async def send(self, message: Outbound) -> str:
        if not self.started:
            raise TryLater("local adapter not started")
        if self.revoked is not None:
            raise PlatformGone(f"local: {self.revoked}")
        chat_id = message.chat.chat_id
        async with self.pacer.slot(chat_id, private=message.chat.user_id is not None):
            if chat_id in self.next_failure:
                raise self.next_failure.pop(chat_id)
            if chat_id in self.blocked:
                raise RecipientUnreachable(f"local: {self.blocked[chat_id]}")
            if chat_id in self.failing:
                raise TryLater(f"local: {self.failing[chat_id]}", retry_after=1)
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

    async def deliver(self, inbound: Inbound, shown: str | None = None) -> Handled:
        """Hand one update to the engine, delivering it again while the engine defers it."""
        if self._on_message is None:
            raise RuntimeError("local adapter not started")
        if shown is not None:
            self.transcript.append(TranscriptLine(inbound.chat.chat_id, inbound.sender_name, shown))
        for _ in range(REDELIVERIES):
            self.deliveries.append(inbound)
            try:
                return await self._on_message(inbound)
            except HandlingDeferred as exc:
                await asyncio.sleep(self.redelivery_pause * max(exc.retry_after, 0.1))
        raise DeliveryError(f"local: update {inbound.message_id} still not handled after {REDELIVERIES} deliveries")

    def inbound(self, user: LocalUser, text: str = "", **fields: object) -> Inbound:
        message = Inbound(
            chat=ChatRef(self.platform, user.user_id, user.user_id),
            sender_id=user.user_id,
            sender_name=user.name,
            text=text,
            message_id=str(next(self._ids)),
            received_at=self._now(),
            sender_roles=user.roles,
            language=user.language,
        )
        return replace(message, **fields)  # type: ignore[arg-type]

    async def say(self, user: LocalUser, text: str, *, message_id: str | None = None) -> str:
        inbound = self.inbound(user, text)
        if message_id is not None:
            inbound = replace(inbound, message_id=message_id)
        await self.deliver(inbound, text)
        return inbound.message_id

    async def say_in_group(self, user: LocalUser, group_id: str, text: str) -> str:
        inbound = self.inbound(user, text, chat=ChatRef(self.platform, group_id), is_private=False)
        await self.deliver(inbound, text)
        return inbound.message_id

    async def press(self, user: LocalUser, value: str) -> str:
        inbound = self.inbound(user, "", kind=InboundKind.CHOICE, choice=value)
        label = next((c.label for m in reversed(self.received(user)) for c in m.choices if c.value == value), value)
        await self.deliver(inbound, f"[taps {label}]")
        return inbound.message_id

    async def answer_with(self, user: LocalUser, text: str, choice: str) -> str:
        """A text that names the run it answers (like Discord's modal submit)."""
        inbound = self.inbound(user, text, choice=choice)
        await self.deliver(inbound, text)
        return inbound.message_id

    async def send_sticker(self, user: LocalUser) -> str:
        inbound = self.inbound(user, "", kind=InboundKind.MEDIA)
        await self.deliver(inbound, "[sticker]")
        return inbound.message_id

    async def edit(self, user: LocalUser, message_id: str, text: str) -> str:
        edit = f"edit-{next(self._ids)}"
        inbound = self.inbound(user, text, kind=InboundKind.EDIT, message_id=message_id, update_ref=edit)
        await self.deliver(inbound, f"[edited] {text}")
        return message_id

    async def block(self, user: LocalUser, reason: str = "bot was blocked by the user") -> None:
        self.blocked[user.user_id] = reason
        await self.deliver(self.inbound(user, "", kind=InboundKind.BLOCKED), "[blocked the bot]")

    async def unblock(self, user: LocalUser) -> None:
        self.blocked.pop(user.user_id, None)
        await self.deliver(self.inbound(user, "", kind=InboundKind.UNBLOCKED), "[unblocked the bot]")
