"""Settings: TOML read with tomllib, validated by pydantic into frozen models.

Every problem becomes a `ConfigError` naming the key (`polls[0].schedule`) and what is wrong, in
plain words; all problems of a file are reported at once (`ConfigProblems`). `config.example.toml`
mirrors these models key for key.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bot.config_rules import cross_problems, validate_cron, webhook_url_problem
from bot.config_texts import language_problem, question_table, text_overrides
from bot.config_words import key_path, plain_problem, unknown_key
from bot.errors import ConfigError
from bot.i18n import Voice
from storage.urls import async_url

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
TAG = re.compile(r"^[A-Za-z0-9_-]+$")
TAG_MAX = 64  # the tag columns hold 64 characters; a Telegram deep-link payload too
POLL_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
TELEGRAM_ID = re.compile(r"^-?\d{1,20}$")
DISCORD_ID = re.compile(r"^\d{1,20}$")
WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
DEFAULT_STORAGE_URL = "sqlite+aiosqlite:///feedbot.db"


class ConfigProblems(ConfigError):
    """Several configuration problems, each printed on its own line."""

    def __init__(self, problems: Sequence[ConfigError]) -> None:
        super().__init__(problems[0].key, problems[0].problem)
        self.problems = tuple(problems)

    def __str__(self) -> str:
        return "\n".join(f"{p.key}: {p.problem}" for p in self.problems)


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


def _positive_duration(value: object) -> timedelta:
    duration = parse_duration(value)
    if duration <= timedelta(0):
        raise ValueError(f"must be longer than zero, got {value!r}")
    return duration


def _validate_timezone(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an IANA time zone name such as 'Europe/London', got {value!r}")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


def _id_list(pattern: re.Pattern[str], what: str) -> Any:
    def parse(value: object) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list | tuple):
            raise ValueError(f"expected a list of {what}, such as [123456789]")
        out = []
        for item in value:
            text = str(item).strip() if isinstance(item, int | str) and not isinstance(item, bool) else None
            if text is None or not pattern.match(text):
                raise ValueError(f"expected {what}, got {item!r}")
            out.append(text)
        return tuple(out)

    return BeforeValidator(parse)


def _http_url(value: object) -> str:
    if not isinstance(value, str) or urlsplit(value.strip()).scheme not in {"http", "https"}:
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    if not urlsplit(value.strip()).netloc:
        raise ValueError(f"the URL has no host: {value!r}")
    return value.strip()


def _names(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError('expected a list of names, such as ["Staff"]')
    out = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"expected non-empty names in quotes, got {item!r}")
        out.append(item.strip())
    return tuple(out)


def _languages(value: object) -> tuple[str, ...]:
    from bot.reporting.text import supported_language

    if not isinstance(value, list | tuple) or not value:
        raise ValueError('expected a non-empty list of language codes such as ["en", "fr"]')
    codes = []
    for item in value:
        if not isinstance(item, str) or not supported_language(item.strip().lower()):
            raise ValueError(f"unsupported language {item!r} (ISO 639-1 codes such as 'en', 'fr', 'es', 'de')")
        codes.append(item.strip().lower())
    return tuple(dict.fromkeys(codes))


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[timedelta, BeforeValidator(_positive_duration)]
TelegramIds = Annotated[tuple[str, ...], _id_list(TELEGRAM_ID, "Telegram ids (numbers)")]
DiscordIds = Annotated[tuple[str, ...], _id_list(DISCORD_ID, "Discord ids (numbers, as Copy ID gives them)")]
TimeZoneName = Annotated[str, BeforeValidator(_validate_timezone)]
HttpUrl = Annotated[str, BeforeValidator(_http_url)]
# Cron syntax here; whether it fires in the poll's own time zone is a rule between keys.
Schedule = Annotated[str, BeforeValidator(lambda v: validate_cron(v) if isinstance(v, str) else v)]
Names = Annotated[tuple[str, ...], BeforeValidator(_names)]


def _keyword(value: str) -> str:
    if not re.search(r"[^\W_]", value):
        raise ValueError(f"keyword {value!r} has no letters or digits")
    return value


Keywords = Annotated[tuple[Annotated[str, AfterValidator(_keyword)], ...], BeforeValidator(_names)]


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
    """`url` as people have it (sqlite:///, postgres://, postgresql://), stored with its async driver;
    a relative SQLite path is relative to the config file's folder. `url_env` reads it from there."""

    url: str = Field(default=DEFAULT_STORAGE_URL, validate_default=True)
    url_env: str | None = None

    @field_validator("url", mode="before")
    @classmethod
    def _async_driver(cls, value: object, info: ValidationInfo) -> str:
        if not isinstance(value, str):
            raise ValueError(f"expected a database URL in quotes, got {value!r}")
        base_dir = (info.context or {}).get("base_dir")
        return async_url(value, base_dir)


class EngineSettings(_Frozen):
    timezone: TimeZoneName = "UTC"
    quiet_hours: Annotated[QuietHours | None, BeforeValidator(lambda v: None if v is None else QuietHours.parse(v))] = (
        None
    )
    missed_run_grace: Duration = timedelta(hours=1)
    max_attempts: int = Field(default=5, ge=1, le=50)
    privacy_url: HttpUrl | None = None
    # Languages of the answers (ISO 639-1): lemmas and stop words for themes and "also mentioned".
    languages: Annotated[tuple[str, ...], BeforeValidator(_languages)] = ("en",)
    # The language of texts for customers whose platform language has no catalog, and of digests.
    language: str = "en"

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: object) -> object:
        problem = language_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    # Anti-fatigue: a customer asked within this many days is skipped by a run (0 = off).
    min_days_between_questions: int = Field(default=0, ge=0, le=365)


class PollSettings(_Frozen):
    id: str
    # One text, or one per language ({ en = "...", de = "..." }): see `question_in`.
    question: Annotated[str | dict[str, str], BeforeValidator(question_table)]
    schedule: Schedule | None = None
    timezone: TimeZoneName | None = None
    rating: bool = True
    scale: Literal[5, 10] = 5
    tag: str | None = None
    remind_after: PositiveDuration | None = None
    close_after: PositiveDuration = timedelta(days=3)
    # Answers stored with no link to the customer (see README: what this guarantees, and what not).
    anonymous: bool = False

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: object) -> object:
        if not isinstance(value, str) or not POLL_ID.match(value):
            raise ValueError(f"use 1-40 of A-Z a-z 0-9 _ - (staff type it: /poll ID), got {value!r}")
        return value

    @field_validator("question")
    @classmethod
    def _question_length(cls, value: str | dict[str, str]) -> str | dict[str, str]:
        if isinstance(value, str) and len(value) > 1000:
            raise ValueError("too long: at most 1000 characters")
        return value

    def question_in(self, language: str, default: str) -> str:
        """The question in `language`, else in `default`, else the first one given."""
        if isinstance(self.question, str):
            return self.question
        return self.question.get(language) or self.question.get(default) or next(iter(self.question.values()))

    def translations(self) -> dict[str, str]:
        """The question by language ({} when it is one text for every language)."""
        return {} if isinstance(self.question, str) else dict(self.question)

    @field_validator("tag", mode="before")
    @classmethod
    def _tag(cls, value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, str) or not TAG.match(value):
            raise ValueError(f"a tag is letters, digits, _ and - only, got {value!r}")
        if len(value) > TAG_MAX:
            raise ValueError(f"too long: a tag has at most {TAG_MAX} characters, this one {len(value)}")
        return value


class DigestSettings(_Frozen):
    schedule: Schedule | None = None
    period: Literal["day", "week", "month"] = "week"
    timezone: TimeZoneName | None = None


class AlertSettings(_Frozen):
    """Where problem answers and customers' follow-ups are posted at once; left out: the digest chats."""

    telegram_chats: TelegramIds | None = None
    discord_channels: DiscordIds | None = None
    # How the customer sees a staff reply introduced: "A message from {business} about your feedback".
    business: str = Field(default="the team", min_length=1, max_length=100)


class GoalSettings(_Frozen):
    metric: Literal["response_rate", "average_rating", "answers", "nps"]
    target: float
    poll: str | None = None


class ThemeSettings(_Frozen):
    name: str = Field(max_length=100, pattern=r"^[^*]")
    keywords: Keywords = Field(min_length=1)

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty")
        return value.strip() if isinstance(value, str) else value


class PlatformSettings(_Frozen):
    """A platform's section: every one names the environment variable holding its token.

    A section present in the file means the platform runs (bot.platforms knows how to build it).
    """

    token_env: str


class TelegramSettings(PlatformSettings):
    token_env: str = "TELEGRAM_BOT_TOKEN"
    base_url: HttpUrl = "https://api.telegram.org/bot"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = Field(default=None, validate_default=True)
    webhook_secret_env: str = "TELEGRAM_WEBHOOK_SECRET"
    # How many webhook calls Telegram may have open at once (its range 1-100, default 40).
    webhook_max_connections: int = Field(default=40, ge=1, le=100)
    listen: str = "127.0.0.1"
    port: int = Field(default=8443, ge=1, le=65535)
    staff: TelegramIds = ()
    managers: TelegramIds = ()
    digest_chats: TelegramIds = ()
    # Messages per second overall (Telegram allows about 30; 1000 with paid broadcasts).
    send_rate: float = Field(default=25, gt=0, le=1000)

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("mode") == "webhook" and (problem := webhook_url_problem(value)) is not None:
            raise ValueError(problem)
        return value


class DiscordSettings(PlatformSettings):
    token_env: str = "DISCORD_BOT_TOKEN"
    api_base: HttpUrl = "https://discord.com/api/v10"
    guild_ids: DiscordIds = ()
    staff: DiscordIds = ()
    managers: DiscordIds = ()
    # Roles by id (Copy ID); names are resolved to ids at start, in the servers of guild_ids only.
    staff_role_ids: DiscordIds = ()
    manager_role_ids: DiscordIds = ()
    staff_roles: Names = ()
    manager_roles: Names = ()
    digest_channels: DiscordIds = ()
    # Requests per second we allow ourselves (Discord's global limit is 50; mass DMs should go slowly).
    send_rate: float = Field(default=5, gt=0, le=50)


class HttpSettings(_Frozen):
    """Health and metrics server (/healthz, /readyz, /metrics); no section, no server."""

    listen: str = "127.0.0.1"
    port: int = Field(default=9100, ge=0, le=65535)  # 0: any free port (tests)


class Settings(_Frozen):
    storage: StorageSettings = StorageSettings()
    engine: EngineSettings = EngineSettings()
    polls: tuple[PollSettings, ...] = ()
    digest: DigestSettings = DigestSettings()
    alerts: AlertSettings = AlertSettings()
    goals: tuple[GoalSettings, ...] = ()
    themes: tuple[ThemeSettings, ...] = ()
    telegram: TelegramSettings | None = None
    discord: DiscordSettings | None = None
    http: HttpSettings | None = None
    # [texts.LANG] KEY = "...": wordings that replace the shipped ones (bot.config_texts checks them).
    texts: dict[str, dict[str, str]] = {}

    def voice(self, language: str | None) -> Voice:
        """The texts for a platform language: its catalog when feedbot has one, else `[engine] language`."""
        return Voice.choose(language, self.engine.language, self.texts)

    def poll(self, poll_id: str) -> PollSettings | None:
        return next((p for p in self.polls if p.id == poll_id), None)

    def poll_timezone(self, poll: PollSettings) -> ZoneInfo:
        return ZoneInfo(poll.timezone or self.engine.timezone)

    def platform_sections(self) -> dict[str, PlatformSettings]:
        """The configured platforms (their sections present), by name, in file-model order."""
        return {name: value for name, value in self if isinstance(value, PlatformSettings)}

    def platforms(self) -> list[str]:
        return list(self.platform_sections())

    def token(self, platform: str, environ: Mapping[str, str] | None = None) -> str:
        section = self.platform_sections().get(platform)
        if section is None:
            raise ConfigError(platform, "section missing")
        env = os.environ if environ is None else environ
        value = env.get(section.token_env, "").strip()
        if not value:
            raise ConfigError(f"{platform}.token_env", f"environment variable {section.token_env} is not set")
        return value

    def environment_problems(self, environ: Mapping[str, str] | None = None) -> list[ConfigError]:
        """What `run` needs from the environment: each platform's token, the webhook secret."""
        env = os.environ if environ is None else environ
        problems: list[ConfigError] = []
        for platform in self.platforms():
            try:
                self.token(platform, env)
            except ConfigError as exc:
                problems.append(exc)
        if self.telegram is not None and self.telegram.mode == "webhook":
            name = self.telegram.webhook_secret_env
            secret = env.get(name, "").strip()
            if not secret:
                problems.append(ConfigError("telegram.webhook_secret_env", f"environment variable {name} is not set"))
            elif not WEBHOOK_SECRET.match(secret):
                problems.append(
                    ConfigError("telegram.webhook_secret_env", f"{name} must be 1-256 characters of A-Z a-z 0-9 _ -")
                )
        return problems

    def require_environment(self, environ: Mapping[str, str] | None = None) -> None:
        problems = self.environment_problems(environ)
        if problems:
            raise ConfigProblems(problems)


# ---------------------------------------------------------------------------------------------- validation
_SECTIONS: dict[str, type[_Frozen]] = {
    "storage": StorageSettings,
    "engine": EngineSettings,
    "digest": DigestSettings,
    "alerts": AlertSettings,
    "telegram": TelegramSettings,
    "discord": DiscordSettings,
    "http": HttpSettings,
}
_LISTS: dict[str, type[_Frozen]] = {"polls": PollSettings, "goals": GoalSettings, "themes": ThemeSettings}


@dataclass
class Validation:
    """Every problem of a configuration, and the parts that are valid on their own (for `check`)."""

    sections: dict[str, Any] = field(default_factory=dict)
    lists: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    problems: list[ConfigError] = field(default_factory=list)

    def settings(self) -> Settings | None:
        if self.problems:
            return None
        parts: dict[str, Any] = dict(self.sections)
        parts.update({name: tuple(item for _, item in items) for name, items in self.lists.items()})
        return Settings(**parts)


def in_file_order(problem: ConfigError) -> int:
    """Sort key: unknown top-level keys first, then the sections in the order config.example.toml has."""
    top = re.split(r"[.\[]", problem.key, maxsplit=1)[0]
    names = list(Settings.model_fields)
    return names.index(top) + 1 if top in names else 0


def _model_problems(model: type[_Frozen], exc: ValidationError, prefix: str) -> list[ConfigError]:
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        key = key_path(prefix, loc)
        if error["type"] == "extra_forbidden" and loc:
            problems.append(unknown_key(key, str(loc[-1]), model.model_fields))
        else:
            problems.append(ConfigError(key, plain_problem(error)))
    return problems


def _storage_input(raw: object, environ: Mapping[str, str], out: Validation) -> tuple[object, bool]:
    """The [storage] table with `url` read from `url_env` when that is set; whether it was."""
    if not isinstance(raw, dict) or raw.get("url_env") is None:
        return raw, False
    name = raw["url_env"]
    if not isinstance(name, str) or not name:
        return raw, False  # the model reports the bad value
    if "url" in raw:
        out.problems.append(ConfigError("storage.url_env", "set either url or url_env, not both"))
        return raw, False
    value = environ.get(name, "").strip()
    if not value:
        out.problems.append(ConfigError("storage.url_env", f"environment variable {name} is not set"))
        return {k: v for k, v in raw.items() if k != "url_env"}, False
    return {**raw, "url": value}, True


def validate(
    data: Mapping[str, Any], base_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> Validation:
    """Validate each section on its own, then how they refer to each other; collect every problem."""
    env = os.environ if environ is None else environ
    out = Validation()
    allowed = Settings.model_fields
    for name in data:
        if name not in allowed:
            out.problems.append(unknown_key(name, name, allowed))
    context = {"base_dir": base_dir}
    for name, model in _SECTIONS.items():
        raw: object = data.get(name)
        if raw is None and (issubclass(model, PlatformSettings) or model is HttpSettings):  # optional sections
            out.sections[name] = None
            continue
        from_env = False
        if name == "storage":
            raw, from_env = _storage_input(raw, env, out)
        try:
            out.sections[name] = model.model_validate({} if raw is None else raw, context=context)
        except ValidationError as exc:
            problems = _model_problems(model, exc, name)
            if from_env:  # the URL came from the environment: say so
                variable = data["storage"]["url_env"]
                problems = [
                    ConfigError("storage.url_env", f"{variable}: {p.problem}") if p.key == "storage.url" else p
                    for p in problems
                ]
            out.problems += problems
    for name, model in _LISTS.items():
        raw = data.get(name, [])
        out.lists[name] = []
        if not isinstance(raw, list):
            out.problems.append(ConfigError(name, f"expected a list of tables, written [[{name}]]"))
            continue
        for i, item in enumerate(raw):
            try:
                out.lists[name].append((i, model.model_validate(item, context=context)))
            except ValidationError as exc:
                out.problems += _model_problems(model, exc, f"{name}[{i}]")
    out.sections["texts"], text_problems = text_overrides(data.get("texts"))
    out.problems += text_problems
    out.problems += cross_problems(out)
    out.problems.sort(key=in_file_order)
    return out


def settings_from_mapping(
    data: Mapping[str, Any], *, base_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    result = validate(data, base_dir, environ)
    settings = result.settings()
    if settings is None:
        raise ConfigProblems(result.problems)
    return settings


def read_config(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read file: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"not valid TOML: {exc}") from None


def load_settings(path: str | Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from a TOML file; a relative SQLite path is taken relative to the file's folder."""
    path = Path(path)
    return settings_from_mapping(read_config(path), base_dir=path.resolve().parent, environ=environ)
