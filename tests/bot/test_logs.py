"""Logs for people and for machines: JSON lines with the ids as fields, never a token, customer text
only at DEBUG."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.runtime.logs import TEXT_FORMAT, JsonFormatter, RedactingTextFormatter, call_fields, protect
from tests.adapters.fake_telegram import FakeTelegram
from tests.support import LineReader

ROOT = Path(__file__).resolve().parents[2]


def record(msg: str, *args: object, level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    rec = logging.getLogger("feedbot.test").makeRecord("feedbot.test", level, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_ids_named_by_the_format_string_become_fields() -> None:
    rec = record("inbound platform=%s chat=%s user=%s kind=%s msg=%s", "telegram", "42", "42", "text", "7")
    assert call_fields(rec) == {
        "platform": "telegram",
        "chat_id": "42",
        "user_id": "42",
        "kind": "text",
        "message_id": "7",
    }
    mixed = record("%d%% done for run=%d (%s) customer=%r", 50, 3, "ignored", 12)
    assert call_fields(mixed) == {"run": 3, "customer": 12}
    assert call_fields(record("no placeholders platform=telegram")) == {}
    assert call_fields(record("ids", platform="discord", chat_id="9")) == {"platform": "discord", "chat_id": "9"}


def test_json_lines_carry_level_logger_message_and_fields() -> None:
    entry = json.loads(JsonFormatter().format(record("delivered run=%s platform=%s", 5, "discord")))
    assert entry["level"] == "INFO" and entry["logger"] == "feedbot.test"
    assert entry["message"] == "delivered run=5 platform=discord"
    assert entry["run"] == 5 and entry["platform"] == "discord"
    assert entry["time"].endswith("+00:00")


def test_tokens_are_redacted_in_both_formats_including_tracebacks() -> None:
    token = "424242:AAtest-token-that-must-never-show"
    protect([token])
    try:
        raise RuntimeError(f"https://api.telegram.org/bot{token}/getMe failed")
    except RuntimeError:
        rec = record("request to %s failed", f"https://api.telegram.org/bot{token}/getMe")
        rec.exc_info = sys.exc_info()
    for formatter in (JsonFormatter(), RedactingTextFormatter(TEXT_FORMAT)):
        line = formatter.format(rec)
        assert token not in line and "<token>" in line
        rec.exc_text = None


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


async def run_and_say(tmp_path: Path, telegram: FakeTelegram, *options: str) -> list[str]:
    """Run `feedbot run` against the fake Bot API, let a customer write, stop it; its log lines."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///feedbot.db"\n[[polls]]\nid = "visit"\nquestion = "Favourite part?"\n'
        f'[telegram]\nbase_url = "{telegram.base_url}"\n'
    )
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": telegram.token}
    with LineReader(
        [sys.executable, "-m", "bot.runtime.cli", "run", "--config", str(config), *options], env=env
    ) as proc:
        await asyncio.to_thread(proc.wait_for, "feedbot ready")
        alice = telegram.user(5551234, "Alice")
        telegram.send_text(alice, "/start")
        await asyncio.to_thread(proc.wait_for, "subscribed")
        telegram.send_text(alice, "The quiet garden, honestly")
        await asyncio.to_thread(proc.wait_for, "inbound platform=telegram", 60.0, 2)  # /start, then the text
        proc.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.process.wait, 30) == 0, proc.text()
        await asyncio.to_thread(proc.wait_for, "telegram adapter stopped")
        return list(proc.lines)


async def test_run_logs_json_lines_with_ids_and_never_the_token(tmp_path: Path, telegram: FakeTelegram) -> None:
    lines = await run_and_say(tmp_path, telegram, "--log-format", "json")
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    starting = next(e for e in entries if "starting" in e["message"])
    assert starting["message"].startswith("feedbot ") and "platforms telegram (long polling)" in starting["message"]
    inbound = [e for e in entries if e["message"].startswith("inbound ") and e.get("kind") == "text"]
    assert inbound and inbound[-1]["platform"] == "telegram"
    assert inbound[-1]["chat_id"] == "5551234" and inbound[-1]["user_id"] == "5551234"
    text = "\n".join(lines)
    assert telegram.token not in text
    assert "quiet garden" not in text  # customer text only at DEBUG
    assert {e["level"] for e in entries} <= {"INFO", "WARNING"}


async def test_verbose_adds_customer_text_at_debug_only(tmp_path: Path, telegram: FakeTelegram) -> None:
    lines = await run_and_say(tmp_path, telegram, "-v", "--log-format", "json")
    entries = [json.loads(line) for line in lines]
    quoted = [e for e in entries if "quiet garden" in e["message"]]
    assert quoted and all(e["level"] == "DEBUG" for e in quoted)
    assert telegram.token not in "\n".join(lines)
