"""The protocol every platform adapter implements (Telegram, Discord, local)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

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
