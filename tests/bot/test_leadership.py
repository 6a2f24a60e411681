"""Leader election on PostgreSQL: one leader at a time, and a leader whose lock connection is cut
steps down while another takes over (lost connection = lost leadership)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable

from sqlalchemy import text

from bot.runtime.leadership import Leadership
from storage.db import make_engine
from storage.leader_lock import LeaderLock


class Recorder:
    """A leader duty that notes when it is taken up and laid down."""

    def __init__(self, who: str, log: list[tuple[str, str]]) -> None:
        self.name = f"duty of {who}"
        self.who = who
        self.log = log

    async def lead(self) -> None:
        self.log.append((self.who, "lead"))

    async def step_down(self) -> None:
        self.log.append((self.who, "step down"))


async def until(condition: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_one_leader_and_a_cut_lock_connection_hands_leadership_over(pg_url: str) -> None:
    key = random.randrange(1, 2**62)  # this test's own lock
    log: list[tuple[str, str]] = []
    a = Leadership(LeaderLock(pg_url, key), [Recorder("a", log)], retry_every=0.05, check_every=0.05)
    b = Leadership(LeaderLock(pg_url, key), [Recorder("b", log)], retry_every=0.05, check_every=0.05)
    both: list[bool] = []

    async def watch() -> None:
        while True:
            both.append(a.leading and b.leading)
            await asyncio.sleep(0.01)

    tasks = [asyncio.create_task(a.run_forever()), asyncio.create_task(watch())]
    engine = make_engine(pg_url)
    try:
        await until(lambda: a.leading)
        tasks.append(asyncio.create_task(b.run_forever()))
        await until(lambda: len(both) > 50)  # b has tried the lock many times meanwhile
        assert a.leading and not b.leading and log == [("a", "lead")]
        assert not any(both), "two leaders at once"
        # The server ends a's lock session (as when the network between them fails).
        async with engine.begin() as conn:
            ended = await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                    "AND classid::bigint = :high AND objid::bigint = :low"
                ),
                {"high": key >> 32, "low": key & 0xFFFFFFFF},
            )
            assert ended.scalars().all() == [True]
        # a notices at its next check and steps down; b takes the freed lock at its next try.
        await until(lambda: b.leading and ("a", "step down") in log)
        assert not a.leading and ("b", "lead") in log
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await engine.dispose()
