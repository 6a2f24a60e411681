"""Intake benchmark: answers committed and acknowledged per second through the Telegram adapter's own
update loop, beside bare python-telegram-bot dispatching the same updates to a no-op handler.

    python bench/intake.py [--answers 2000] [--url sqlite:///path.db | postgresql://...]

Both read the same number of updates from the fake Bot API server (tests/adapters/fake_telegram.py)
on 127.0.0.1; a rate is updates confirmed to the server (getUpdates offset past them) per second.
For feedbot each update is an answer to an open question, committed with its dedupe claim and its
reply queued in the outbox before it is confirmed. Prints both figures and the ratio; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo's packages

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from adapters.telegram import TelegramAdapter
from bot.config import settings_from_mapping
from bot.pacing import LocalPacer, PaceRules
from bot.runtime.app import build_runtime
from storage.db import make_engine, upgrade
from storage.store import Store
from storage.urls import async_url
from tests.adapters.fake_telegram import FakeTelegram, FakeUser

QUESTION = "What was your favourite part?"


async def seed(store: Store, users: list[FakeUser]) -> None:
    """Subscribed customers, each with the run's question sent: every text is an answer."""
    now = datetime.now(UTC)
    async with store.unit() as unit:
        for user in users:
            await unit.customers.subscribe(
                platform="telegram",
                user_id=str(user.id),
                chat_id=str(user.id),
                display_name=user.first_name,
                language="en",
                tag=None,
                now=now,
            )
        run_id = await unit.runs.create(
            poll_id="visit",
            question=QUESTION,
            asks_rating=True,
            scale=5,
            tag=None,
            triggered_by="bench",
            now=now,
            closes_at=now + timedelta(days=3),
        )
        assert run_id is not None
        await unit.outbox.fan_out(run_id, None, now)
        await unit.workers.register("seed", "bench", 0, now)
        for claim in await unit.outbox.claim("seed", ["telegram"], now, len(users)):
            await unit.outbox.record_sent(claim, "1", now)


async def confirmed(fake: FakeTelegram, started: float) -> float:
    await fake.until(lambda: not fake.pending_updates, within=600)
    return time.perf_counter() - started


async def feedbot_rate(fake: FakeTelegram, url: str, users: list[FakeUser]) -> float:
    settings = settings_from_mapping(
        {
            "storage": {"url": url},
            "polls": [{"id": "visit", "question": QUESTION}],
            "telegram": {"base_url": fake.base_url},
        }
    )
    store = Store(make_engine(settings.storage.url))
    await upgrade(store.db)
    await seed(store, users)
    assert settings.telegram is not None
    adapter = TelegramAdapter(settings.telegram, fake.token, pacer=LocalPacer(PaceRules()), poll_timeout=1)
    runtime = build_runtime(settings, adapters=[adapter], store=store)
    await adapter.start(runtime.engine.on_message)  # no delivery worker: replies wait in the outbox
    try:
        for user in users:
            fake.send_text(user, f"The answer of {user.first_name}")
        started = time.perf_counter()
        elapsed = await confirmed(fake, started)
        async with store.read() as unit:
            answers = len(await unit.conversation.answers_after(0, limit=len(users) + 1))
        assert answers == len(users), f"{answers} answers stored of {len(users)}"
    finally:
        await adapter.stop()
        await store.dispose()
    return len(users) / elapsed


async def bare_ptb_rate(fake: FakeTelegram, users: list[FakeUser]) -> float:
    handled = 0

    async def nothing(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        nonlocal handled
        handled += 1

    app = ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()
    app.add_handler(MessageHandler(filters.ALL, nothing))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    for user in users:
        fake.send_text(user, f"The answer of {user.first_name}")
    started = time.perf_counter()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    elapsed = await confirmed(fake, started)
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    assert handled >= len(users), handled
    return len(users) / elapsed


async def main(answers: int, url: str | None) -> None:
    users = [FakeUser(100_000 + i, f"c{i}") for i in range(answers)]
    with tempfile.TemporaryDirectory() as tmp:
        target = async_url(url) if url else f"sqlite+aiosqlite:///{Path(tmp) / 'intake.db'}"
        async with FakeTelegram(limits=None) as fake:
            bare = await bare_ptb_rate(fake, users)
        async with FakeTelegram(limits=None) as fake:
            fake.long_poll_cap = 0.2
            ours = await feedbot_rate(fake, target, users)
    backend = "PostgreSQL" if target.startswith("postgresql") else "SQLite"
    print(f"intake, {answers} updates through the fake Bot API on 127.0.0.1 ({backend}):")
    print(f"  bare python-telegram-bot, no-op handler: {bare:8.0f} updates/s")
    print(f"  feedbot, each answer committed before it is confirmed: {ours:8.0f} answers/s")
    print(f"  ratio: {ours / bare:.3f} (target at least 0.1 on SQLite)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=2000, help="updates to push through (default 2000)")
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    asyncio.run(main(args.answers, args.url))
