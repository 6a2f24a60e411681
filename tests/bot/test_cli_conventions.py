"""Command-line conventions: --version, where the config file comes from, options after the
subcommand, and help that describes every option with examples."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.runtime.cli import _parser

ROOT = Path(__file__).resolve().parents[2]


def feedbot(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "FEEDBOT_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "bot.runtime.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def test_version() -> None:
    from importlib.metadata import version

    result = feedbot("--version")
    assert result.returncode == 0
    assert result.stdout == f"feedbot {version('feedbot')}\n"


def config_in(folder: Path, polls: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text("".join(f'[[polls]]\nid = "p{i}"\nquestion = "q"\n' for i in range(polls)))
    return path


def test_config_from_option_then_environment_then_working_directory(tmp_path: Path) -> None:
    here = config_in(tmp_path / "cwd", 1)
    from_env = config_in(tmp_path / "env", 2)
    from_option = config_in(tmp_path / "option", 3)
    cwd = here.parent
    assert f"{here.name}: OK – 1 poll(s)" in feedbot("check", cwd=cwd).stdout
    assert f"{from_env}: OK – 2 poll(s)" in feedbot("check", cwd=cwd, env={"FEEDBOT_CONFIG": str(from_env)}).stdout
    given = feedbot("check", "--config", str(from_option), cwd=cwd, env={"FEEDBOT_CONFIG": str(from_env)})
    assert f"{from_option}: OK – 3 poll(s)" in given.stdout
    before = feedbot("--config", str(from_option), "check", cwd=cwd)  # before the subcommand works too
    assert f"{from_option}: OK – 3 poll(s)" in before.stdout


def test_a_missing_config_file_says_how_it_was_chosen(tmp_path: Path) -> None:
    default = feedbot("check", cwd=tmp_path)
    assert default.returncode == 2
    assert default.stderr.strip() == (
        "feedbot: configuration error: config.toml: cannot read file: No such file or directory "
        "(the default; give --config FILE or set $FEEDBOT_CONFIG)"
    )
    env = feedbot("export", cwd=tmp_path, env={"FEEDBOT_CONFIG": "/nowhere/feedbot.toml"})
    assert env.returncode == 2
    assert env.stderr.strip().endswith(
        "/nowhere/feedbot.toml: cannot read file: No such file or directory ($FEEDBOT_CONFIG)"
    )


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_and_log_format_before_or_after_the_subcommand(tmp_path: Path, where: str) -> None:
    options = ["-v", "--log-format", "json"]
    db = f"sqlite:///{tmp_path}/x.db"
    args = [*options, "db", "upgrade", "--url", db] if where == "before" else ["db", "upgrade", "--url", db, *options]
    parsed = _parser().parse_args(args)
    assert parsed.verbose is True and parsed.log_format == "json"
    plain = _parser().parse_args(["db", "upgrade", "--url", db])
    assert plain.verbose is False and plain.log_format == "text"


def _parsers(parser: argparse.ArgumentParser, name: str = "feedbot") -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(name, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                found += _parsers(sub, f"{name} {sub_name}")
    return found


def test_every_option_is_described_and_every_command_has_examples() -> None:
    parsers = _parsers(_parser())
    names = [name for name, _ in parsers]
    assert names == [
        "feedbot",
        "feedbot demo",
        "feedbot run",
        "feedbot check",
        "feedbot export",
        "feedbot digest",
        "feedbot deadletters",
        "feedbot db",
        "feedbot db upgrade",
    ]
    for name, parser in parsers:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                assert all(choice.help for choice in action._choices_actions), name
            else:
                assert action.help and action.help != argparse.SUPPRESS, (name, action.option_strings)
        assert parser.epilog and "examples:" in parser.epilog, name
        for line in parser.epilog.splitlines():
            if line.startswith("  feedbot ") or line.startswith("  FEEDBOT_CONFIG="):
                command = line.split("   ")[0].split()
                words = command[command.index("feedbot") + 1 :]
                if words and words[0] != "--config":
                    assert any(n.split()[1:2] == words[:1] for n in names[1:]), (name, line)


def test_help_shows_the_examples() -> None:
    result = feedbot("check", "--help")
    assert result.returncode == 0
    assert "--online" in result.stdout and "also check each token with its platform" in result.stdout
    assert "examples:\n  feedbot check --config config.toml" in result.stdout
