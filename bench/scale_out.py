"""Scale-out benchmarks: real `feedbot run` processes on PostgreSQL against the strict fake Bot API.

    python bench/scale_out.py p1 [--customers 10000] [--rate 25]      # at the cap: ratio to it, 429s
    python bench/scale_out.py p1 --uncapped [--customers 10000]       # send_rate 1000, the fake unlimited
    python bench/scale_out.py p1 --engine-only [--customers 10000]    # the engine alone: no HTTP, no pace
    python bench/scale_out.py p4 [--customers 100000] [--seconds 120] # peak RSS of the process delivering
    python bench/scale_out.py p5 [--customers 5000] [--rate 25]       # 1 process vs 2: ratio, duplicates
    python bench/scale_out.py failover                                # kill -9 of the leader: takeover time

Customers are written straight into a fresh PostgreSQL database (`--admin` names the server, default
postgresql://postgres@127.0.0.1:5432/postgres; the database is dropped afterwards); the run is started
by a staff member's `/poll visit` through the fake, as in production. Rates are what the fake saw:
questions from the first arrival to the last. Prints figures and ratios; asserts nothing.

To look inside the feedbot processes: BENCH_PROFILE=/tmp/prof writes a cProfile dump of each;
BENCH_WRAP="heaptrack -o /tmp/ht" runs each under that command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shlex
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo's packages

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import insert

from adapters.local import LocalAdapter
from bot.config import settings_from_mapping
from bot.runtime.app import build_runtime
from storage import tables as t
from storage.db import make_engine, upgrade
from storage.store import Store
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

    async def seed(self, customers: int, platform: str = "telegram") -> list[int]:
        ids = list(range(FIRST_CUSTOMER, FIRST_CUSTOMER + customers))
        now = datetime.now(UTC)
        engine = make_engine(self.url)
        async with engine.begin() as conn:
            for start in range(0, customers, 5000):
                rows = [
                    {
                        "platform": platform,
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
        return ids


def config_file(folder: Path, url: str, fake: FakeTelegram, rate: float) -> Path:
    return telegram_config(folder, url, fake.base_url, staff=STAFF.id, send_rate=rate, question=QUESTION)


def start(config: Path, fake: FakeTelegram) -> LineReader:
    profile = os.environ.get("BENCH_PROFILE")  # a cProfile dump of each process, to see where time goes
    wrap = shlex.split(os.environ.get("BENCH_WRAP", ""))  # a command each process runs under, e.g. heaptrack
    python = (
        [sys.executable, "-m", "cProfile", "-o", f"{profile}.{uuid.uuid4().hex[:6]}"] if profile else [sys.executable]
    )
    python = [*wrap, *python]
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


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU used so far by the PostgreSQL server's processes on this machine (all of them: the
    figure is only clean when nothing else uses the server meanwhile)."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if (proc / "comm").read_text().strip() == "postgres":
                    total += cpu_seconds(int(proc.name))
    return total


@dataclass
class Delivered:
    questions: Questions
    refused: int  # 429s
    wall: float
    rss: float  # peak RSS of the busiest process, MB (with watch_rss)
    feedbot_cpu: float  # CPU seconds of all feedbot processes during the run
    fake_cpu: float  # CPU seconds of this process (the fake Bot API) during the run
    postgres_cpu: float  # CPU seconds of the PostgreSQL server during the run

    def cpu_line(self) -> str:
        asked = max(1, len(self.questions.times))
        return (
            f"CPU per question: feedbot {1000 * self.feedbot_cpu / asked:.2f} ms, "
            f"the fake Bot API {1000 * self.fake_cpu / asked:.2f} ms, "
            f"PostgreSQL {1000 * self.postgres_cpu / asked:.2f} ms"
        )


async def deliver(
    admin: str,
    customers: int,
    rate: float,
    limits: FakeLimits,
    processes: int,
    watch_rss: bool = False,
    stop_after: float | None = None,
) -> Delivered:
    """One run to `customers` by `processes` processes.

    `stop_after`: stop measuring after this many seconds of delivery, asked or not."""
    async with FakeTelegram(limits=limits) as fake, Database(admin) as db:
        fake.long_poll_cap = 0.5
        ids = await db.seed(customers)
        for i in ids:
            fake.add_group(i)  # the fake knows the chat: the customer has opened the bot
        with tempfile.TemporaryDirectory() as folder:
            config = config_file(Path(folder), db.url, fake, rate)
            bots = [start(config, fake) for _ in range(processes)]
            try:
                for bot in bots:
                    await asyncio.to_thread(bot.wait_for, "feedbot ready", 120)
                await wait(lambda: any("elected leader" in line for b in bots for line in list(b.lines)), 30, "leader")
                questions = Questions(fake, ids)
                cpu_before = [cpu_seconds(b.process.pid) for b in bots], time.process_time(), postgres_cpu_seconds()
                started = time.monotonic()
                fake.send_text(STAFF, "/poll visit")
                if stop_after is None:
                    await wait(lambda: questions.update() >= customers, customers / min(rate, 50) + 600, "everyone")
                else:
                    await wait(lambda: questions.update() > 0, 600, "the first question")
                    await asyncio.sleep(stop_after)
                wall = time.monotonic() - started
                feedbot_cpu = sum(cpu_seconds(b.process.pid) - c for b, c in zip(bots, cpu_before[0], strict=True))
                fake_cpu = time.process_time() - cpu_before[1]
                postgres_cpu = postgres_cpu_seconds() - cpu_before[2]
                await asyncio.sleep(2)  # anything sent twice arrives meanwhile
                questions.update()
                rss = max(peak_rss_mb(b.process.pid) for b in bots) if watch_rss else 0.0
            finally:
                for bot in bots:
                    bot.process.send_signal(signal.SIGTERM)
                for bot in bots:
                    await asyncio.to_thread(bot.process.wait, 60)
        return Delivered(questions, len(fake.too_many), wall, rss, feedbot_cpu, fake_cpu, postgres_cpu)


async def p1(args: argparse.Namespace) -> None:
    if args.engine_only:
        await engine_only(args)
        return
    rate, limits = (1000.0, UNLIMITED) if args.uncapped else (args.rate, FakeLimits(per_second=30))
    run = await deliver(args.admin, args.customers, rate, limits, 1)
    questions, seen = run.questions, run.questions.rate()
    print(f"P1 delivery, {args.customers} customers, send_rate {rate:g}/s, one process, PostgreSQL:")
    print(f"  {len(questions.times)} asked in {run.wall:.1f} s; rate seen by the fake {seen:.1f}/s")
    if args.uncapped:
        print(f"  ratio to send_rate: {seen / rate:.3f}; to the engine's 2,000/s target: {seen / 2000:.3f}")
    else:
        print(f"  ratio to the configured cap: {seen / rate:.3f} (target at least 0.95)")
    print(f"  refused with 429: {run.refused}; sent twice: {questions.duplicates()}")
    print(f"  {run.cpu_line()}")


async def engine_only(args: argparse.Namespace) -> None:
    """The engine alone: the delivery worker on PostgreSQL sending through the in-process adapter (no
    HTTP, no pace), so the figure is what claiming, rendering and recording cost."""
    async with Database(args.admin) as db:
        await db.seed(args.customers, platform=LocalAdapter.platform)
        settings = settings_from_mapping({"storage": {"url": db.url}, "polls": [{"id": "visit", "question": QUESTION}]})
        logging.getLogger("feedbot").setLevel(logging.WARNING)
        adapter = LocalAdapter()
        runtime = build_runtime(settings, adapters=[adapter], store=Store(make_engine(db.url)))
        await adapter.start(runtime.engine.on_message)
        worker = asyncio.create_task(runtime.worker.run_forever())
        try:
            cpu, started = time.process_time(), time.monotonic()
            await runtime.engine.start_run("visit", triggered_by="bench")
            await wait(lambda: len(adapter.outbox) >= args.customers, 600, "everyone")
            wall, cpu = time.monotonic() - started, time.process_time() - cpu
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            await runtime.store.dispose()
    chats = [m.chat.chat_id for m in adapter.outbox]
    rate = len(chats) / wall
    print(f"P1 engine only, {args.customers} customers, the delivery worker and the in-process adapter, PostgreSQL:")
    print(f"  {len(chats)} delivered in {wall:.1f} s (fan-out included): {rate:.0f}/s")
    print(f"  ratio to the 2,000/s target: {rate / 2000:.3f}; sent twice: {len(chats) - len(set(chats))}")
    print(f"  CPU of this process per delivery: {1000 * cpu / max(1, len(chats)):.2f} ms")
    batches = runtime.worker.ledger.batches
    print(f"  write-back transactions: {batches} ({len(chats) / max(1, batches):.0f} sends each)")


async def p4(args: argparse.Namespace) -> None:
    run = await deliver(args.admin, args.customers, 1000.0, UNLIMITED, 1, watch_rss=True, stop_after=args.seconds)
    asked = len(run.questions.times)
    print(f"P4 memory, a run to {args.customers} customers, send_rate 1000/s, PostgreSQL:")
    print(f"  {asked} asked in {run.wall:.1f} s ({run.questions.rate():.1f}/s), then measured")
    print(f"  peak RSS of the feedbot process: {run.rss:.1f} MB (target at most 150; ratio {run.rss / 150:.2f})")


async def p5(args: argparse.Namespace) -> None:
    one = await deliver(args.admin, args.customers, 1000.0, UNLIMITED, 1)
    two = await deliver(args.admin, args.customers, 1000.0, UNLIMITED, 2)
    capped = await deliver(args.admin, args.customers // 4, args.rate, FakeLimits(per_second=30), 2)
    r1, r2 = one.questions.rate(), two.questions.rate()
    print(f"P5 scale-out, {args.customers} customers, uncapped fake, PostgreSQL:")
    print(f"  one process {r1:.1f}/s, two processes {r2:.1f}/s: ratio {r2 / r1:.2f}")
    print(f"  one process: {one.cpu_line()}")
    print(f"  two processes: {two.cpu_line()}")
    print(f"  sent twice: one {one.questions.duplicates()}, two {two.questions.duplicates()}")
    print(
        f"  with the cap on ({args.rate:g}/s, two processes, {args.customers // 4} customers): "
        f"{capped.questions.rate():.1f}/s together (ratio {capped.questions.rate() / args.rate:.3f}), "
        f"429s {capped.refused}, sent twice {capped.questions.duplicates()}"
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
    parser.add_argument("--engine-only", action="store_true", help="p1: the in-process adapter, no HTTP, no pace")
    parser.add_argument("--seconds", type=float, help="p4: measure after this many seconds of delivery")
    parser.add_argument("--admin", default="postgresql://postgres@127.0.0.1:5432/postgres", help="PostgreSQL server")
    args = parser.parse_args()
    defaults = {"p1": 10_000, "p4": 100_000, "p5": 5_000, "failover": 0}
    args.customers = args.customers or defaults[args.which]
    runs = {"p1": p1, "p4": p4, "p5": p5, "failover": failover}
    asyncio.run(runs[args.which](args))
