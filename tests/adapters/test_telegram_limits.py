"""The send limiter keeps Telegram's limits on an injected clock: no test waits for real."""

from __future__ import annotations

import asyncio

from adapters.telegram_limits import SendLimiter
from tests.adapters.telegram_harness import FakeTime


def limiter(time: FakeTime) -> SendLimiter:
    return SendLimiter(clock=time, sleep=time.sleep)


def send_times(limits: SendLimiter, chats: list[str]) -> list[float]:
    return [limits.reserve(chat) - 1000.0 for chat in chats]


def test_one_message_per_second_in_a_private_chat() -> None:
    times = send_times(limiter(FakeTime()), ["42"] * 4)
    assert times == [0.0, 1.0, 2.0, 3.0]


def test_twenty_per_minute_in_a_group() -> None:
    times = send_times(limiter(FakeTime()), ["-100777"] * 22)
    assert times[:20] == [0.0] * 20 and times[20:] == [60.0, 60.0]


def test_twenty_five_per_second_overall() -> None:
    times = send_times(limiter(FakeTime()), [str(1000 + i) for i in range(60)])
    assert times[:25] == [0.0] * 25 and times[25:50] == [1.0] * 25 and times[50:] == [2.0] * 10
    assert max(sum(1 for t in times if s <= t < s + 1) for s in times) == 25


def test_hold_pauses_everything_and_voids_slots_booked_before_it() -> None:
    async def scenario() -> list[float]:
        time = FakeTime()
        limits = limiter(time)
        limits.reserve("42")  # a send just went out to chat 42
        waiting = asyncio.ensure_future(limits.acquire("42"))  # the next one waits 1s for its slot...
        await asyncio.sleep(0)
        limits.hold(5)  # ... when Telegram answers 429 retry_after=5
        waited = await waiting
        return [waited, await limits.acquire("43")]

    waited_42, waited_43 = asyncio.run(scenario())
    assert waited_42 >= 5.0 and waited_43 == 0.0


async def test_concurrent_senders_queue_for_the_private_chat_slot() -> None:
    """Real time, scaled down: one message per 50 ms in a chat; three senders at once go out in turn."""
    limits = SendLimiter(private_chat=(1, 0.05))
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def send() -> float:
        await limits.acquire("42")
        return loop.time() - start

    done = sorted(await asyncio.gather(send(), send(), send()))
    assert done[0] < 0.03 and 0.045 <= done[1] < 0.09 and 0.095 <= done[2] < 0.14
