"""Scale-out benchmarks: real `feedbot run` processes on PostgreSQL against the strict fake Bot API.

    python bench/scale_out.py p1 [--customers 10000] [--rate 25]      # at the cap: ratio to it, 429s
    python bench/scale_out.py p1 --uncapped [--customers 10000]       # send_rate 1000, the fake unlimited
    python bench/scale_out.py p4 [--customers 100000] [--seconds 120] # peak RSS of the process delivering
    python bench/scale_out.py p5 [--customers 5000] [--rate 25]       # 1 process vs 2: ratio, duplicates
    python bench/scale_out.py failover                                # kill -9 of the leader: takeover time

Customers are written straight into a fresh PostgreSQL database (`--admin` names the server, default
postgresql://postgres@127.0.0.1:5432/postgres; the database is dropped afterwards); the run is started
by a staff member's `/poll visit` through the fake, as in production. Rates are what the fake saw:
questions from the first arrival to the last. Prints figures and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo's packages

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import insert

from storage import tables as t
from storage.db import make_engine, upgrade
from tests.adapters.fake_telegram import FakeLimits, FakeTelegram, FakeUser
from tests.support import LineReader, feedbot_run, telegram_config

QUESTION = "What was your favourite part?"
STAFF = FakeUser(900, "Sam")
FIRST_CUSTOMER = 1_000_000
UNLIMITED = FakeLimits(per_second=10**9, private_gap=1.0, group_per_minute=20)


class Database:
    """A fresh PostgreSQL database for one measurement, dropped afterwards."""

    def __init__(self, admin: str) -> None:
        self.admin = admin
        self.name = f"feedbot_bench_{uuid.uuid4().hex[:10]}"
        self.url = f"{admin.rsplit('/', 1)[0]}/{self.name}".replace("postgresql://", "postgresql+asyncpg://")

    async def __aenter__(self) -> Database:
        conn = await asyncpg.connect(self.admin)
        await conn.execute(f'CREATE DATABASE "{self.name}"')
        await conn.close()
        engine = make_engine(self.url)
        await upgrade(engine)
        await engine.dispose()
        return self

    async def __aexit__(self, *exc: object) -> None:
        conn = await asyncpg.connect(self.admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        await conn.close()

    async def seed(self, fake: FakeTelegram, customers: int) -> list[int]:
        ids = list(range(FIRST_CUSTOMER, FIRST_CUSTOMER + customers))
        now = datetime.now(UTC)
        engine = make_engine(self.url)
        async with engine.begin() as conn:
            for start in range(0, customers, 5000):
                rows = [
                    {
                        "platform": "telegram",
                        "platform_user_id": str(i),
                        "chat_id": str(i),
                        "display_name": f"c{i}",
                        "language": "en",
                        "subscribed": True,
                        "reachable": True,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in ids[start : start + 5000]
                ]
                await conn.execute(insert(t.customer), rows)
        await engine.dispose()
        for i in ids:
            fake.add_group(i)  # the fake knows the chat: the customer has opened the bot
        return ids


def config_file(folder: Path, url: str, fake: FakeTelegram, rate: float) -> Path:
    return telegram_config(folder, url, fake.base_url, staff=STAFF.id, send_rate=rate, question=QUESTION)


def start(config: Path, fake: FakeTelegram) -> LineReader:
    profile = os.environ.get("BENCH_PROFILE")  # a cProfile dump of each process, to see where time goes
    python = (
        [sys.executable, "-m", "cProfile", "-o", f"{profile}.{uuid.uuid4().hex[:6]}"] if profile else [sys.executable]
    )
    return feedbot_run(config, fake.token, python)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) so far, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Questions:
    """The questions the fake took, counted as they arrive (chat -> arrival times)."""

    def __init__(self, fake: FakeTelegram, customers: list[int]) -> None:
        self.fake = fake
        self.customers = set(customers)
        self.seen = 0
        self.times: dict[int, list[float]] = {}

    def update(self) -> int:
        sends = self.fake.sends
        for at, chat, method in sends[self.seen :]:
            if method == "sendMessage" and chat in self.customers:
                self.times.setdefault(chat, []).append(at)
        self.seen = len(sends)
        return len(self.times)

    def rate(self) -> float:
        arrivals = sorted(at for times in self.times.values() for at in times)
        return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0

    def duplicates(self) -> int:
        return sum(len(times) - 1 for times in self.times.values())


async def wait(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def deliver(
    admin: str,
    customers: int,
    rate: float,
    limits: FakeLimits,
    processes: int,
    watch_rss: bool = False,
    stop_after: float | None = None,
) -> tuple[Questions, int, float, float]:
    """One run to `customers` by `processes` processes: (questions, 429s, wall seconds, peak RSS MB).

    `stop_after`: stop measuring after this many seconds of delivery, asked or not."""
    async with FakeTelegram(limits=limits) as fake, Database(admin) as db:
        fake.long_poll_cap = 0.5
        ids = await db.seed(fake, customers)
        with tempfile.TemporaryDirectory() as folder:
            config = config_file(Path(folder), db.url, fake, rate)
            bots = [start(config, fake) for _ in range(processes)]
            try:
                for bot in bots:
                    await asyncio.to_thread(bot.wait_for, "feedbot ready", 120)
                await wait(lambda: any("elected leader" in line for b in bots for line in list(b.lines)), 30, "leader")
                questions = Questions(fake, ids)
                started = time.monotonic()
                fake.send_text(STAFF, "/poll visit")
                if stop_after is None:
                    await wait(lambda: questions.update() >= customers, customers / min(rate, 50) + 600, "everyone")
                else:
                    await wait(lambda: questions.update() > 0, 600, "the first question")
                    await asyncio.sleep(stop_after)
                wall = time.monotonic() - started
                await asyncio.sleep(2)  # anything sent twice arrives meanwhile
                questions.update()
                rss = max(peak_rss_mb(b.process.pid) for b in bots) if watch_rss else 0.0
            finally:
                for bot in bots:
                    bot.process.send_signal(signal.SIGTERM)
                for bot in bots:
                    await asyncio.to_thread(bot.process.wait, 60)
        return questions, len(fake.too_many), wall, rss


async def p1(args: argparse.Namespace) -> None:
    rate, limits = (1000.0, UNLIMITED) if args.uncapped else (args.rate, FakeLimits(per_second=30))
    questions, refused, wall, _ = await deliver(args.admin, args.customers, rate, limits, 1)
    seen = questions.rate()
    print(f"P1 delivery, {args.customers} customers, send_rate {rate:g}/s, one process, PostgreSQL:")
    print(f"  {len(questions.times)} asked in {wall:.1f} s; rate seen by the fake {seen:.1f}/s")
    if args.uncapped:
        print(f"  ratio to the 2,000/s target: {seen / 2000:.3f}")
    else:
        print(f"  ratio to the configured cap: {seen / rate:.3f} (target at least 0.95)")
    print(f"  refused with 429: {refused}; sent twice: {questions.duplicates()}")


async def p4(args: argparse.Namespace) -> None:
    questions, refused, wall, rss = await deliver(
        args.admin, args.customers, 1000.0, UNLIMITED, 1, watch_rss=True, stop_after=args.seconds
    )
    print(f"P4 memory, a run to {args.customers} customers, send_rate 1000/s, PostgreSQL:")
    print(f"  {len(questions.times)} asked in {wall:.1f} s ({questions.rate():.1f}/s), then measured")
    print(f"  peak RSS of the feedbot process: {rss:.1f} MB (target at most 150; ratio {rss / 150:.2f})")


async def p5(args: argparse.Namespace) -> None:
    one, _, _, _ = await deliver(args.admin, args.customers, 1000.0, UNLIMITED, 1)
    two, _, _, _ = await deliver(args.admin, args.customers, 1000.0, UNLIMITED, 2)
    capped, refused, _, _ = await deliver(args.admin, args.customers // 4, args.rate, FakeLimits(per_second=30), 2)
    print(f"P5 scale-out, {args.customers} customers, uncapped fake, PostgreSQL:")
    print(f"  one process {one.rate():.1f}/s, two processes {two.rate():.1f}/s: ratio {two.rate() / one.rate():.2f}")
    print(f"  sent twice: one {one.duplicates()}, two {two.duplicates()}")
    print(
        f"  with the cap on ({args.rate:g}/s, two processes, {args.customers // 4} customers): "
        f"{capped.rate():.1f}/s together (ratio {capped.rate() / args.rate:.3f}), 429s {refused}, "
        f"sent twice {capped.duplicates()}"
    )


async def failover(args: argparse.Namespace) -> None:
    async with FakeTelegram(limits=FakeLimits(per_second=30)) as fake, Database(args.admin) as db:
        fake.long_poll_cap = 0.5
        with tempfile.TemporaryDirectory() as folder:
            config = config_file(Path(folder), db.url, fake, 25)
            bots = [start(config, fake) for _ in range(2)]
            try:
                for bot in bots:
                    await asyncio.to_thread(bot.wait_for, "feedbot ready", 120)
                leaders: list[LineReader] = []
                await wait(
                    lambda: (
                        bool(leaders.extend(b for b in bots if any("elected" in x for x in list(b.lines))))
                        or bool(leaders)
                    ),
                    30,
                    "a leader",
                )
                leader = leaders[0]
                follower = bots[1] if leader is bots[0] else bots[0]
                leader.process.send_signal(signal.SIGKILL)
                killed = time.monotonic()
                customer = FakeUser(FIRST_CUSTOMER, "late")
                fake.send_text(customer, "/start")  # arrives while nobody polls
                await asyncio.to_thread(follower.wait_for, "elected leader", 60)
                elected = time.monotonic() - killed
                await wait(lambda: bool(fake.messages(customer.id)), 60, "the update sent meanwhile")
                handled = time.monotonic() - killed
            finally:
                for bot in bots:
                    if bot.process.poll() is None:
                        bot.process.send_signal(signal.SIGTERM)
                for bot in bots:
                    await asyncio.to_thread(bot.process.wait, 60)
    print("failover: kill -9 of the leader (polling, scheduler) with two processes on PostgreSQL:")
    print(f"  the other process elected after {elected:.1f} s (target within 15 s; ratio {elected / 15:.2f})")
    print(f"  an update sent right after the kill answered after {handled:.1f} s; lost: 0")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=["p1", "p4", "p5", "failover"])
    parser.add_argument("--customers", type=int, help="customers to ask")
    parser.add_argument("--rate", type=float, default=25, help="[telegram] send_rate when capped (default 25)")
    parser.add_argument("--uncapped", action="store_true", help="p1: send_rate 1000 against an unlimited fake")
    parser.add_argument("--seconds", type=float, help="p4: measure after this many seconds of delivery")
    parser.add_argument("--admin", default="postgresql://postgres@127.0.0.1:5432/postgres", help="PostgreSQL server")
    args = parser.parse_args()
    defaults = {"p1": 10_000, "p4": 100_000, "p5": 5_000, "failover": 0}
    args.customers = args.customers or defaults[args.which]
    runs = {"p1": p1, "p4": p4, "p5": p5, "failover": failover}
    asyncio.run(runs[args.which](args))
