"""The protocol every platform adapter implements (Telegram, Discord, local)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from bot.types import Inbound, Outbound

OnMessage = Callable[[Inbound], Awaitable[None]]


@runtime_checkable
class Adapter(Protocol):
    platform: str

    async def start(self, on_message: OnMessage) -> None:
        """Connect and begin delivering inbound messages; returns once connected.

        `on_message` returns only after what it received is committed, so the adapter may then
        acknowledge the update to the platform.
        """

    async def send(self, message: Outbound) -> str:
        """Deliver one message; return the platform message id. Raises DeliveryError."""

    async def stop(self) -> None:
        """Disconnect. Idempotent."""
