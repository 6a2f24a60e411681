"""Configuration: the example loads, and every mistake names its key without a traceback."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import Settings, load_settings, settings_from_mapping
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_loads_and_mirrors_every_settings_key() -> None:
    settings = load_settings(ROOT / "config.example.toml")
    assert settings.polls[0].remind_after == timedelta(days=1)
    assert settings.telegram is not None and settings.telegram.staff == ("111111111",)
    assert settings.discord is not None and settings.discord.staff_roles == ("Staff",)
    assert settings.engine.languages == ("en", "fr", "es")
    assert settings_from_mapping({}).engine.languages == ("en",)
    text = (ROOT / "config.example.toml").read_text()
    for name, field in Settings.model_fields.items():
        assert f"[{name}]" in text or f"[[{name}]]" in text, name
        model = field.annotation
        for sub in getattr(model, "model_fields", {}) or {}:
            assert f"\n{sub} =" in text or f"\n# {sub} =" in text, f"{name}.{sub}"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"storage": {"url": "sqlite:///x.db"}}, "storage.url: use an async URL"),
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
        settings.require_tokens({})
    assert settings.token("telegram", {"FEEDBOT_TEST_NO_SUCH_VAR": "123:abc"}) == "123:abc"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env
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
