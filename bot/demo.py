"""`feedbot demo`: a whole feedback round on the local adapter, no tokens, no network.

A composition root like bot.app: it builds the local adapter, imported lazily.
"""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.config import Settings, settings_from_mapping
from bot.delivery import DeliveryWorker
from bot.engine import Engine
from bot.types import rating_choice
from storage.db import make_engine, upgrade
from storage.repository import Repository

if TYPE_CHECKING:
    from adapters.local import LocalAdapter, LocalUser

DEMO_SETTINGS = {
    "polls": [
        {
            "id": "weekend-visit",
            "question": "What was your favourite part of your visit?",
            "rating": True,
            "close_after": "3d",
        }
    ]
}


def demo_settings(db_path: Path) -> Settings:
    return settings_from_mapping({**DEMO_SETTINGS, "storage": {"url": f"sqlite+aiosqlite:///{db_path}"}})


async def run_demo(out: TextIO, db_path: Path | None = None) -> int:
    """Play the demo round and print it; returns the process exit code."""
    with tempfile.TemporaryDirectory(prefix="feedbot-demo-") as tmp:
        path = db_path or Path(tmp) / "demo.db"
        settings = demo_settings(path)
        engine_db = make_engine(settings.storage.url)
        try:
            await upgrade(engine_db)
            return await _play(Repository(engine_db), settings, out)
        finally:
            await engine_db.dispose()


async def _play(repo: Repository, settings: Settings, out: TextIO) -> int:
    from adapters.local import LocalAdapter, LocalUser

    adapter = LocalAdapter()
    engine = Engine(repo, settings)
    engine.attach(adapter)
    worker = DeliveryWorker(repo, engine.adapters, settings)
    await adapter.start(engine.on_message)

    names = ["Alice", "Bruno", "Chen", "Dara", "Emeka", "Farah"]
    users = {name: LocalUser(str(100 + i), name) for i, name in enumerate(names)}
    for user in users.values():
        await adapter.say(user, "/start")
    await adapter.say(users["Emeka"], "/stop")

    started = await engine.start_run("weekend-visit", triggered_by="demo")
    assert started is not None
    await worker.drain()
    run = started.run_id

    alice, bruno, chen, dara, farah = (users[n] for n in ("Alice", "Bruno", "Chen", "Dara", "Farah"))
    await adapter.say(alice, "The live jazz on Saturday night 🎷")
    await adapter.press(alice, rating_choice(run, 5))
    await adapter.say(bruno, "Friendly staff, and the terrace had a great view")
    await adapter.say(bruno, "4")
    await adapter.say(chen, "Breakfast – الفطور كان رائعًا")
    await adapter.press(chen, rating_choice(run, 4))
    await adapter.send_sticker(dara)
    await adapter.say(dara, "Honestly? The quiet. Slept like a baby.")
    await adapter.press(dara, rating_choice(run, 5))
    await adapter.send_sticker(farah)
    await adapter.say(farah, "/mydata")

    _print_transcript(adapter, users, out)
    counts = await repo.run_counts(run)
    ratings: list[int] = []
    async for batch in repo.iter_answers():
        ratings += [row.rating for row in batch if row.rating is not None]
    rate = round(100 * counts.answered / counts.sent) if counts.sent else 0
    average = sum(ratings) / len(ratings) if ratings else 0.0
    out.write("\n== Summary ==\n")
    out.write(f"Subscribed customers asked: {counts.asked} (one said /stop before the poll)\n")
    out.write(f"Delivered: {counts.sent}   Answers: {counts.answered}   Response rate: {rate}%\n")
    out.write(f"Average rating: {average:.1f} / 5 from {len(ratings)} ratings\n")
    out.write("Stickers were answered with a request for words and not stored.\n")
    await adapter.stop()
    return 0


def _print_transcript(adapter: LocalAdapter, users: dict[str, LocalUser], out: TextIO) -> None:
    by_chat = {u.user_id: name for name, u in users.items()}
    out.write("== feedbot demo: one feedback round on the local adapter ==\n")
    for line in adapter.transcript:
        who = by_chat.get(line.chat_id, line.chat_id)
        label = f"{who:>6} ›" if line.speaker != "bot" else f"   bot › {who}:"
        body = line.text if len(line.text) < 600 else line.text[:600] + " …"
        wrapped = textwrap.indent(body, " " * 10).lstrip()
        out.write(f"{label} {wrapped}\n")
