"""Outbox benchmark: subscribe N customers, fan a run out and drain it through the local adapter.

    python bench/outbox.py [--customers 5000] [--url sqlite+aiosqlite:///...|postgresql+asyncpg://...]

Prints wall-clock figures; asserts nothing (tests assert behaviour, this measures speed).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from storage.repository import Repository

from adapters.local import LocalAdapter
from bot.config import settings_from_mapping
from bot.engine import Engine
from bot.runtime.clock import SystemClock
from bot.runtime.delivery import DeliveryWorker
from storage.db import make_engine, upgrade


async def bench(url: str, customers: int) -> None:
    db = make_engine(url)
    await upgrade(db)
    repo = Repository(db)
    settings = settings_from_mapping({"polls": [{"id": "bench", "question": "Favourite part?"}]})
    clock = SystemClock()
    adapter = LocalAdapter()
    engine = Engine(repo, settings, clock)
    engine.attach(adapter)
    await adapter.start(engine.on_message)

    t0 = time.perf_counter()
    for i in range(customers):
        await repo.subscribe(
            platform="local",
            user_id=str(i),
            chat_id=str(i),
            display_name=f"c{i}",
            language=None,
            tag=None,
            now=clock.now(),
        )
    t1 = time.perf_counter()
    started = await engine.start_run("bench", triggered_by="bench")
    assert started is not None
    t2 = time.perf_counter()
    worker = DeliveryWorker(repo, engine.adapters, settings, clock, batch_size=200, concurrency=16)
    sent = await worker.drain()
    t3 = time.perf_counter()
    users = [adapter_user(i) for i in range(min(customers, 1000))]
    for user in users:
        await adapter.say(user, f"answer from {user.name}")
    t4 = time.perf_counter()
    await db.dispose()

    print(f"backend: {url.split(':', 1)[0]}   customers: {customers}")
    print(f"  subscribe        {customers / (t1 - t0):9.0f} customers/s")
    print(f"  fan-out          {started.queued / (t2 - t1):9.0f} deliveries/s ({t2 - t1:.3f} s for {started.queued})")
    print(f"  drain (send+log) {sent / (t3 - t2):9.0f} deliveries/s ({t3 - t2:.2f} s)")
    print(f"  answers          {len(users) / (t4 - t3):9.0f} answers/s (each committed before the ack)")


def adapter_user(i: int):  # type: ignore[no-untyped-def]
    from adapters.local import LocalUser

    return LocalUser(str(i), f"c{i}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.url:
        asyncio.run(bench(args.url, args.customers))
        return
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bench(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", args.customers))


if __name__ == "__main__":
    main()
