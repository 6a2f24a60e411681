"""The `feedbot` command line, run as a real process."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from storage.db import alembic_config
from tests.support import LineReader

ROOT = Path(__file__).resolve().parents[2]

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()  # the newest migration


def feedbot(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.runtime.cli", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def test_demo_prints_a_transcript_and_summary(tmp_path: Path) -> None:
    result = feedbot("demo", "--db", str(tmp_path / "demo.db"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Alice › /start" in out
    assert "bot › Alice: What was your favourite part of your visit?" in out
    assert "bot › Bruno: Was hat dir bei deinem Besuch am besten gefallen?" in out  # his app is German
    assert "bot › Bruno: Danke – deine Bewertung ist gespeichert." in out
    assert "Dara › [sticker]" in out and "please answer in words" in out
    assert "Emeka › /stop" in out
    assert "Run 1: asked 5 · delivered 5 · answers 4 · response rate 80% · rated 4" in out
    assert "Run 2: asked 5 · delivered 5 · answers 2 · response rate 40% · rated 2" in out
    assert "Average rating: 4.2 / 5 from 6 ratings" in out
    digest = out.split("weekly digest", 1)[1]
    assert "5 customers asked 10 questions, 10 delivered, 6 answers – response rate 60%" in digest
    assert "✅ Response rate 60% – target 60% – met" in digest
    assert "   “Brunch was slow today” (2/5)" in digest


def write_config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "feedbot.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite+aiosqlite:///{tmp_path}/demo.db"\n'
        '[[polls]]\nid = "weekend-visit"\nquestion = "What was your favourite part of your visit?"\n' + extra
    )
    return config


def test_export_json_and_csv_from_the_demo_database(tmp_path: Path) -> None:
    assert feedbot("demo", "--db", str(tmp_path / "demo.db")).returncode == 0
    config = write_config(tmp_path, '[[themes]]\nname = "Music"\nkeywords = ["jazz"]\n')
    result = feedbot("export", "--config", str(config), "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 6
    assert list(rows[0]) == [
        "poll", "question", "run", "platform", "user", "display_name", "tags",
        "answer", "rating", "scale", "late", "themes", "tone", "answered_at",
    ]  # fmt: skip
    assert rows[0]["poll"] == "weekend-visit" and rows[0]["answered_at"].endswith("+00:00")
    assert rows[0]["question"] == "What was your favourite part of your visit?"
    assert rows[0]["answer"] == "The live jazz on Saturday night 🎷"
    assert (rows[0]["themes"], rows[0]["tone"], rows[0]["scale"], rows[0]["late"]) == (["Music"], "praise", 5, False)
    assert [r["tone"] for r in rows].count("problem") == 1 and all(isinstance(r["tags"], list) for r in rows)

    anonymous = json.loads(feedbot("export", "--config", str(config), "--anonymize").stdout)
    assert "user" not in anonymous[0] and "display_name" not in anonymous[0]
    assert [r["answer"] for r in anonymous] == [r["answer"] for r in rows]

    out = tmp_path / "answers.csv"
    result = feedbot("export", "--config", str(config), "--format", "csv", "--output", str(out))
    assert result.returncode == 0, result.stderr
    parsed = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["rating"] for r in parsed] == ["5", "4", "4", "5", "5", "2"]
    assert parsed[0]["themes"] == "Music" and parsed[0]["late"] == "false" and parsed[0]["tone"] == "praise"

    future = feedbot("export", "--config", str(config), "--since", "2999-01-01")
    assert json.loads(future.stdout) == []
    bad = feedbot("export", "--config", str(config), "--since", "yesterday")
    assert bad.returncode == 2 and "--since" in bad.stderr and "Traceback" not in bad.stderr


def test_digest_with_chart_on_the_demo_database(tmp_path: Path) -> None:
    assert feedbot("demo", "--db", str(tmp_path / "demo.db")).returncode == 0
    config = write_config(tmp_path, '[[goals]]\nmetric = "response_rate"\ntarget = 60\n')
    chart = tmp_path / "out.png"
    result = feedbot("digest", "--config", str(config), "--period", "week", "--chart", str(chart))
    assert result.returncode == 0, result.stderr
    assert "5 customers asked 10 questions, 10 delivered, 6 answers – response rate 60%" in result.stdout
    assert "✅ Response rate 60% – target 60% – met" in result.stdout

    from matplotlib import image

    pixels = image.imread(str(chart))
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pixels.shape[0] >= 400 and pixels.shape[1] >= 800
    assert pixels.std() > 0.05  # not a blank image


def test_digest_of_the_period_so_far_and_of_one_poll(tmp_path: Path) -> None:
    assert feedbot("demo", "--db", str(tmp_path / "demo.db")).returncode == 0
    config = write_config(tmp_path)
    current = feedbot("digest", "--config", str(config), "--period", "month", "--current", "--poll", "weekend-visit")
    assert current.returncode == 0, current.stderr
    assert current.stdout.startswith("Feedback digest – this month so far (")
    assert current.stdout.splitlines()[0].endswith(" – poll weekend-visit")
    unknown = feedbot("digest", "--config", str(config), "--poll", "nope")
    assert unknown.returncode == 2 and "--poll" in unknown.stderr


def test_db_upgrade(tmp_path: Path) -> None:
    result = feedbot("db", "upgrade", "--url", f"sqlite:///{tmp_path}/new.db")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"database is up to date (revision {HEAD})\n"
    assert (tmp_path / "new.db").exists()
    relative = subprocess.run(
        [sys.executable, "-m", "bot.runtime.cli", "db", "upgrade", "--url", "sqlite:///rel.db"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert relative.returncode == 0 and relative.stderr == "", relative.stderr
    assert (tmp_path / "rel.db").exists()


def test_run_logs_starting_and_ready_and_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'schedule = "0 9 * * 1"\n')
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    with LineReader([sys.executable, "-m", "bot.runtime.cli", "run", "--config", str(config)], env=env) as proc:
        starting = proc.wait_for("starting")
        assert f"config {config}" in starting and f"sqlite+aiosqlite:///{tmp_path}/demo.db" in starting
        assert "platforms none" in starting and "health/metrics off" in starting
        ready = proc.wait_for("feedbot ready")
        assert "1 poll(s), 1 scheduled" in ready
        proc.process.send_signal(signal.SIGTERM)
        assert proc.process.wait(timeout=30) == 0, proc.text()
    assert "feedbot stopping" in proc.text()
    assert "Traceback" not in proc.text()


def test_unreachable_or_missing_database_is_one_line_naming_the_url_without_password(tmp_path: Path) -> None:
    for url, shown, reason in (
        (  # nothing listens on port 1
            "postgresql://postgres:s3cret@127.0.0.1:1/feedbot",
            "postgresql+asyncpg://postgres:***@127.0.0.1:1/feedbot",
            "connection refused",
        ),
        (
            "postgres://postgres:s3cret@127.0.0.1:5432/feedbot_no_such_database",
            "postgresql+asyncpg://postgres:***@127.0.0.1:5432/feedbot_no_such_database",
            'database "feedbot_no_such_database" does not exist',
        ),
        (
            f"sqlite:///{tmp_path}/missing-dir/x.db",
            f"sqlite+aiosqlite:///{tmp_path}/missing-dir/x.db",
            f"the folder {tmp_path}/missing-dir for the SQLite database does not exist",
        ),
    ):
        result = feedbot("db", "upgrade", "--url", url)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("feedbot: "), result.stderr
        assert reason in lines[0] and lines[0].endswith(f"({shown})"), result.stderr
        assert "s3cret" not in result.stderr and "Traceback" not in result.stderr


def test_a_database_error_during_a_command_names_the_configured_url(tmp_path: Path) -> None:
    config = tmp_path / "pg.toml"
    config.write_text('[storage]\nurl = "postgresql://postgres:s3cret@127.0.0.1:1/feedbot"\n')
    for command in ("run", "export", "digest"):
        result = feedbot(command, "--config", str(config))
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert lines[-1].startswith("feedbot: database error: connection refused"), result.stderr
        assert "postgresql+asyncpg://postgres:***@127.0.0.1:1/feedbot" in lines[-1]
        assert "s3cret" not in result.stderr and "Traceback" not in result.stderr
