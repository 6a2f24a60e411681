"""Settings: TOML read with tomllib, validated by pydantic into frozen models.

Every problem becomes one `ConfigError` naming the key (`polls[0].schedule`) and what is wrong.
`config.example.toml` mirrors these models key for key.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from bot.cron import WallClockCronTrigger
from bot.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: object) -> timedelta:
    """'90m', '24h', '7d' or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30m', '24h' or '7d'")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("must not be negative")
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    raise ValueError(f"expected a duration such as '30m', '24h' or '7d', got {value!r}")


def _validate_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


def validate_cron(expr: str, timezone: str = "UTC") -> str:
    if len(expr.split()) != 5:
        raise ValueError(f"invalid cron expression {expr!r}: expected 5 fields (minute hour day month weekday)")
    try:
        trigger = WallClockCronTrigger(expr, ZoneInfo(timezone))
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expr!r}: {exc}") from exc
    if trigger.next_after(datetime.now(UTC)) is None:
        raise ValueError(f"cron expression {expr!r} never fires")
    return expr


def _ids(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise ValueError("expected a list of ids")
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | str) or str(item).strip() == "":
            raise ValueError(f"expected ids (numbers or strings), got {item!r}")
        out.append(str(item).strip())
    return tuple(out)


def _languages(value: object) -> tuple[str, ...]:
    from bot.text import supported_language

    if not isinstance(value, list | tuple) or not value:
        raise ValueError('expected a non-empty list of language codes such as ["en", "fr"]')
    codes = []
    for item in value:
        if not isinstance(item, str) or not supported_language(item.strip().lower()):
            raise ValueError(f"unsupported language {item!r} (ISO 639-1 codes such as 'en', 'fr', 'es', 'de')")
        codes.append(item.strip().lower())
    return tuple(dict.fromkeys(codes))


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
IdList = Annotated[tuple[str, ...], BeforeValidator(_ids)]
TimeZoneName = Annotated[str, BeforeValidator(_validate_timezone)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuietHours(_Frozen):
    start: time
    end: time

    @classmethod
    def parse(cls, value: object) -> QuietHours:
        if isinstance(value, QuietHours):
            return value
        if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}:\d{2}-\d{1,2}:\d{2}", value.strip()):
            raise ValueError(f"expected 'HH:MM-HH:MM', got {value!r}")
        a, b = value.strip().split("-")
        try:
            start, end = time.fromisoformat(a.zfill(5)), time.fromisoformat(b.zfill(5))
        except ValueError as exc:
            raise ValueError(f"expected 'HH:MM-HH:MM', got {value!r}") from exc
        if start == end:
            raise ValueError("start and end of quiet hours must differ")
        return cls(start=start, end=end)

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class StorageSettings(_Frozen):
    url: str = "sqlite+aiosqlite:///feedbot.db"

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not (value.startswith("sqlite+aiosqlite://") or value.startswith("postgresql+asyncpg://")):
            raise ValueError("use an async URL: 'sqlite+aiosqlite:///file.db' or 'postgresql+asyncpg://...'")
        return value


class EngineSettings(_Frozen):
    timezone: TimeZoneName = "UTC"
    quiet_hours: Annotated[QuietHours | None, BeforeValidator(lambda v: None if v is None else QuietHours.parse(v))] = (
        None
    )
    missed_run_grace: Duration = timedelta(hours=1)
    max_attempts: int = Field(default=5, ge=1, le=50)
    privacy_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    # Languages of the answers (ISO 639-1): lemmas and stop words for themes and "also mentioned".
    languages: Annotated[tuple[str, ...], BeforeValidator(_languages)] = ("en",)


class PollSettings(_Frozen):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    question: str = Field(min_length=1, max_length=1000)
    schedule: str | None = None
    timezone: TimeZoneName | None = None
    rating: bool = True
    scale: Literal[5, 10] = 5
    tag: str | None = None
    remind_after: Duration | None = None
    close_after: Duration = timedelta(days=3)


class DigestSettings(_Frozen):
    schedule: str | None = None
    period: Literal["day", "week", "month"] = "week"
    timezone: TimeZoneName | None = None


class GoalSettings(_Frozen):
    metric: Literal["response_rate", "average_rating", "answers", "nps"]
    target: float
    poll: str | None = None


class ThemeSettings(_Frozen):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^*]")
    keywords: tuple[Annotated[str, Field(pattern=r"[^\W_]")], ...] = Field(min_length=1)


class TelegramSettings(_Frozen):
    token_env: str = "TELEGRAM_BOT_TOKEN"
    base_url: str = "https://api.telegram.org/bot"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_secret_env: str = "TELEGRAM_WEBHOOK_SECRET"
    listen: str = "127.0.0.1"
    port: int = Field(default=8443, ge=1, le=65535)
    staff: IdList = ()
    managers: IdList = ()
    digest_chats: IdList = ()
    # Messages per second overall (Telegram allows about 30; 1000 with paid broadcasts).
    send_rate: float = Field(default=25, gt=0, le=1000)


class DiscordSettings(_Frozen):
    token_env: str = "DISCORD_BOT_TOKEN"
    api_base: str = "https://discord.com/api/v10"
    guild_ids: IdList = ()
    staff: IdList = ()
    managers: IdList = ()
    staff_roles: tuple[str, ...] = ()
    manager_roles: tuple[str, ...] = ()
    digest_channels: IdList = ()
    # Requests per second we allow ourselves (Discord's global limit is 50; mass DMs should go slowly).
    send_rate: float = Field(default=5, gt=0, le=50)


class Settings(_Frozen):
    storage: StorageSettings = StorageSettings()
    engine: EngineSettings = EngineSettings()
    polls: tuple[PollSettings, ...] = ()
    digest: DigestSettings = DigestSettings()
    goals: tuple[GoalSettings, ...] = ()
    themes: tuple[ThemeSettings, ...] = ()
    telegram: TelegramSettings | None = None
    discord: DiscordSettings | None = None

    def poll(self, poll_id: str) -> PollSettings | None:
        return next((p for p in self.polls if p.id == poll_id), None)

    def poll_timezone(self, poll: PollSettings) -> ZoneInfo:
        return ZoneInfo(poll.timezone or self.engine.timezone)

    def token(self, platform: Literal["telegram", "discord"], environ: Mapping[str, str] | None = None) -> str:
        section = self.telegram if platform == "telegram" else self.discord
        if section is None:
            raise ConfigError(platform, "section missing")
        env = os.environ if environ is None else environ
        value = env.get(section.token_env, "").strip()
        if not value:
            raise ConfigError(f"{platform}.token_env", f"environment variable {section.token_env} is not set")
        return value

    def require_tokens(self, environ: Mapping[str, str] | None = None) -> None:
        if self.telegram is not None:
            self.token("telegram", environ)
        if self.discord is not None:
            self.token("discord", environ)


def _check_cross_references(settings: Settings) -> None:
    seen: set[str] = set()
    for i, poll in enumerate(settings.polls):
        if poll.id in seen:
            raise ConfigError(f"polls[{i}].id", f"duplicate poll id {poll.id!r}")
        seen.add(poll.id)
        if poll.schedule is not None:
            try:
                validate_cron(poll.schedule, poll.timezone or settings.engine.timezone)
            except ValueError as exc:
                raise ConfigError(f"polls[{i}].schedule", str(exc)) from None
        if poll.remind_after is not None and poll.remind_after >= poll.close_after:
            raise ConfigError(f"polls[{i}].remind_after", "must be shorter than close_after")
    if settings.digest.schedule is not None:
        try:
            validate_cron(settings.digest.schedule, settings.digest.timezone or settings.engine.timezone)
        except ValueError as exc:
            raise ConfigError("digest.schedule", str(exc)) from None
    names: set[str] = set()
    for i, theme in enumerate(settings.themes):
        if theme.name in names:
            raise ConfigError(f"themes[{i}].name", f"duplicate theme name {theme.name!r}")
        names.add(theme.name)
    for i, goal in enumerate(settings.goals):
        if goal.poll is not None and goal.poll not in seen:
            raise ConfigError(f"goals[{i}].poll", f"no poll with id {goal.poll!r}")
        if goal.metric == "nps":
            polls = [settings.poll(goal.poll)] if goal.poll else list(settings.polls)
            if not any(p is not None and p.scale == 10 for p in polls):
                raise ConfigError(f"goals[{i}].metric", "'nps' needs a poll with scale = 10")


def _key(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith("function-") or part in {"literal", "str", "int"}:
            continue
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def _problem(error: Mapping[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required key is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def settings_from_mapping(data: Mapping[str, Any]) -> Settings:
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(_key(tuple(first["loc"])), _problem(first)) from None
    _check_cross_references(settings)
    return settings


def load_settings(path: str | Path) -> Settings:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read file: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"not valid TOML: {exc}") from None
    return settings_from_mapping(data)
