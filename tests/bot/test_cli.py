"""The `feedbot` command line, run as a real process."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def feedbot(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def test_demo_prints_a_transcript_and_summary(tmp_path: Path) -> None:
    result = feedbot("demo", "--db", str(tmp_path / "demo.db"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Alice › /start" in out
    assert "bot › Alice: What was your favourite part of your visit?" in out
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
    result = feedbot("db", "upgrade", "--url", f"sqlite+aiosqlite:///{tmp_path}/new.db")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert (tmp_path / "new.db").exists()


def test_run_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'schedule = "0 9 * * 1"\n')
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    seen = ""
    while "feedbot running" not in seen and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
    assert "feedbot running" in seen, seen
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=30)
    assert proc.returncode == 0, seen + rest
    assert "feedbot stopping" in rest
    assert "Traceback" not in seen + rest


def test_unreachable_or_missing_database_is_one_line(tmp_path: Path) -> None:
    for url in (
        "postgresql+asyncpg://postgres@127.0.0.1:1/feedbot",  # nothing listens on port 1
        "postgresql+asyncpg://postgres@127.0.0.1:5432/feedbot_no_such_database",
        f"sqlite+aiosqlite:///{tmp_path}/missing-dir/x.db",
    ):
        result = feedbot("db", "upgrade", "--url", url)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "storage.url" in result.stderr
