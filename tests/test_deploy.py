"""Deploy files that work as written: the image's install step runs here exactly as the Dockerfile
runs it (no Docker engine on our machines, no registry images), against the compose configuration
and a real PostgreSQL database; compose.yaml, the systemd unit and the licence are checked too."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Stage:
    base: str
    lines: list[tuple[str, str]]  # (instruction, arguments)

    def args(self, instruction: str) -> list[str]:
        return [a for i, a in self.lines if i == instruction]


def dockerfile_stages() -> list[Stage]:
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n\s*", " ", text)  # line continuations
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, flags=re.MULTILINE))
    stages: list[Stage] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        instruction, _, rest = line.strip().partition(" ")
        if instruction == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest.split()[0])
            stages.append(Stage(image, []))
        elif stages:
            stages[-1].lines.append((instruction, rest.strip()))
    return stages


def test_dockerfile_is_multi_stage_slim_non_root_with_a_healthcheck() -> None:
    build, final = dockerfile_stages()
    assert build.base == final.base and re.fullmatch(r"python:3\.11-slim(-\w+)?", final.base)
    assert build.args("RUN") == ["sh deploy/install.sh /src /opt/feedbot /tmp/wheels"]
    assert final.args("COPY") == ["--from=build /opt/feedbot /opt/feedbot"]
    assert "useradd --system" in final.args("RUN")[0]
    assert final.args("USER") == ["feedbot"]
    env = " ".join(final.args("ENV"))
    config = tomllib.loads((ROOT / "deploy/config.toml").read_text())
    assert f"FEEDBOT_HEALTH_URL=http://127.0.0.1:{config['http']['port']}/healthz" in env
    assert "FEEDBOT_CONFIG=/etc/feedbot/config.toml" in env
    (healthcheck,) = final.args("HEALTHCHECK")
    assert "FEEDBOT_HEALTH_URL" in healthcheck and "--start-period" in healthcheck
    assert final.args("ENTRYPOINT") == ['["feedbot"]'] and final.args("CMD") == ['["run"]']


@dataclass(frozen=True)
class Installed:
    venv: Path
    wheel: Path
    seconds: float


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The build stage, outside Docker: copy what it COPYs into /src, then run its RUN line."""
    import time

    (build, _) = dockerfile_stages()
    work = tmp_path_factory.mktemp("image")
    src = work / "src"
    src.mkdir()
    for copy in build.args("COPY"):  # WORKDIR is /src
        *sources, target = shlex.split(copy)
        for source in sources:
            origin, destination = ROOT / source, src / target
            if target.endswith("/"):
                destination = destination / origin.name
            if origin.is_dir():
                shutil.copytree(origin, destination, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, destination)
    (run,) = build.args("RUN")
    paths = {"/src": src, "/opt/feedbot": work / "venv", "/tmp/wheels": work / "wheels"}
    argv = [str(paths.get(word, word)) for word in shlex.split(run)]
    started = time.monotonic()
    result = subprocess.run(
        argv, cwd=src, env={**os.environ, "PYTHON": sys.executable}, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = (work / "wheels").glob("feedbot-*.whl")
    yield Installed(work / "venv", wheel, time.monotonic() - started)


def test_the_wheel_carries_the_licence_and_everything_it_runs(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "storage/migrations/versions/0001_initial_schema.py" in names
    for language in ("en", "de", "fr", "es"):  # compiled catalogs: texts in the customer's language
        assert f"bot/locale/{language}/LC_MESSAGES/feedbot.mo" in names
    assert not any(n.startswith("tests/") for n in names)
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_every_installed_package_is_pinned_by_the_constraints(installed: Installed) -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    freeze = subprocess.run(
        [str(installed.venv / "bin/python"), "-m", "pip", "list", "--format=freeze", "--exclude", "pip"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    assert len(freeze) > 30
    for entry in freeze:
        name, _, version = entry.partition("==")
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in {"feedbot", "setuptools", "wheel"}:
            continue
        assert pins.get(key) == version, f"{entry} is not pinned in constraints.txt"


def test_the_installed_command_checks_the_compose_configuration(installed: Installed, fresh_pg_url: str) -> None:
    feedbot = installed.venv / "bin/feedbot"
    version = subprocess.run([feedbot, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout == "feedbot 0.1.0\n"

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    environment = compose["services"]["feedbot"]["environment"]
    # As compose sets it, but to the test server: postgresql:// user@host, the database of this test.
    database_url = fresh_pg_url.replace("postgresql+asyncpg://", "postgresql://")
    assert environment["DATABASE_URL"].startswith("postgresql://feedbot:${POSTGRES_PASSWORD}@db:5432/")
    env = {"PATH": os.environ["PATH"], "DATABASE_URL": database_url, "TELEGRAM_BOT_TOKEN": "123:from-dot-env"}
    result = subprocess.run(
        [feedbot, "check", "--config", str(ROOT / "deploy/config.toml")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd="/",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{ROOT}/deploy/config.toml: OK – 1 poll(s), 1 goal(s), platforms: telegram",
        f"database {fresh_pg_url}: reachable, empty; `feedbot run` creates the tables at first start",
    ]
    without_token = subprocess.run(
        [feedbot, "check", "--config", str(ROOT / "deploy/config.toml")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "TELEGRAM_BOT_TOKEN": ""},
    )
    assert without_token.returncode == 2
    assert "telegram.token_env: environment variable TELEGRAM_BOT_TOKEN is not set" in without_token.stderr


def test_compose_runs_feedbot_after_a_healthy_postgresql_with_a_named_volume() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    db, bot = compose["services"]["db"], compose["services"]["feedbot"]
    assert bot["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert "pgdata" in compose["volumes"]
    assert any(v.startswith("pgdata:/var/lib/postgresql/data") for v in db["volumes"])
    assert bot["build"] == "." and bot["restart"] == "unless-stopped"
    assert "./deploy/config.toml:/etc/feedbot/config.toml:ro" in bot["volumes"]
    config = tomllib.loads((ROOT / "deploy/config.toml").read_text())
    assert config["storage"]["url_env"] in bot["environment"]
    for platform in ("telegram", "discord"):
        if platform in config:
            assert config[platform].get("token_env", f"{platform.upper()}_BOT_TOKEN") in bot["environment"]
    assert f"127.0.0.1:{config['http']['port']}:{config['http']['port']}" in bot["ports"]
    assert config["http"]["listen"] == "0.0.0.0"
    user, password, database = (
        db["environment"]["POSTGRES_USER"],
        "${POSTGRES_PASSWORD}",
        db["environment"]["POSTGRES_DB"],
    )
    assert bot["environment"]["DATABASE_URL"] == f"postgresql://{user}:{password}@db:5432/{database}"


def test_systemd_unit_verifies(installed: Installed, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is needed to verify deploy/feedbot.service"
    unit = (ROOT / "deploy/feedbot.service").read_text()
    assert "ExecStart=/opt/feedbot/bin/feedbot run" in unit and "User=feedbot" in unit
    copy = tmp_path / "feedbot.service"
    copy.write_text(unit.replace("/opt/feedbot", str(installed.venv)))  # where install.sh put it here
    result = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def readme_shell_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_commands_name_real_files_and_valid_feedbot_invocations() -> None:
    from bot.runtime.cli import _parser

    lines = readme_shell_lines()
    assert "sudo sh deploy/install.sh . /opt/feedbot" in lines
    parsed = 0
    for line in lines:
        for path in re.findall(r"\b(?:deploy/[\w.@-]+|config\.example\.toml|compose\.yaml)\b", line):
            assert (ROOT / path).exists(), (path, line)
        synopsis = re.sub(r"\[[^\]]*\]", "", line)  # optional parts of a synopsis line
        words = shlex.split(synopsis.split(" | ")[0].split(">")[0].split("&&")[-1])
        if words[:1] == ["feedbot"] or (words[:3] == ["docker", "compose", "run"] and "feedbot" in words):
            args = words[words.index("feedbot") + 1 :]
            if args:
                parsed += 1
                try:
                    _parser().parse_args(args)
                except SystemExit as exc:
                    assert exc.code == 0, line  # --version exits 0
    assert parsed >= 10
