"""Configuration: the example loads, and every mistake names its key without a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import get_args

import pytest
from pydantic import BaseModel

from bot.config import ConfigProblems, Settings, load_settings, settings_from_mapping
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _section_model(annotation: object) -> type[BaseModel]:
    """The model behind `X`, `X | None` and `tuple[X, ...]`."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    raise AssertionError(f"no model in {annotation!r}")


def test_example_config_loads_and_mirrors_every_settings_key() -> None:
    settings = load_settings(ROOT / "config.example.toml")
    assert settings.polls[0].remind_after == timedelta(days=1)
    assert settings.telegram is not None and settings.telegram.staff == ("111111111",)
    assert settings.discord is not None and settings.discord.staff_role_ids == ("567890123456789012",)
    assert settings.discord.manager_roles == ("Manager",)
    assert settings.engine.languages == ("en", "fr", "es")
    assert settings_from_mapping({}).engine.languages == ("en",)
    assert settings.http is not None and settings.http.port == 9100
    assert settings.storage.url == f"sqlite+aiosqlite:///{ROOT}/feedbot.db"  # relative to the file's folder
    text = (ROOT / "config.example.toml").read_text()
    blocks = re.split(r"^(?=\[)", text, flags=re.MULTILINE)
    assert re.search(r"^\[texts\.en\]\n(#.*\n)*# thanks = ", text, flags=re.MULTILINE)  # [texts.LANG] overrides
    assert settings.texts == {"en": {}}
    assert settings.polls[0].question_in("de", "en").startswith("Was hat dir")
    for name, field in Settings.model_fields.items():
        if name == "texts":
            continue
        section = [b for b in blocks if b.startswith((f"[{name}]", f"[[{name}]]"))]
        assert section, name
        for sub in _section_model(field.annotation).model_fields:
            assert any(re.search(rf"^(# )?{sub} =", b, flags=re.MULTILINE) for b in section), f"{name}.{sub}"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"storage": {"url": "mysql://db/x"}}, "storage.url: unsupported database 'mysql'"),
        ({"polls": [{"id": "a", "question": "q", "schedule": "0 25 * * *"}]}, "polls[0].schedule: invalid cron"),
        ({"polls": [{"id": "a", "question": "q", "schedule": "0 9 * *"}]}, "polls[0].schedule: invalid cron"),
        ({"polls": [{"id": "a", "question": "q", "timezone": "Mars/Base"}]}, "polls[0].timezone: unknown time zone"),
        ({"polls": [{"id": "a", "question": "q", "colour": "red"}]}, "polls[0].colour: unknown key"),
        ({"polls": [{"id": "a"}]}, "polls[0].question: required key is missing"),
        ({"polls": [{"id": "a", "question": "q"}, {"id": "a", "question": "r"}]}, "polls[1].id: duplicate"),
        ({"polls": [{"id": "a", "question": "q", "remind_after": "3d", "close_after": "1d"}]}, "remind_after"),
        ({"polls": [{"id": "a", "question": "q", "close_after": "soon"}]}, "polls[0].close_after: expected a duration"),
        ({"goals": [{"metric": "happiness", "target": 1}]}, "goals[0].metric"),
        ({"goals": [{"metric": "answers", "target": 5, "poll": "nope"}]}, "goals[0].poll: no poll with id 'nope'"),
        ({"goals": [{"metric": "nps", "target": 30}]}, "goals[0].metric: 'nps' needs a poll with scale = 10"),
        ({"digest": {"period": "year"}}, "digest.period"),
        ({"digest": {"schedule": "every monday"}}, "digest.schedule: invalid cron"),
        ({"engine": {"quiet_hours": "late"}}, "engine.quiet_hours: expected 'HH:MM-HH:MM'"),
        ({"telegram": {"staff": [1.5]}}, "telegram.staff"),
        ({"discord": {"port": 1}}, "discord.port: unknown key"),
        ({"slack": {}}, "slack: unknown key"),
        ({"engine": {"languages": ["en", "xx"]}}, "engine.languages: unsupported language 'xx'"),
        ({"engine": {"languages": []}}, "engine.languages: expected a non-empty list"),
        ({"themes": [{"name": "A", "keywords": ["a"]}, {"name": "A", "keywords": ["b"]}]}, "themes[1].name: duplicate"),
        ({"themes": [{"name": "A", "keywords": ["!!"]}]}, "themes[0].keywords[0]"),
        ({"themes": [{"name": "*", "keywords": ["a"]}]}, "themes[0].name"),
    ],
)
def test_bad_config_names_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from_mapping(data)
    assert message in str(raised.value)


def test_missing_token_variable_names_the_key() -> None:
    settings = settings_from_mapping({"telegram": {"token_env": "FEEDBOT_TEST_NO_SUCH_VAR"}})
    with pytest.raises(ConfigError, match="telegram.token_env: environment variable FEEDBOT_TEST_NO_SUCH_VAR"):
        settings.require_environment({})
    assert settings.token("telegram", {"FEEDBOT_TEST_NO_SUCH_VAR": "123:abc"}) == "123:abc"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.runtime.cli", *args], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env
    )


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[[polls]]\nid = "a"\nquestion = "q"\nschedule = "61 * * * *"\n', "polls[0].schedule: invalid cron"),
        ("[engine]\ntimezone = 'Nowhere/City'\n", "engine.timezone: unknown time zone 'Nowhere/City'"),
        ("[telegram]\ntoken_env = 'FEEDBOT_TEST_UNSET'\n", "telegram.token_env: environment variable"),
        ("this is = not [toml", "not valid TOML"),
    ],
)
@pytest.mark.parametrize("command", ["check", "run"])
def test_cli_refuses_bad_config_with_one_line(tmp_path: Path, toml: str, expected: str, command: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    result = run_cli(command, "--config", str(path))
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_check_accepts_the_example_with_tokens_set(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "TELEGRAM_BOT_TOKEN": "1:x", "DISCORD_BOT_TOKEN": "y"}
    result = run_cli("check", "--config", str(ROOT / "config.example.toml"), env=env)
    assert result.returncode == 0, result.stderr
    assert "OK – 2 poll(s), 2 goal(s), platforms: telegram, discord" in result.stdout


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    result = run_cli("check", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2 and "cannot read file" in result.stderr and "Traceback" not in result.stderr


EVERYTHING_WRONG = """
schedul = 1
[engine]
timezon = "UTC"
max_attempts = 0
privacy_url = "example.com/privacy"

[[polls]]
id = "a b"
question = "   "
tag = "vip customers"
close_after = "0s"
scale = 7
shedule = "0 9 * * 1"

[[polls]]
id = "b"
question = "q"
tag = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
schedule = "0 25 * * *"

[[polls]]
id = "ten"
question = "How likely ...?"
scale = 10

[[goals]]
metric = "response_rate"
target = 0.5

[[goals]]
metric = "average_rating"
target = 7
poll = "ten"

[[goals]]
metric = "average_rating"
target = 11

[[goals]]
metric = "nps"
target = 150

[[themes]]
name = "Food"
keywords = []

[[themes]]
name = "Staff"
keywords = ["staff"]

[[themes]]
name = "staff"
keywords = ["waiter"]

[telegram]
mode = "webhook"
webhook_url = "https://feedback.example.com:8080/telegram"
base_url = "api.telegram.org/bot"
staff = ["@alice"]

[discord]
guild_ids = ["my server"]
api_base = "ftp://discord.com/api/v10"
staff_roles = [""]
manager_role_ids = ["Managers"]

[http]
port = "nine thousand"
"""

EXPECTED_LINES = [
    "schedul: unknown key; known keys: storage, engine, polls, digest, alerts, goals, themes, telegram, discord, http",
    "engine.timezon: unknown key; did you mean 'timezone'?",
    "engine.max_attempts: must be at least 1, got 0",
    "engine.privacy_url: expected an http:// or https:// URL, got 'example.com/privacy'",
    "polls[0].id: use 1-40 of A-Z a-z 0-9 _ - (staff type it: /poll ID), got 'a b'",
    "polls[0].question: must not be empty: it is the text customers are asked",
    "polls[0].scale: expected 5 or 10, got 7",
    "polls[0].tag: a tag is letters, digits, _ and - only, got 'vip customers'",
    "polls[0].close_after: must be longer than zero, got '0s'",
    "polls[0].shedule: unknown key; did you mean 'schedule'?",
    "polls[1].schedule: invalid cron expression '0 25 * * *'",
    "polls[1].tag: too long: a tag has at most 64 characters, this one 72",
    "goals[0].target: a response rate is a percent (1-100), got 0.5; did you mean 50?",
    "goals[2].target: an average rating on the 0-10 scale lies between 0 and 10, got 11",
    "goals[3].target: an NPS lies between -100 and 100, got 150",
    "themes[0].keywords: must not be empty",
    "themes[2].name: duplicate theme name 'staff' (also themes[1])",
    "telegram.base_url: expected an http:// or https:// URL, got 'api.telegram.org/bot'",
    "telegram.webhook_url: Telegram accepts the ports 443, 80, 88, 8443 only, got "
    "'https://feedback.example.com:8080/telegram'",
    "telegram.staff: expected Telegram ids (numbers), got '@alice'",
    "discord.api_base: expected an http:// or https:// URL, got 'ftp://discord.com/api/v10'",
    "discord.guild_ids: expected Discord ids (numbers, as Copy ID gives them), got 'my server'",
    "discord.manager_role_ids: expected Discord ids (numbers, as Copy ID gives them), got 'Managers'",
    "discord.staff_roles: expected non-empty names in quotes, got ''",
    "http.port: expected a whole number, got 'nine thousand'",
]


def test_every_problem_is_reported_at_once_in_plain_words(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(EVERYTHING_WRONG)
    with pytest.raises(ConfigProblems) as raised:
        load_settings(path)
    lines = [f"{p.key}: {p.problem}" for p in raised.value.problems]
    expected = EXPECTED_LINES  # goals[1] (7 on the 0-10 poll) is fine
    for line in expected:
        assert any(got.startswith(line) for got in lines), f"missing: {line}\ngot:\n" + "\n".join(lines)
    assert len(lines) == len(expected), "\n".join(lines)
    assert not any("Input should" in line or "Value error" in line for line in lines)

    result = run_cli("check", "--config", str(path))  # the same, each on its own line, exit 2
    assert result.returncode == 2
    printed = result.stderr.strip().splitlines()
    assert len(printed) == len(expected) and all(p.startswith("feedbot: configuration error: ") for p in printed)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"goals": [{"metric": "response_rate", "target": 0.33}]}, "did you mean 33?"),
        ({"goals": [{"metric": "response_rate", "target": 120}]}, "percent between 1 and 100, got 120"),
        ({"goals": [{"metric": "average_rating", "target": 0.5}]}, "on the 1-5 scale lies between 1 and 5"),
        ({"goals": [{"metric": "answers", "target": 0}]}, "a whole number of 1 or more"),
        (
            {
                "polls": [{"id": "a", "question": "q", "rating": False}],
                "goals": [{"metric": "average_rating", "target": 4}],
            },
            "goals[0].metric: 'average_rating' needs a poll with rating = true",
        ),
        ({"telegram": {"mode": "webhook"}}, "telegram.webhook_url: required when mode = 'webhook'"),
        ({"telegram": {"mode": "webhook", "webhook_url": "http://x.example.com/t"}}, "public https:// URLs only"),
        ({"telegram": {"mode": "webhook", "webhook_url": "https://x.example.com:88/t"}, "http": {"port": 9100}}, ""),
        ({"telegram": {"mode": "webhook", "webhook_url": "https://x.example.com/t", "port": 8444}, "http": {}}, ""),
        ({"telegram": {}, "http": {"port": 8443}}, ""),
        ({"themes": [{"name": " ", "keywords": ["x"]}]}, "themes[0].name: must not be empty"),
        (
            {"polls": [{"id": "a", "question": "q", "remind_after": 0}]},
            "polls[0].remind_after: must be longer than zero",
        ),
        ({"discord": {"staff": [12.5]}}, "discord.staff: expected Discord ids"),
        ({"discord": {"staff_roles": ["Staff"]}}, "discord.staff_roles: roles count only in the servers of guild_ids"),
        ({"discord": {"manager_role_ids": [123]}}, "discord.manager_role_ids: roles count only in the servers"),
        ({"discord": {"staff_roles": ["Staff"], "guild_ids": [123]}}, ""),
        ({"storage": {"url": "postgresql://host"}}, "storage.url: the URL names no database"),
        ({"storage": {"url": 5}}, "storage.url: expected a database URL in quotes, got 5"),
        ({"polls": {"id": "a"}}, "polls: expected a list of tables, written [[polls]]"),
    ],
)
def test_rules_between_keys(data: dict[str, object], message: str) -> None:
    if not message:  # accepted
        settings_from_mapping(data)
        return
    with pytest.raises(ConfigError) as raised:
        settings_from_mapping(data)
    assert message in str(raised.value)


def test_webhook_and_health_server_cannot_share_a_port() -> None:
    data = {
        "telegram": {"mode": "webhook", "webhook_url": "https://x.example.com/t", "port": 8443},
        "http": {"listen": "127.0.0.1", "port": 8443},
    }
    with pytest.raises(ConfigError, match="http.port: the Telegram webhook already listens on 127.0.0.1:8443"):
        settings_from_mapping(data)


def test_webhook_secret_variable_is_required_and_checked() -> None:
    settings = settings_from_mapping({"telegram": {"mode": "webhook", "webhook_url": "https://x.example.com/t"}})
    env = {"TELEGRAM_BOT_TOKEN": "1:x"}
    assert [str(p) for p in settings.environment_problems(env)] == [
        "telegram.webhook_secret_env: environment variable TELEGRAM_WEBHOOK_SECRET is not set"
    ]
    bad = settings.environment_problems({**env, "TELEGRAM_WEBHOOK_SECRET": "no spaces please"})
    assert [p.key for p in bad] == ["telegram.webhook_secret_env"] and "1-256 characters" in bad[0].problem
    assert settings.environment_problems({**env, "TELEGRAM_WEBHOOK_SECRET": "s3cret_-X"}) == []


def test_storage_url_from_the_environment_and_relative_to_the_config_file(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "a.toml").write_text('[storage]\nurl = "sqlite:///data/feedbot.db"\n')
    assert load_settings(folder / "a.toml").storage.url == f"sqlite+aiosqlite:///{folder}/data/feedbot.db"
    (folder / "b.toml").write_text("[[polls]]\nid = 'a'\nquestion = 'q'\n")  # the default url: feedbot.db
    assert load_settings(folder / "b.toml").storage.url == f"sqlite+aiosqlite:///{folder}/feedbot.db"

    (folder / "c.toml").write_text('[storage]\nurl_env = "FEEDBOT_TEST_DB"\n')
    env = {"FEEDBOT_TEST_DB": "postgres://feedbot:pw@db:5432/feedbot?sslmode=require"}
    settings = load_settings(folder / "c.toml", env)
    assert settings.storage.url == "postgresql+asyncpg://feedbot:pw@db:5432/feedbot?ssl=require"
    with pytest.raises(ConfigError, match="storage.url_env: environment variable FEEDBOT_TEST_DB is not set"):
        load_settings(folder / "c.toml", {})
    with pytest.raises(ConfigError, match="storage.url_env: FEEDBOT_TEST_DB: unsupported database 'mysql'"):
        load_settings(folder / "c.toml", {"FEEDBOT_TEST_DB": "mysql://x/y"})
    (folder / "d.toml").write_text('[storage]\nurl = "sqlite:///x.db"\nurl_env = "FEEDBOT_TEST_DB"\n')
    with pytest.raises(ConfigError, match="storage.url_env: set either url or url_env, not both"):
        load_settings(folder / "d.toml", env)
