"""Digest benchmark: one week's digest against a bare SQL aggregate over the same week.

    python bench/digest.py [--answers 1000000] [--weeks 10] [--url sqlite+aiosqlite:///...|postgresql+asyncpg://...]

Seeds `--answers` answers (one run a day for `--weeks` weeks, so 100,000 in the last week by
default) with realistic café texts, runs the analyser over all of them (its throughput is printed),
then times, on that analysed database:

- the bare aggregate: answers to the week's runs, their count and average rating, and answers per
  local day (two SELECTs in one transaction);
- `bot.reporting.digest.build_digest` for that week, themes included: the analyser's check for stale runs,
  the goals, what customers liked, what to fix with quotes, also-mentioned terms, the chart's data;
  once as text only, once with the chart rendered (matplotlib, independent of the number of answers).

Prints the median of `--repeat` runs of each and the ratio. Asserts nothing (tests assert
behaviour, this measures speed).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, insert, select, text

from bot.config import Settings, settings_from_mapping
from bot.reporting.analyser import Analyser
from bot.reporting.digest import build_digest
from bot.reporting.periods import digest_timezone, last_complete_period, local_midnights
from storage.db import make_engine, upgrade
from storage.models import Answer, Customer, Delivery, PollRun
from storage.reporting import Reports

START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # a Monday; one run a day at 10:00 UTC
CHUNK = 20_000

PRAISE = [
    "The croissants were amazing",
    "Best croissant in town",
    "Loved the pastries",
    "the croisants were buttery",
    "Les croissants étaient délicieux",
    "The flat white was perfect",
    "Flat whites are the best in town",
    "Friendly staff and great coffee",
    "Los camareros muy amables",
    "Lovely terrace in the sun",
    "Cakes and coffee, what else",
    "Great music on Sundays",
    "Nice view of the river",
    "Fair prices for the quality",
]
PROBLEMS = [
    "Service was really slow",
    "my coffe was cold",
    "We waited ages for a table",
    "The wifi kept dropping",
    "Music too loud",
    "Toilets were dirty",
    "Prices went up again",
    "parking is a nightmare",
    "Le service était très lent",
    "El camarero fue muy lento",
]
EXTRAS = ["", " today", " again", ", thanks", "!", " as usual", " this morning", " 🙂"]

SETTINGS: dict[str, Any] = {
    "engine": {"languages": ["en", "fr", "es"], "timezone": "Europe/London"},
    "polls": [{"id": "visit", "question": "What was your favourite part of your visit?"}],
    "digest": {"period": "week"},
    "goals": [{"metric": "response_rate", "target": 80}, {"metric": "average_rating", "target": 4.2}],
    "themes": [
        {"name": "Pastries", "keywords": ["pastry", "croissant", "cake", "muffin"]},
        {"name": "Coffee", "keywords": ["coffee", "flat white", "espresso", "latte"]},
        {"name": "Staff", "keywords": ["staff", "waiter", "barista", "friendly", "serveur", "camarero"]},
        {"name": "Service", "keywords": ["service", "slow", "wait", "queue", "lento"]},
        {"name": "Seating", "keywords": ["outdoor seating", "terrace", "table"]},
        {"name": "Price", "keywords": ["price", "expensive", "cheap"]},
    ],
}


async def seed(url: str, answers: int, weeks: int) -> None:
    db = make_engine(url)
    await upgrade(db)
    days = weeks * 7
    per_run = answers // days
    customers = int(per_run * 1.12) + 1
    rng = random.Random(7)
    t0 = time.perf_counter()
    async with db.begin() as conn:
        await conn.execute(
            insert(Customer),
            [
                {
                    "platform": "local",
                    "platform_user_id": str(i),
                    "chat_id": str(i),
                    "display_name": f"customer {i}",
                    "subscribed": True,
                    "reachable": True,
                    "created_at": START,
                    "updated_at": START,
                }
                for i in range(customers)
            ],
        )
        ids = [r[0] for r in (await conn.execute(select(Customer.id).order_by(Customer.id))).all()]
    for day in range(days):
        created = START + timedelta(days=day)
        async with db.begin() as conn:
            run_id = (
                await conn.execute(
                    insert(PollRun).returning(PollRun.id),
                    [
                        {
                            "poll_id": "visit",
                            "question": "What was your favourite part of your visit?",
                            "asks_rating": True,
                            "scale": 5,
                            "triggered_by": "bench",
                            "scheduled_for": created,
                            "created_at": created,
                            "closes_at": created + timedelta(days=3),
                            "fanned_out": True,
                            "reminders_queued": False,
                        }
                    ],
                )
            ).scalar_one()
            deliveries = [
                {
                    "run_id": run_id,
                    "customer_id": cid,
                    "platform": "local",
                    "chat_id": str(cid),
                    "kind": "question",
                    "status": "sent" if i % 25 else "failed",
                    "attempts": 1,
                    "next_attempt_at": created,
                    "created_at": created,
                    "sent_at": created if i % 25 else None,
                }
                for i, cid in enumerate(ids)
            ]
            for i in range(0, len(deliveries), CHUNK):
                await conn.execute(insert(Delivery), deliveries[i : i + CHUNK])
            sent = [cid for i, cid in enumerate(ids) if i % 25][:per_run]
            rows = []
            for n, cid in enumerate(sent):
                problem = rng.random() < 0.25
                body = rng.choice(PROBLEMS if problem else PRAISE) + rng.choice(EXTRAS)
                rating = rng.choice((1, 2, 3)) if problem else rng.choice((None, 4, 5, 5))
                rows.append(
                    {
                        "run_id": run_id,
                        "customer_id": cid,
                        "text": body,
                        "rating": rating,
                        "late": False,
                        "source_message_id": f"bench:{run_id}:{n}",
                        "answered_at": created + timedelta(minutes=rng.randint(1, 2880)),
                    }
                )
            for i in range(0, len(rows), CHUNK):
                await conn.execute(insert(Answer), rows[i : i + CHUNK])
    if db.dialect.name == "postgresql":
        async with db.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    else:
        async with db.begin() as conn:
            await conn.execute(text("ANALYZE"))
    print(f"seeded {days * per_run:,} answers, {days * len(ids):,} deliveries in {time.perf_counter() - t0:.0f}s")
    await db.dispose()


async def timed(fn: Callable[[], Awaitable[object]], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def bench(url: str, answers: int, weeks: int, repeat: int) -> None:
    await seed(url, answers, weeks)
    db = make_engine(url)
    settings: Settings = settings_from_mapping(SETTINGS)
    now = START + timedelta(days=weeks * 7, hours=-1)  # Monday 09:00 after the last week
    t0 = time.perf_counter()
    report = await Analyser(db, settings).refresh(now)
    elapsed = time.perf_counter() - t0
    rate = report.answers / elapsed
    print(f"analyser: {report.answers:,} answers in {report.runs} runs, {elapsed:.1f}s = {rate:,.0f} answers/s")

    week = last_complete_period("week", now, digest_timezone(settings))
    boundaries = local_midnights(week.first_day, week.last_day, week.tz)
    bucket = case(*[(Answer.answered_at < edge, i) for i, edge in enumerate(boundaries[1:])], else_=len(boundaries) - 1)
    in_week = (PollRun.created_at >= week.start, PollRun.created_at < week.end)

    async def bare() -> None:
        async with db.connect() as conn:
            await conn.execute(
                select(func.count(), func.avg(Answer.rating)).join(PollRun, PollRun.id == Answer.run_id).where(*in_week)
            )
            await conn.execute(
                select(bucket, func.count()).join(PollRun, PollRun.id == Answer.run_id).where(*in_week).group_by(bucket)
            )

    reports = Reports(db)
    await build_digest(reports, settings, "week", now)  # warm-up: caches, first chart
    async with db.connect() as conn:
        week_answers = (
            await conn.execute(select(func.count()).select_from(Answer).join(PollRun).where(*in_week))
        ).scalar_one()
    print(
        f"database: {await count_answers(db):,} answers, {week_answers:,} in the week {week.first_day}..{week.last_day}"
    )
    baseline = await timed(bare, repeat)
    data = await timed(lambda: build_digest(reports, settings, "week", now, chart=False), repeat)
    whole = await timed(lambda: build_digest(reports, settings, "week", now), repeat)
    print(f"bare SQL aggregate (count, average rating, answers per day): {baseline * 1000:7.0f} ms")
    print(f"digest with themes, text only:        {data * 1000:7.0f} ms  ratio {data / baseline:.2f}")
    print(f"digest with themes and its chart:     {whole * 1000:7.0f} ms  ratio {whole / baseline:.2f}")
    await db.dispose()


async def count_answers(db: Any) -> int:
    async with db.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(Answer))).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--weeks", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--url", help="an empty database (default: a temporary SQLite file)")
    args = parser.parse_args()
    if args.url:
        asyncio.run(bench(args.url, args.answers, args.weeks, args.repeat))
        return
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bench(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", args.answers, args.weeks, args.repeat))


if __name__ == "__main__":
    main()
