"""`feedbot check`: everything `run` would refuse, reported at once, without changing anything.

Configuration problems (a key and what is wrong with it; exit 2) are told apart from what is wrong
around a valid configuration (the database or a platform cannot be reached; exit 1). The database
is looked at, never created or migrated. `--online` asks each platform whether it accepts the token
(Telegram's getMe, Discord's /users/@me).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import (
    DiscordSettings,
    Settings,
    StorageSettings,
    TelegramSettings,
    Validation,
    in_file_order,
    read_config,
    validate,
)
from bot.errors import ConfigError
from storage.db import StorageError, make_engine, schema_state, sqlite_file_missing
from storage.urls import safe_url, sqlite_path

ONLINE_TIMEOUT = 10.0
EXIT_OK, EXIT_UNREACHABLE, EXIT_CONFIG = 0, 1, 2


@dataclass
class CheckReport:
    problems: list[ConfigError] = field(default_factory=list)  # the configuration is wrong
    failures: list[str] = field(default_factory=list)  # something it names cannot be reached
    notes: list[str] = field(default_factory=list)  # all is well: what was found

    @property
    def exit_code(self) -> int:
        if self.problems:
            return EXIT_CONFIG
        return EXIT_UNREACHABLE if self.failures else EXIT_OK


def check_settings(path: Path, environ: Mapping[str, str]) -> tuple[CheckReport, Validation | None]:
    """The file itself, every key in it, and the environment variables it names."""
    report = CheckReport()
    try:
        data = read_config(path)
    except ConfigError as exc:
        report.problems.append(exc)
        return report, None
    result = validate(data, path.resolve().parent, environ)
    report.problems += result.problems
    platforms_only = Settings(telegram=result.sections.get("telegram"), discord=result.sections.get("discord"))
    report.problems += platforms_only.environment_problems(environ)
    report.problems.sort(key=in_file_order)
    settings = result.settings()
    if settings is not None:
        platforms = ", ".join(settings.platforms()) or "none"
        report.notes.append(
            f"{path}: OK – {len(settings.polls)} poll(s), {len(settings.goals)} goal(s), platforms: {platforms}"
        )
    return report, result


async def check_config(path: Path, environ: Mapping[str, str], online: bool = False) -> CheckReport:
    report, result = check_settings(path, environ)
    if result is None:
        return report
    storage = result.sections.get("storage")
    if isinstance(storage, StorageSettings) and not _url_problem(result):
        await _check_database(storage.url, report)
    if online:
        await _check_tokens(result, environ, report)
    return report


def _url_problem(result: Validation) -> bool:
    return any(p.key.startswith("storage") for p in result.problems)


async def _check_database(url: str, report: CheckReport) -> None:
    shown = safe_url(url)
    missing = sqlite_file_missing(url)
    if missing is not None:
        if not missing.parent.is_dir():
            report.failures.append(f"database {shown}: the folder {missing.parent} does not exist")
        else:
            report.notes.append(f"database {shown}: not created yet; `feedbot run` creates it at first start")
        return
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        report.failures.append(f"database {shown}: {path} is not a file")
        return
    engine = make_engine(url)
    try:
        state = await schema_state(engine)
    except StorageError as exc:
        report.failures.append(f"database {shown}: {exc.problem}")
        return
    finally:
        await engine.dispose()
    if state.ahead:
        report.failures.append(f"database {shown}: {state.describe()}")
    elif state.empty:
        report.notes.append(f"database {shown}: reachable, empty; `feedbot run` creates the tables at first start")
    elif state.up_to_date:
        report.notes.append(f"database {shown}: reachable, at the current revision ({state.head})")
    else:
        report.notes.append(
            f"database {shown}: reachable, at revision {state.current}; `feedbot run` (or `feedbot db upgrade`) "
            f"upgrades it to {state.head}"
        )


async def _check_tokens(result: Validation, environ: Mapping[str, str], report: CheckReport) -> None:
    telegram, discord = result.sections.get("telegram"), result.sections.get("discord")
    timeout = aiohttp.ClientTimeout(total=ONLINE_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        if isinstance(telegram, TelegramSettings) and (token := environ.get(telegram.token_env, "").strip()):
            await _telegram_get_me(http, telegram, token, report)
        if isinstance(discord, DiscordSettings) and (token := environ.get(discord.token_env, "").strip()):
            await _discord_users_me(http, discord, token, report)


async def _get_json(http: aiohttp.ClientSession, url: str, headers: Mapping[str, str]) -> tuple[int, Any]:
    async with http.get(url, headers=dict(headers)) as response:
        try:
            body = await response.json(content_type=None)
        except ValueError:
            body = None
        return response.status, body


async def _telegram_get_me(
    http: aiohttp.ClientSession, settings: TelegramSettings, token: str, report: CheckReport
) -> None:
    where = settings.base_url  # never the full URL: it holds the token
    try:
        status, body = await _get_json(http, f"{settings.base_url}{token}/getMe", {})
    except (aiohttp.ClientError, TimeoutError) as exc:
        report.failures.append(f"telegram: cannot reach {where}: {_network(exc)}")
        return
    if status in (401, 404):  # the Bot API answers an unknown token with 401, a malformed one with 404
        report.problems.append(
            ConfigError("telegram.token_env", f"Telegram refused the token in {settings.token_env} (HTTP {status})")
        )
    elif status != 200 or not isinstance(body, dict) or not body.get("ok"):
        report.failures.append(f"telegram: getMe at {where} answered HTTP {status}")
    else:
        report.notes.append(f"telegram: token accepted, the bot is @{body['result'].get('username')}")


async def _discord_users_me(
    http: aiohttp.ClientSession, settings: DiscordSettings, token: str, report: CheckReport
) -> None:
    url = f"{settings.api_base.rstrip('/')}/users/@me"
    try:
        status, body = await _get_json(http, url, {"Authorization": f"Bot {token}"})
    except (aiohttp.ClientError, TimeoutError) as exc:
        report.failures.append(f"discord: cannot reach {settings.api_base}: {_network(exc)}")
        return
    if status == 401:
        report.problems.append(
            ConfigError("discord.token_env", f"Discord refused the token in {settings.token_env} (HTTP 401)")
        )
    elif status != 200 or not isinstance(body, dict):
        report.failures.append(f"discord: /users/@me at {settings.api_base} answered HTTP {status}")
    else:
        report.notes.append(f"discord: token accepted, the bot is {body.get('username')}")


def _network(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {ONLINE_TIMEOUT:g}s"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
