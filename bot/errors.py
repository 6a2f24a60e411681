"""feedbot's exceptions.

    FeedbotError
    ├── ConfigError            bad configuration: names the key and the problem
    ├── HandlingDeferred       an inbound message could not be handled now: do not acknowledge it,
    │                          let it come again (`retry_after` seconds is a good pause)
    └── DeliveryError          an adapter could not deliver an Outbound; by cause:
        ├── RecipientUnreachable   this person can't be reached (blocked the bot, DMs closed,
        │                          chat gone): never retry, mark the customer unreachable
        ├── TryLater               passing (network, 5xx, rate limit: `retry_after` if known):
        │                          retry with back-off, never counts against the customer
        ├── MessageRejected        the platform refused our own payload (a bug of ours): fail this
        │                          delivery, the customer stays reachable
        └── PlatformGone           the platform refuses us altogether (token revoked): stop sending
                                   on it until the operator acts

Adapters translate SDK exceptions into these at the edge; the engine never sees an SDK exception.
The storage layer's own classes (storage.errors) are translated by the engine.
"""

from __future__ import annotations


class FeedbotError(Exception):
    """Base of every error feedbot raises on purpose."""


class ConfigError(FeedbotError):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


class HandlingDeferred(FeedbotError):
    """Raised by `Engine.on_message`: nothing was committed; the adapter must not acknowledge."""

    def __init__(self, reason: str, *, retry_after: float = 1.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class DeliveryError(FeedbotError):
    """Base of the send failures. `permanent`: retrying the same message can never help."""

    permanent = False

    def __init__(self, reason: str, *, retry_after: float | None = None, parts_sent: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        # A message sent in parts: how many leading parts arrived before this failure (None: unknown or
        # a one-part message). The next attempt sends only the rest.
        self.parts_sent = parts_sent


class RecipientUnreachable(DeliveryError):
    permanent = True


class TryLater(DeliveryError):
    permanent = False


class MessageRejected(DeliveryError):
    permanent = True


class PlatformGone(DeliveryError):
    permanent = True
