"""`feedbot demo`: feedback rounds on the local adapter, no tokens, no network.

A composition root like bot.runtime.app: it builds the local adapter, imported lazily. The rounds are played
in last week (a settable clock), so the manager digest at the end – the last complete week – has
them, and `feedbot digest` on a kept demo database (`--db`) shows the same numbers.
"""

from __future__ import annotations

import tempfile
import textwrap
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

from bot.config import Settings, settings_from_mapping
from bot.reporting.digest import last_complete_period
from bot.runtime.app import Runtime, build_runtime
from bot.runtime.clock import SystemClock
from bot.types import rating_choice
from storage.db import make_engine, upgrade
from storage.store import Store

if TYPE_CHECKING:
    from adapters.local import LocalAdapter, LocalUser

DEMO_SETTINGS: dict[str, Any] = {
    "polls": [
        {
            "id": "weekend-visit",
            # Each customer is asked in their app's language (Bruno's is German).
            "question": {
                "en": "What was your favourite part of your visit?",
                "de": "Was hat dir bei deinem Besuch am besten gefallen?",
            },
            "rating": True,
            "close_after": "3d",
        }
    ],
    "digest": {"period": "week", "timezone": "UTC"},
    "goals": [{"metric": "response_rate", "target": 60}, {"metric": "average_rating", "target": 4.2}],
    "themes": [
        {"name": "Music", "keywords": ["jazz", "music", "band"]},
        {"name": "Staff", "keywords": ["staff", "friendly", "service"]},
        {"name": "Food", "keywords": ["breakfast", "food", "brunch"]},
        {"name": "Peace and quiet", "keywords": ["quiet", "calm", "slept"]},
    ],
}


class DemoClock:
    """The demo's own time: set to moments of last week while the rounds play."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current


def demo_settings(db_path: Path) -> Settings:
    return settings_from_mapping({**DEMO_SETTINGS, "storage": {"url": f"sqlite+aiosqlite:///{db_path}"}})


async def run_demo(out: TextIO, db_path: Path | None = None) -> int:
    """Play the demo and print it; returns the process exit code."""
    with tempfile.TemporaryDirectory(prefix="feedbot-demo-") as tmp:
        path = db_path or Path(tmp) / "demo.db"
        settings = demo_settings(path)
        store = Store(make_engine(settings.storage.url))
        try:
            await upgrade(store.db)
            return await _play(store, settings, out)
        finally:
            await store.dispose()


async def _play(store: Store, settings: Settings, out: TextIO) -> int:
    from adapters.local import LocalAdapter, LocalUser

    real_now = SystemClock().now()
    week = last_complete_period("week", real_now, ZoneInfo("UTC"))
    clock = DemoClock(week.start + timedelta(days=1, hours=10))  # last Tuesday, 10:00 UTC
    adapter = LocalAdapter(now=clock.now)
    runtime = build_runtime(settings, adapters=[adapter], clock=clock, store=store)
    engine, worker = runtime.engine, runtime.worker
    await adapter.start(engine.on_message)

    async def act(action: Awaitable[object]) -> None:
        """A customer acts, then the replies go out (the outbox drains as it would at run time)."""
        await action
        await worker.drain()

    names = ["Alice", "Bruno", "Chen", "Dara", "Emeka", "Farah"]
    languages = {"Bruno": "de"}  # his app is German: he reads feedbot in German
    users = {name: LocalUser(str(100 + i), name, language=languages.get(name)) for i, name in enumerate(names)}
    for user in users.values():
        await act(adapter.say(user, "/start"))
    await act(adapter.say(users["Emeka"], "/stop"))

    async def ask() -> int:
        started = await engine.start_run("weekend-visit", triggered_by="demo")
        assert started is not None
        await worker.drain()
        return started.run_id

    alice, bruno, chen, dara, farah = (users[n] for n in ("Alice", "Bruno", "Chen", "Dara", "Farah"))
    _mark(adapter, "Tuesday: a staff member runs /poll weekend-visit")
    run = await ask()
    clock.current += timedelta(minutes=7)
    await act(adapter.say(alice, "The live jazz on Saturday night 🎷"))
    await act(adapter.press(alice, rating_choice(run, 5)))
    await act(adapter.say(bruno, "Friendly staff, and the terrace had a great view"))
    await act(adapter.say(bruno, "4"))
    clock.current += timedelta(hours=2)
    await act(adapter.say(chen, "Breakfast – الفطور كان رائعًا"))
    await act(adapter.press(chen, rating_choice(run, 4)))
    await act(adapter.send_sticker(dara))
    await act(adapter.say(dara, "Honestly? The quiet. Slept like a baby."))
    await act(adapter.press(dara, rating_choice(run, 5)))
    await act(adapter.send_sticker(farah))
    await act(adapter.say(farah, "/mydata"))

    clock.current = week.start + timedelta(days=4, hours=17)  # Friday, 17:00
    _mark(adapter, "Friday: another round")
    second = await ask()
    await act(adapter.say(alice, "The band again, and the friendly staff remembered my name"))
    await act(adapter.press(alice, rating_choice(second, 5)))
    await act(adapter.say(farah, "Brunch was slow today"))
    await act(adapter.press(farah, rating_choice(second, 2)))

    _print_transcript(adapter, users, out)
    await _print_summary(runtime, (run, second), out)
    digest = await runtime.reporting.build("week", real_now)
    out.write("\n== The manager's weekly digest (as posted to the team chat, with a chart) ==\n")
    out.write(digest.text + "\n")
    await adapter.stop()
    return 0


def _mark(adapter: LocalAdapter, text: str) -> None:
    from adapters.local import TranscriptLine

    adapter.transcript.append(TranscriptLine("", "--", text))


async def _print_summary(runtime: Runtime, runs: tuple[int, ...], out: TextIO) -> None:
    out.write("\n== Summary ==\n")
    for run in runs:
        async with runtime.store.read() as unit:
            counts = await unit.runs.counts(run)
        rate = round(100 * counts.answered / counts.sent) if counts.sent else 0
        out.write(
            f"Run {run}: asked {counts.asked} · delivered {counts.sent} · answers {counts.answered} "
            f"· response rate {rate}% · rated {counts.rated}\n"
        )
    ratings: list[int] = []
    async with runtime.store.read() as unit:
        after = 0
        while batch := await unit.conversation.answers_after(after):
            ratings += [row.rating for row in batch if row.rating is not None]
            after = batch[-1].id
    average = sum(ratings) / len(ratings) if ratings else 0.0
    out.write(f"Average rating: {average:.1f} / 5 from {len(ratings)} ratings\n")
    out.write("Emeka said /stop and was not asked; stickers got a request for words and were not stored.\n")


def _print_transcript(adapter: LocalAdapter, users: dict[str, LocalUser], out: TextIO) -> None:
    by_chat = {u.user_id: name for name, u in users.items()}
    out.write("== feedbot demo: feedback rounds on the local adapter (no tokens, no network) ==\n")
    for line in adapter.transcript:
        if line.speaker == "--":
            out.write(f"\n-- {line.text} --\n")
            continue
        who = by_chat.get(line.chat_id, line.chat_id)
        label = f"{who:>6} ›" if line.speaker != "bot" else f"   bot › {who}:"
        body = line.text if len(line.text) < 600 else line.text[:600] + " …"
        wrapped = textwrap.indent(body, " " * 10).lstrip()
        out.write(f"{label} {wrapped}\n")


__all__ = ["run_demo", "DemoClock", "UTC"]
