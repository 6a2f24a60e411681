"""Delivery benchmark: one run's questions to N customers through the Telegram adapter and the
delivery worker, against the fake Bot API server enforcing Telegram's limits (429 above them).

    python bench/delivery.py [--customers 1000] [--rate 25] [--answers] [--url sqlite:///path.db | ...]

Prints the rate the fake saw (questions from the first to the last arrival), its ratio to the
configured rate, and how many sends the fake refused with 429 (Telegram's answer to a bot that
goes too fast). With --answers every customer answers the moment the question arrives, so the
replies ("how would you rate it?") compete with the questions for the same pace and the same chats.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo's packages

from adapters.telegram import TelegramAdapter
from bot.config import settings_from_mapping
from bot.runtime.app import build_runtime
from storage.db import make_engine, upgrade
from storage.store import Store
from storage.urls import async_url
from tests.adapters.fake_telegram import FakeLimits, FakeTelegram, FakeUser

QUESTION = "What was your favourite part?"


async def subscribe(store: Store, fake: FakeTelegram, customers: int) -> None:
    now = datetime.now(UTC)
    async with store.unit() as unit:
        for i in range(customers):
            user = FakeUser(200_000 + i, f"c{i}")
            fake.add_group(user.id)  # the fake knows the chat: the customer has opened the bot
            await unit.customers.subscribe(
                platform="telegram",
                user_id=str(user.id),
                chat_id=str(user.id),
                display_name=user.first_name,
                language="en",
                tag=None,
                now=now,
            )


async def answer_as_they_arrive(fake: FakeTelegram, customers: int) -> None:
    answered: set[int] = set()
    while len(answered) < customers:
        for chat_id in {chat for _, chat, _ in fake.sends} - answered:
            if any(m.shown == QUESTION for m in fake.messages(chat_id)):
                fake.send_text(FakeUser(chat_id, f"c{chat_id}"), "The garden, and the quiet")
                answered.add(chat_id)
        await asyncio.sleep(0.05)


async def main(customers: int, rate: float, url: str | None, answers: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        target = async_url(url) if url else f"sqlite+aiosqlite:///{Path(tmp) / 'delivery.db'}"
        async with FakeTelegram(limits=FakeLimits()) as fake:
            settings = settings_from_mapping(
                {
                    "storage": {"url": target},
                    "polls": [{"id": "visit", "question": QUESTION}],
                    "telegram": {"base_url": fake.base_url, "send_rate": rate},
                }
            )
            store = Store(make_engine(settings.storage.url))
            await upgrade(store.db)
            await subscribe(store, fake, customers)
            assert settings.telegram is not None
            adapter = TelegramAdapter(settings.telegram, fake.token, poll_timeout=1)
            runtime = build_runtime(settings, adapters=[adapter], store=store)

            await adapter.start(runtime.engine.on_message)
            started = time.perf_counter()
            await runtime.engine.start_run("visit", triggered_by="bench")
            if answers:
                worker = asyncio.create_task(runtime.worker.run_forever())
                await answer_as_they_arrive(fake, customers)
                await fake.wait_confirmed(within=600)
                # Every question, and every "how would you rate it?"
                await fake.until(lambda: sum(m == "sendMessage" for _, _, m in fake.sends) >= 2 * customers, 600)
                worker.cancel()
            else:
                await runtime.worker.drain()
            wall = time.perf_counter() - started
            await adapter.stop()
            await store.dispose()
            arrivals = sorted(at for at, _, method in fake.sends if method == "sendMessage")
            refused = len(fake.too_many)
    seen = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0
    busiest = max((sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals), default=0)
    backend = "PostgreSQL" if target.startswith("postgresql") else "SQLite"
    what = "each answering at once" if answers else "no answers"
    print(f"delivery, {customers} customers at {rate:g}/s, {what}, through the strict fake Bot API ({backend}):")
    print(f"  sent {len(arrivals)} in {wall:.1f} s; rate seen by the server {seen:.2f}/s")
    print(f"  ratio to the configured rate: {seen / rate:.3f} (target at least 0.95)")
    print(f"  most sends in any one-second window: {busiest} (configured {rate:g})")
    print(f"  refused with 429: {refused} (target 0)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000, help="customers to ask (default 1000)")
    parser.add_argument("--rate", type=float, default=25, help="[telegram] send_rate (default 25)")
    parser.add_argument("--answers", action="store_true", help="every customer answers the moment it is asked")
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    asyncio.run(main(args.customers, args.rate, args.url, args.answers))
