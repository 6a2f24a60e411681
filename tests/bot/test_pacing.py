"""The local pacer's waiting: sends that wait for the overall pace start in the order they asked,
and only the first of them watches the clock (no herd of waiters waking for every free token)."""

from __future__ import annotations

import asyncio

from bot.pacing import LocalPacer, PaceRules


async def test_waiting_sends_start_in_order_and_only_the_first_waits_on_the_clock() -> None:
    naps: list[float] = []

    async def counted_sleep(seconds: float) -> None:
        naps.append(seconds)
        await asyncio.sleep(seconds)

    pacer = LocalPacer(PaceRules(per_second=5), sleep=counted_sleep)
    started: list[int] = []

    async def send(n: int) -> None:
        async with pacer.slot(f"chat-{n}", private=True):
            started.append(n)

    await asyncio.gather(*(send(n) for n in range(15)))
    assert started == list(range(15))
    # 5 start at once; 5 a second later, 5 a second after that: two waits on the clock, give or
    # take one when tokens come back a moment apart. Every waiter napping for every token is 15.
    assert len(naps) <= 4, naps
