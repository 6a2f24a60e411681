"""A wake-up call between parts of one process: "new deliveries are queued" wakes the worker."""

from __future__ import annotations

from collections.abc import Callable


class OutboxSignal:
    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def notify(self) -> None:
        for listener in self._listeners:
            listener()
