"""`feedbot run` as a real process stops on SIGINT or SIGTERM at any time, start-up included, with exit 0.

Telegram is the fake Bot API server in this test's event loop; the process is waited for in a thread.
The figures (how fast it stops) are measured by bench/shutdown.py, not asserted here.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.adapters.fake_telegram import FakeTelegram
from tests.support import LineReader

HANG_GUARD = 30  # seconds: only so that a broken stop fails the test instead of hanging the suite


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        fake.long_poll_cap = 0.5
        yield fake


def start_bot(tmp_path: Path, telegram: FakeTelegram) -> LineReader:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path}/feedbot.db"\n'
        '[[polls]]\nid = "visit"\nquestion = "How was it?"\n'
        f'[telegram]\nbase_url = "{telegram.base_url}"\n'
    )
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": telegram.token}
    return LineReader([sys.executable, "-m", "bot.runtime.cli", "run", "--config", str(config)], env=env)


async def stop_with(bot: LineReader, sig: signal.Signals) -> int:
    bot.process.send_signal(sig)
    return await asyncio.to_thread(bot.process.wait, HANG_GUARD)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_a_signal_while_telegram_never_answers_at_start(
    telegram: FakeTelegram, tmp_path: Path, sig: signal.Signals
) -> None:
    telegram.stall("getMe")  # the connection is made, the answer never comes
    with start_bot(tmp_path, telegram) as bot:
        await telegram.until(lambda: telegram.calls_to("getMe"), within=60)
        assert await stop_with(bot, sig) == 0, bot.text()
    assert "Traceback" not in bot.text()


async def test_a_signal_while_start_is_being_retried(telegram: FakeTelegram, tmp_path: Path) -> None:
    telegram.fail("deleteWebhook", 502, "Bad Gateway", times=None)
    with start_bot(tmp_path, telegram) as bot:
        await asyncio.to_thread(bot.wait_for, "platform telegram could not start", 60)
        assert await stop_with(bot, signal.SIGINT) == 0, bot.text()
    assert "Traceback" not in bot.text()


async def test_a_signal_while_running(telegram: FakeTelegram, tmp_path: Path) -> None:
    with start_bot(tmp_path, telegram) as bot:
        await asyncio.to_thread(bot.wait_for, "feedbot ready", 60)
        assert "platforms telegram" in bot.text()
        assert await stop_with(bot, signal.SIGTERM) == 0, bot.text()
    assert "feedbot stopping" in bot.text() and "Traceback" not in bot.text()


async def test_a_token_revoked_ends_the_process_non_zero_with_one_line(telegram: FakeTelegram, tmp_path: Path) -> None:
    with start_bot(tmp_path, telegram) as bot:
        await asyncio.to_thread(bot.wait_for, "feedbot ready", 60)
        telegram.token = "123456:another-token"
        code = await asyncio.to_thread(bot.process.wait, HANG_GUARD)
    assert code == 1, bot.text()
    gone = [line for line in bot.lines if "rejected the token" in line]
    assert len(gone) == 2, bot.text()  # the platform's line, then the process's last word
    assert "platform telegram stopped for good" in gone[0]
    assert gone[1].startswith("feedbot: no platform left running")
    assert "Traceback" not in bot.text()
