"""`feedbot check` as a real process: every problem at once, the database looked at (never created or
migrated), and with --online each token asked of a fake platform server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from storage.db import alembic_config, make_engine, upgrade
from tests.adapters.fake_discord import FakeDiscord
from tests.adapters.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
POLL = '[[polls]]\nid = "visit"\nquestion = "What was your favourite part?"\n'

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()  # the newest migration


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


async def check(config: Path, *extra: str, env: dict[str, str] | None = None) -> Result:
    """Run `feedbot check` in its own process while this test's event loop keeps serving the fakes."""
    base = {k: v for k, v in os.environ.items() if not k.endswith(("_BOT_TOKEN", "_WEBHOOK_SECRET"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.runtime.cli",
        "check",
        "--config",
        str(config),
        *extra,
        cwd=ROOT,
        env={**base, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


async def test_a_new_sqlite_database_is_reported_and_not_created(tmp_path: Path) -> None:
    config = write(tmp_path, f'[storage]\nurl = "sqlite:///feedbot.db"\n{POLL}')
    result = await check(config)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{config}: OK – 1 poll(s), 0 goal(s), platforms: none",
        f"database sqlite+aiosqlite:///{tmp_path}/feedbot.db: not created yet; `feedbot run` creates it at first start",
    ]
    assert not await asyncio.to_thread((tmp_path / "feedbot.db").exists)


async def test_an_existing_database_at_the_current_revision(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/feedbot.db")
    await upgrade(engine)
    await engine.dispose()
    result = await check(write(tmp_path, f'[storage]\nurl = "sqlite:///feedbot.db"\n{POLL}'))
    assert result.returncode == 0, result.stderr
    assert f"feedbot.db: reachable, at the current revision ({HEAD})" in result.stdout


async def test_an_empty_postgresql_database_will_be_created_at_first_run(tmp_path: Path, fresh_pg_url: str) -> None:
    plain = fresh_pg_url.replace("postgresql+asyncpg://", "postgres://")
    result = await check(write(tmp_path, f'[storage]\nurl = "{plain}"\n'))
    assert result.returncode == 0, result.stderr
    assert (
        f"database {fresh_pg_url}: reachable, empty; `feedbot run` creates the tables at first start" in result.stdout
    )


async def test_a_database_that_cannot_be_reached_is_exit_1_naming_it(tmp_path: Path) -> None:
    result = await check(write(tmp_path, '[storage]\nurl = "postgresql://feedbot:pw@127.0.0.1:1/feedbot"\n'))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "feedbot: database postgresql+asyncpg://feedbot:***@127.0.0.1:1/feedbot: "
        "database error: connection refused (is the database server running?)"
    )
    nowhere = await check(write(tmp_path, '[storage]\nurl = "sqlite:///no/such/folder/feedbot.db"\n'))
    assert nowhere.returncode == 1
    assert f"the folder {tmp_path}/no/such/folder does not exist" in nowhere.stderr


async def test_configuration_and_environment_problems_come_together(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        '[[polls]]\nid = "visit"\nquestion = ""\n'
        '[telegram]\nmode = "webhook"\nwebhook_url = "https://example.com:8080/t"\n'
        "[discord]\n",
    )
    result = await check(config)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "feedbot: configuration error: polls[0].question: must not be empty: it is the text customers are asked",
        "feedbot: configuration error: telegram.webhook_url: Telegram accepts the ports 443, 80, 88, 8443 only, "
        "got 'https://example.com:8080/t'",
        "feedbot: configuration error: discord.token_env: environment variable DISCORD_BOT_TOKEN is not set",
    ]


async def test_webhook_mode_needs_the_secret_variable(tmp_path: Path) -> None:
    config = write(tmp_path, '[telegram]\nmode = "webhook"\nwebhook_url = "https://example.com/t"\n')
    result = await check(config, env={"TELEGRAM_BOT_TOKEN": "1:x"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "feedbot: configuration error: telegram.webhook_secret_env: "
        "environment variable TELEGRAM_WEBHOOK_SECRET is not set"
    )
    ok = await check(config, env={"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_WEBHOOK_SECRET": "s3cret"})
    assert ok.returncode == 0, ok.stderr


@pytest.fixture
async def platforms() -> AsyncIterator[tuple[FakeTelegram, FakeDiscord]]:
    async with FakeTelegram() as telegram:
        discord = FakeDiscord()
        await discord.start()
        try:
            yield telegram, discord
        finally:
            await discord.stop()


def platform_config(tmp_path: Path, telegram: FakeTelegram, discord: FakeDiscord) -> Path:
    return write(
        tmp_path,
        f'[storage]\nurl = "sqlite:///feedbot.db"\n[telegram]\nbase_url = "{telegram.base_url}"\n'
        f'[discord]\napi_base = "{discord.api_base}"\n',
    )


async def test_online_check_asks_each_platform_about_its_token(
    tmp_path: Path, platforms: tuple[FakeTelegram, FakeDiscord]
) -> None:
    telegram, discord = platforms
    config = platform_config(tmp_path, telegram, discord)
    good = {"TELEGRAM_BOT_TOKEN": telegram.token, "DISCORD_BOT_TOKEN": discord.token}
    result = await check(config, "--online", env=good)
    assert result.returncode == 0, result.stderr
    assert "telegram: token accepted, the bot is @FeedbackTestBot" in result.stdout
    assert "discord: token accepted, the bot is FeedBot" in result.stdout
    assert [m for m, _ in telegram.calls] == ["getme"]
    assert [r.path for r in discord.requests] == ["/api/v10/users/@me"]

    offline = await check(config, env=good)  # without --online nothing is asked
    assert offline.returncode == 0 and len(telegram.calls) == 1 and len(discord.requests) == 1

    bad = {"TELEGRAM_BOT_TOKEN": "999:wrong-token", "DISCORD_BOT_TOKEN": "wrong-token"}
    refused = await check(config, "--online", env=bad)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "feedbot: configuration error: telegram.token_env: Telegram refused the token in TELEGRAM_BOT_TOKEN (HTTP 401)",
        "feedbot: configuration error: discord.token_env: Discord refused the token in DISCORD_BOT_TOKEN (HTTP 401)",
    ]
    assert "wrong-token" not in refused.stderr + refused.stdout


async def test_online_check_of_a_platform_that_cannot_be_reached(tmp_path: Path) -> None:
    config = write(tmp_path, '[storage]\nurl = "sqlite:///f.db"\n[telegram]\nbase_url = "http://127.0.0.1:1/bot"\n')
    result = await check(config, "--online", env={"TELEGRAM_BOT_TOKEN": "123:secret-token"})
    assert result.returncode == 1
    assert result.stderr.startswith("feedbot: telegram: cannot reach http://127.0.0.1:1/bot: ")
    assert "secret-token" not in result.stderr
