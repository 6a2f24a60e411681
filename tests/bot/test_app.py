"""The composition root: runtime start/stop and the scheduled digest posted once per period."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.local import LocalAdapter, LocalUser
from bot.app import Runtime, digest_chats
from bot.types import ChatRef
from tests.support import FakeClock, make_settings


def team_settings(tmp_path: Path) -> object:
    return make_settings(
        storage={"url": f"sqlite+aiosqlite:///{tmp_path}/app.db"},
        telegram={"digest_chats": [-1001, -1002], "managers": [7]},
        goals=[{"metric": "answers", "target": 1}],
    )


def telegram_like_local_adapter() -> LocalAdapter:
    """The local adapter standing in for Telegram at the engine's edge (no SDK involved here)."""
    adapter = LocalAdapter()
    adapter.platform = "telegram"  # type: ignore[misc]
    return adapter


async def run_until_started(runtime: Runtime, adapter: LocalAdapter, stop: asyncio.Event) -> asyncio.Task[None]:
    """Run the runtime in a task and return once its adapter is connected (bounded wait)."""
    task = asyncio.create_task(runtime.run(stop))
    for _ in range(500):
        if adapter.started or task.done():
            break
        await asyncio.sleep(0.01)
    return task


async def test_runtime_starts_serves_and_stops(tmp_path: Path) -> None:
    settings = make_settings(storage={"url": f"sqlite+aiosqlite:///{tmp_path}/app.db"})
    adapter = LocalAdapter()
    runtime = Runtime(settings, [adapter])
    stop = asyncio.Event()
    task = await run_until_started(runtime, adapter, stop)
    alice = LocalUser("1", "alice")
    await adapter.say(alice, "/start")
    assert "You're subscribed" in adapter.last(alice).text
    started = await runtime.engine.start_run("visit", triggered_by="test")
    assert started is not None
    for _ in range(200):  # the worker wakes on its own when the outbox changes
        if adapter.last(alice).text == "What was your favourite part?":
            break
        await asyncio.sleep(0.01)
    assert adapter.last(alice).text == "What was your favourite part?"
    stop.set()
    await asyncio.wait_for(task, 10)
    assert not adapter.started


async def test_scheduled_digest_is_posted_once_per_period_to_each_chat(tmp_path: Path) -> None:
    settings = team_settings(tmp_path)
    adapter = telegram_like_local_adapter()
    clock = FakeClock(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))
    runtime = Runtime(settings, [adapter], clock)  # type: ignore[arg-type]
    from storage.db import upgrade

    await upgrade(runtime.db)
    await adapter.start(runtime.engine.on_message)
    assert digest_chats(settings) == [ChatRef("telegram", "-1001"), ChatRef("telegram", "-1002")]  # type: ignore[arg-type]

    await runtime.post_digest(clock.now())
    await runtime.post_digest(clock.now() + timedelta(minutes=5))  # a double fire, or a restart
    posted = [m for m in adapter.outbox if m.text.startswith("Feedback digest")]
    assert sorted(m.chat.chat_id for m in posted) == ["-1001", "-1002"]
    assert all(m.image is not None and m.image.data[:4] == b"\x89PNG" for m in posted)

    adapter.blocked["-1001"] = "chat not found"
    await runtime.post_digest(clock.now() + timedelta(days=7))  # next week: -1001 fails, -1002 gets it
    adapter.blocked.clear()
    await runtime.post_digest(clock.now() + timedelta(days=7, minutes=1))  # the failed chat is retried
    week_two = [m.chat.chat_id for m in adapter.outbox if m.text.startswith("Feedback digest")][2:]
    assert sorted(week_two) == ["-1001", "-1002"]
    await runtime.db.dispose()


async def test_manager_digest_command_returns_text_and_chart(tmp_path: Path) -> None:
    settings = team_settings(tmp_path)
    adapter = telegram_like_local_adapter()
    runtime = Runtime(settings, [adapter], FakeClock())  # type: ignore[arg-type]
    from storage.db import upgrade

    await upgrade(runtime.db)
    await adapter.start(runtime.engine.on_message)
    boss = LocalUser("7", "boss")
    await adapter.say(boss, "/digest week")
    reply = adapter.last(boss)
    assert reply.text.startswith("Feedback digest – this week so far (week Mon 2 Mar – Sun 8 Mar 2026")
    assert reply.image is not None and reply.image.data[:4] == b"\x89PNG"
    await adapter.say(boss, "/digest last week")
    assert adapter.last(boss).text.startswith("Feedback digest – week Mon 23 Feb – Sun 1 Mar 2026")
    await adapter.say(boss, "/digest year")
    assert adapter.last(boss).text == "Usage: /digest [last] [day|week|month]"
    await adapter.say(boss, "/goals")
    assert "\nGoals – this week so far" in adapter.last(boss).text  # after the missed-twice warning (no answers yet)
    await runtime.db.dispose()


async def test_platform_unreachable_at_start_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.app

    monkeypatch.setattr(bot.app, "START_BACKOFF", 0.01)
    settings = make_settings(storage={"url": f"sqlite+aiosqlite:///{tmp_path}/app.db"})
    adapter = LocalAdapter()
    adapter.unreachable_starts = 2
    runtime = Runtime(settings, [adapter])
    stop = asyncio.Event()
    task = await run_until_started(runtime, adapter, stop)
    assert adapter.started and adapter.unreachable_starts == 0
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_platform_down_for_good_stops_the_runtime_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.app
    from bot.errors import DeliveryError

    monkeypatch.setattr(bot.app, "START_BACKOFF", 0.01)
    settings = make_settings(storage={"url": f"sqlite+aiosqlite:///{tmp_path}/app.db"})
    adapter = LocalAdapter()
    adapter.unreachable_starts = 99
    with pytest.raises(DeliveryError, match="platform unreachable"):
        await Runtime(settings, [adapter]).run(asyncio.Event())
