"""feedbot's exceptions.

    FeedbotError
    ├── ConfigError          bad configuration: names the key and the problem
    └── DeliveryError        an adapter could not deliver an Outbound
            permanent=True   never retry (user blocked the bot, DMs closed, chat gone)
            permanent=False  retry later (network, rate limit: `retry_after` seconds if known)

Adapters translate SDK exceptions into these at the edge; the engine never sees an SDK exception.
"""

from __future__ import annotations


class FeedbotError(Exception):
    """Base of every error feedbot raises on purpose."""


class ConfigError(FeedbotError):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


class DeliveryError(FeedbotError):
    def __init__(self, reason: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
