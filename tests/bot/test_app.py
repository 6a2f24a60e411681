"""The composition root: runtime start/stop and the scheduled digest posted once per period."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.local import LocalAdapter, LocalUser
from bot.platforms import digest_chats
from bot.runtime.app import PlatformsGone, Runtime, build_runtime
from bot.types import ChatRef
from storage.db import upgrade
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


async def until(condition: Callable[[], bool]) -> None:
    """Wait (bounded) for the running worker to do something: it wakes on its own when the outbox changes."""
    for _ in range(300):
        if condition():
            return
        await asyncio.sleep(0.01)


async def test_runtime_starts_serves_and_stops(tmp_path: Path) -> None:
    settings = make_settings(storage={"url": f"sqlite+aiosqlite:///{tmp_path}/app.db"})
    adapter = LocalAdapter()
    runtime = build_runtime(settings, adapters=[adapter])
    stop = asyncio.Event()
    task = await run_until_started(runtime, adapter, stop)
    alice = LocalUser("1", "alice")
    await adapter.say(alice, "/start")
    await until(lambda: bool(adapter.received(alice)))
    assert "You're subscribed" in adapter.last(alice).text
    started = await runtime.engine.start_run("visit", triggered_by="test")
    assert started is not None
    await until(lambda: adapter.last(alice).text == "What was your favourite part?")
    assert adapter.last(alice).text == "What was your favourite part?"
    stop.set()
    await asyncio.wait_for(task, 10)
    assert not adapter.started


async def test_scheduled_digest_is_posted_once_per_period_to_each_chat(tmp_path: Path) -> None:
    settings = team_settings(tmp_path)
    adapter = telegram_like_local_adapter()
    clock = FakeClock(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))
    runtime = build_runtime(settings, adapters=[adapter], clock=clock)  # type: ignore[arg-type]
    await upgrade(runtime.store.db)
    await adapter.start(runtime.engine.on_message)
    assert digest_chats(settings) == [ChatRef("telegram", "-1001"), ChatRef("telegram", "-1002")]  # type: ignore[arg-type]

    assert await runtime.digests.post(clock.now()) == 2
    clock.advance(minutes=5)
    assert await runtime.digests.post(clock.now()) == 0  # a double fire, or a restart
    await runtime.worker.drain()
    posted = [m for m in adapter.outbox if m.text.startswith("Feedback digest")]
    assert sorted(m.chat.chat_id for m in posted) == ["-1001", "-1002"]
    assert all(m.image is not None and m.image.data[:4] == b"\x89PNG" for m in posted)

    adapter.failing["-1001"] = "network down"
    clock.advance(days=7)
    await runtime.digests.post(clock.now())  # next week: -1001 fails for now, -1002 gets it
    await runtime.worker.drain()
    adapter.failing.clear()
    clock.advance(minutes=1)
    await runtime.worker.drain()  # the failed post is retried from the outbox
    week_two = [m.chat.chat_id for m in adapter.outbox if m.text.startswith("Feedback digest")][2:]
    assert sorted(week_two) == ["-1001", "-1002"]
    await runtime.store.dispose()


async def test_manager_digest_command_returns_text_and_chart(tmp_path: Path) -> None:
    settings = team_settings(tmp_path)
    adapter = telegram_like_local_adapter()
    runtime = build_runtime(settings, adapters=[adapter], clock=FakeClock())  # type: ignore[arg-type]
    await upgrade(runtime.store.db)
    await adapter.start(runtime.engine.on_message)
    boss = LocalUser("7", "boss")
    await adapter.say(boss, "/digest week")
    await runtime.worker.drain()
    reply = adapter.last(boss)
    assert reply.text.startswith("Feedback digest – this week so far (week Mon 2 Mar – Sun 8 Mar 2026")
    assert reply.image is not None and reply.image.data[:4] == b"\x89PNG"
    await adapter.say(boss, "/digest last week")
    await runtime.worker.drain()
    assert adapter.last(boss).text.startswith("Feedback digest – week Mon 23 Feb – Sun 1 Mar 2026")
    await adapter.say(boss, "/digest year")
    await runtime.worker.drain()
    assert adapter.last(boss).text == "Usage: /digest [last] [day|week|month]"
    await adapter.say(boss, "/goals")
    await runtime.worker.drain()
    assert "\nGoals – this week so far" in adapter.last(boss).text  # after the missed-twice warning (no answers yet)
    await runtime.store.dispose()


@pytest.fixture
def quick_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.runtime.supervisor

    monkeypatch.setattr(bot.runtime.supervisor, "START_BACKOFF", 0.01)
    monkeypatch.setattr(bot.runtime.supervisor, "START_BACKOFF_CAP", 0.02)


def app_settings(tmp_path: Path) -> object:
    return make_settings(storage={"url": f"sqlite+aiosqlite:///{tmp_path}/app.db"})


@pytest.mark.usefixtures("quick_restarts")
async def test_platform_unreachable_at_start_is_retried_with_one_line_each_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = LocalAdapter()
    adapter.unreachable_starts = 3
    runtime = build_runtime(app_settings(tmp_path), adapters=[adapter])  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = await run_until_started(runtime, adapter, stop)
    assert adapter.started and adapter.unreachable_starts == 0
    retries = [r.getMessage() for r in caplog.records if "could not start" in r.getMessage()]
    assert len(retries) == 3
    assert all(line.startswith("platform local could not start") and "storage" not in line for line in retries)
    stop.set()
    await asyncio.wait_for(task, 10)


@pytest.mark.usefixtures("quick_restarts")
async def test_one_platform_down_never_blocks_the_other_which_joins_once_back(tmp_path: Path) -> None:
    down = telegram_like_local_adapter()
    down.unreachable_starts = 10**9  # away for now
    up = LocalAdapter()
    runtime = build_runtime(app_settings(tmp_path), adapters=[down, up])  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = await run_until_started(runtime, up, stop)
    alice = LocalUser("1", "alice")
    await up.say(alice, "/start")
    await until(lambda: bool(up.received(alice)))
    assert "You're subscribed" in up.last(alice).text
    assert not down.started and not task.done()
    down.unreachable_starts = 0  # back
    await until(lambda: down.started)
    assert down.started
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_stop_during_start_up_ends_at_once(tmp_path: Path) -> None:
    adapter = LocalAdapter()
    adapter.start_hangs = True
    runtime = build_runtime(app_settings(tmp_path), adapters=[adapter])  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    await asyncio.sleep(0.2)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 10)  # returns, no exception


async def test_a_platform_gone_at_start_ends_the_process_when_none_is_left(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = LocalAdapter()
    adapter.revoked = "token revoked (401)"
    with pytest.raises(PlatformsGone, match="no platform left running .*local: token revoked"):
        await build_runtime(app_settings(tmp_path), adapters=[adapter]).run(asyncio.Event())  # type: ignore[arg-type]
    gone = [r.getMessage() for r in caplog.records if "stopped for good" in r.getMessage()]
    assert gone == ["platform local stopped for good: local: token revoked (401)"]


@pytest.mark.usefixtures("quick_restarts")
async def test_a_token_revoked_mid_run_ends_that_platform_only_and_leaves_customers_reachable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    revoked, other = telegram_like_local_adapter(), LocalAdapter()
    runtime = build_runtime(app_settings(tmp_path), adapters=[revoked, other])  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = await run_until_started(runtime, other, stop)
    await until(lambda: revoked.started)
    ann, bob = LocalUser("1", "ann"), LocalUser("2", "bob")
    await revoked.say(ann, "/start")
    await other.say(bob, "/start")
    await until(lambda: bool(revoked.received(ann)) and bool(other.received(bob)))
    revoked.revoked = "Unauthorized (401)"
    await runtime.engine.start_run("visit", triggered_by="test")
    await until(lambda: other.last(bob).text == "What was your favourite part?")
    await until(lambda: not revoked.started)
    assert not revoked.started and not task.done()  # telegram ended; the other platform goes on
    async with runtime.store.read() as unit:
        for platform, user in (("telegram", ann), ("local", bob)):
            customer = await unit.customers.find(platform, user.user_id)
            assert customer is not None and customer.reachable
    gone = [r.getMessage() for r in caplog.records if "stopped for good" in r.getMessage()]
    assert gone == ["platform telegram stopped for good: local: Unauthorized (401)"]
    stop.set()
    await asyncio.wait_for(task, 10)


@pytest.mark.usefixtures("quick_restarts")
async def test_what_waits_for_a_platform_that_is_down_spends_no_attempts_and_goes_once_it_is_up(
    tmp_path: Path,
) -> None:
    from sqlalchemy import text

    down, up = telegram_like_local_adapter(), LocalAdapter()
    down.unreachable_starts = 10**9
    runtime = build_runtime(app_settings(tmp_path), adapters=[down, up])  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = await run_until_started(runtime, up, stop)
    ann = LocalUser("1", "ann")
    await runtime.engine.on_message(down.inbound(ann, "/start"))  # handled while Telegram is down
    await runtime.engine.start_run("visit", triggered_by="test")
    for _ in range(20):  # the worker runs meanwhile, and keeps its hands off
        await asyncio.sleep(0.02)
    async with runtime.store.read() as unit:
        attempts = (await unit.conn.execute(text("SELECT attempts, status FROM delivery"))).all()
    assert attempts and all(row.attempts == 0 and row.status == "pending" for row in attempts)
    down.unreachable_starts = 0
    await until(lambda: len(down.received(ann)) == 2)
    assert [m.text for m in down.received(ann)][-1] == "What was your favourite part?"
    stop.set()
    await asyncio.wait_for(task, 10)
