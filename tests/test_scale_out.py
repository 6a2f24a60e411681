"""Several `feedbot run` processes on one database, as real processes against the fake Bot API.

- SQLite stays single-process: a second `run` on the same file refuses to start, in one line.
- PostgreSQL: every process drains the outbox and they share the platform's pace through the
  database: no 429 from the fake (which refuses sends above its limits), each chat's messages in
  order and at least a second apart whichever process sent them, nothing sent twice.
- Leadership: exactly one process polls Telegram and runs the scheduler; when it is killed with
  SIGKILL another takes over, and no update is lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.adapters.fake_telegram import FakeLimits, FakeTelegram, FakeUser
from tests.support import LineReader

STAFF = FakeUser(900, "Sam")
QUESTION = "What was your favourite part?"
RATE = 40  # what the processes may send together; the fake allows 50, and 1 s per private chat


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(limits=FakeLimits(per_second=50, private_gap=1.0, group_per_minute=20)) as fake:
        fake.long_poll_cap = 0.5
        yield fake


def write_config(tmp_path: Path, url: str, telegram: FakeTelegram, rate: int = RATE) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = "{url}"\n'
        f'[[polls]]\nid = "visit"\nquestion = "{QUESTION}"\n'
        f'[telegram]\nbase_url = "{telegram.base_url}"\nstaff = [{STAFF.id}]\nsend_rate = {rate}\n'
    )
    return config


def start_bot(config: Path, telegram: FakeTelegram) -> LineReader:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": telegram.token}
    return LineReader([sys.executable, "-m", "bot.runtime.cli", "run", "--config", str(config)], env=env)


async def until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def stop_all(*processes: LineReader) -> None:
    for process in processes:
        if process.process.poll() is None:
            process.process.send_signal(signal.SIGTERM)
    for process in processes:
        code = await asyncio.to_thread(process.process.wait, 30)
        assert code in (0, -signal.SIGKILL), process.text()


async def test_a_second_run_on_one_sqlite_file_refuses_to_start(tmp_path: Path, telegram: FakeTelegram) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/feedbot.db", telegram)
    with start_bot(config, telegram) as first:
        await asyncio.to_thread(first.wait_for, "feedbot ready", 120)
        with start_bot(config, telegram) as second:
            code = await asyncio.to_thread(second.process.wait, 60)
            assert code == 1, second.text()
            errors = [line for line in second.lines if line.startswith("feedbot:")]
            assert len(errors) == 1, second.text()
            assert "already running" in errors[0] and "PostgreSQL" in errors[0], errors[0]
            assert str(tmp_path / "feedbot.db") in errors[0]
        assert first.process.poll() is None, "the first process must carry on"
        telegram.send_text(FakeUser(10_001, "Ann"), "/start")
        await telegram.until(lambda: telegram.texts(10_001), 30)
        await stop_all(first)
    # Once the first has stopped, a new one starts on the same file.
    with start_bot(config, telegram) as third:
        await asyncio.to_thread(third.wait_for, "feedbot ready", 120)
        await stop_all(third)
