"""Recording sends in batches: one transaction for every send that ended meanwhile.

Each send is recorded (status `sent`, fenced by its claim's token) before its lane sends that chat's
next message, as before; what changes is that sends ending while a batch is being written wait a
few milliseconds and go in the next batch together. At a trickle every send is its own batch (no
added delay); under load the transactions per send fall towards 1/`max_batch`, which is what lets
one process deliver far faster than one commit per send allows.

A database outage is waited out and the batch retried (the sends happened: they must be recorded);
any other failure is handed to every send of the batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.runtime.clock import Clock
from storage.errors import StorageUnavailable
from storage.outbox import Claim
from storage.store import Store, Unit

log = logging.getLogger("feedbot.delivery")

MAX_BATCH = 500
T = TypeVar("T")


class SentLedger:
    def __init__(self, store: Store, clock: Clock, *, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self.clock = clock
        self.max_batch = max_batch
        self._waiting: list[tuple[Claim, str, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0  # transactions written (for the benchmarks' figures)

    async def record(self, claim: Claim, message_id: str) -> bool:
        """Record that `claim` was sent as `message_id`; False when it had been settled meanwhile
        (the customer answered while it was on the wire, or the claim was released)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((claim, message_id, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="delivery-ledger")
        # A waiter cancelled meanwhile does not take its send out of the batch: it is still recorded.
        return await future

    async def close(self) -> None:
        """Wait for the batches in hand to be written (a clean stop)."""
        if self._writer is not None:
            await self._writer

    async def _write_all(self) -> None:
        while self._waiting:
            await asyncio.sleep(0)  # sends ending in this turn of the loop join the batch
            batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            try:
                recorded = await self._write(batch)
            except Exception as exc:
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for claim, _, future in batch:
                if not future.done():
                    future.set_result(claim.delivery_id in recorded)

    async def _write(self, batch: list[tuple[Claim, str, asyncio.Future[bool]]]) -> set[int]:
        sent = [(claim, message_id) for claim, message_id, _ in batch]
        recorded = await write_through_outages(
            self.store, lambda unit: unit.outbox.record_sent_many(sent, self.clock.now())
        )
        self.batches += 1
        return recorded


async def write_through_outages(store: Store, op: Callable[[Unit], Awaitable[T]]) -> T:
    """A write-back after a send, in a transaction of its own, retried through a database outage
    (the send happened: its record must not be lost)."""
    delay = 0.5
    while True:
        try:
            async with store.unit() as unit:
                return await op(unit)
        except StorageUnavailable as exc:
            log.warning("recording a delivery failed (retrying in %.1fs): %s", delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
