"""The protocol every platform adapter implements (Telegram, Discord, local)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.errors import PlatformGone
from bot.pacing import Pacer
from bot.types import Inbound, OpenQuestion, Outbound


@dataclass(frozen=True, slots=True)
class Handled:
    """What became of one inbound message. It is committed either way: the adapter may acknowledge.

    `replies`: how many replies were queued (an adapter holding a "thinking..." placeholder removes
    it when there are none).
    """

    replies: int = 0
    duplicate: bool = False
    dead_lettered: bool = False
    answered_runs: tuple[int, ...] = ()  # runs whose question this message answered (an adapter may
    # then take the question's "Answer" button away)


# Returns once what it received is committed; raises bot.errors.HandlingDeferred when nothing was
# (do not acknowledge: let the platform deliver it again, or retry after `retry_after`).
OnMessage = Callable[[Inbound], Awaitable[Handled]]


# platform -> the open questions there (bot.catchup.OpenQuestions).
OpenQuestionsOf = Callable[[str], Awaitable[list[OpenQuestion]]]


@runtime_checkable
class CatchesUp(Protocol):
    """An adapter whose platform does not replay what was sent while it was away (Discord's new
    gateway sessions): given where to read from, it reads the history and hands it to `on_message`."""

    def catch_up_with(self, open_questions: OpenQuestionsOf) -> None: ...


@runtime_checkable
class Adapter(Protocol):
    platform: str
    pacer: Pacer  # the platform's send pace; the delivery worker sizes its claims by it

    async def start(self, on_message: OnMessage) -> None:
        """Connect and begin delivering inbound messages; returns once connected."""

    async def send(self, message: Outbound) -> str:
        """Deliver one message within the pace; return the platform message id. Raises DeliveryError."""

    async def stop(self) -> None:
        """Disconnect. Idempotent."""


GoneCallback = Callable[[PlatformGone], None]


@runtime_checkable
class Watchable(Protocol):
    """An adapter whose own loops can meet a refusal for good while running (a token revoked while
    polling, a gateway closed with a fatal code). The runtime registers `on_gone` before `start`;
    the adapter calls it (once is enough) and the runtime then stops that platform, and only it."""

    def watch(self, on_gone: GoneCallback) -> None: ...


class ChatMemory(Protocol):
    """What an adapter remembers about chats across restarts (the runtime keeps it in the database)."""

    async def moves(self, platform: str) -> dict[str, str]:
        """Old chat id -> the id it moved to."""
        ...

    async def record_move(self, platform: str, old: str, new: str) -> None: ...

    async def menus(self, platform: str) -> dict[str, str]:
        """Chat id -> the command menu set for it."""
        ...

    async def record_menu(self, platform: str, chat_id: str, menu: str | None) -> None:
        """`menu` None: the chat has no menu of its own any more."""
        ...


@runtime_checkable
class Remembering(Protocol):
    """An adapter that keeps chat facts across restarts; the runtime hands it a `ChatMemory` before `start`."""

    def remember_with(self, memory: ChatMemory) -> None: ...
