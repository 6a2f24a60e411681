"""/healthz, /readyz and /metrics over real HTTP, served by the runtime and on their own."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from adapters.local import LocalAdapter, LocalUser
from bot.config import HttpSettings
from bot.errors import FeedbotError
from bot.runtime.app import build_runtime
from bot.runtime.health import HealthServer, NotReady
from bot.runtime.metrics import DELIVERY_STATUSES, Metrics
from storage.db import make_engine
from tests.support import Chat, make_settings

METRIC_NAMES = (
    "feedbot_updates_received_total",
    "feedbot_updates_handled_total",
    "feedbot_updates_dead_lettered_total",
    "feedbot_deliveries_total",
    "feedbot_send_latency_seconds_bucket",
    "feedbot_rate_limited_total",
    "feedbot_outbox_depth",
    "feedbot_answers_stored_total",
)
ANY_PORT = HttpSettings(listen="127.0.0.1", port=0)


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def test_the_runtime_serves_health_and_metrics_while_it_runs(tmp_path: Path) -> None:
    settings = make_settings(storage={"url": f"sqlite:///{tmp_path}/app.db"}, http={"listen": "127.0.0.1", "port": 0})
    adapter = LocalAdapter()
    runtime = build_runtime(settings, adapters=[adapter])
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    for _ in range(500):
        if adapter.started or task.done():
            break
        await asyncio.sleep(0.01)
    base = runtime.health.address
    assert base is not None and runtime.health.port not in (None, 0)

    assert (await get(f"{base}/healthz"))[0] == 200
    status, kind, body = await get(f"{base}/readyz")
    assert (status, kind) == (200, "application/json; charset=utf-8")
    assert body == '{"ready": true, "checks": {"database": "ok", "local": "ok"}}'

    status, kind, body = await get(f"{base}/metrics")
    assert status == 200 and kind.startswith("text/plain; version=")
    for name in METRIC_NAMES:
        assert f"\n{name}" in body, name
    assert 'feedbot_deliveries_total{platform="local",status="sent"} 0.0' in body  # known platforms start at zero

    await adapter.say(LocalUser("1", "alice"), "/start")  # through the runtime's counting on_message
    body = (await get(f"{base}/metrics"))[2]
    assert 'feedbot_updates_received_total{platform="local"} 1.0' in body
    assert 'feedbot_updates_handled_total{platform="local"} 1.0' in body

    busy = HealthServer(HttpSettings(listen="127.0.0.1", port=runtime.health.port or 0), Metrics())
    with pytest.raises(FeedbotError, match=f"http.port: cannot listen on 127.0.0.1:{runtime.health.port}: "):
        await busy.start()

    stop.set()
    await asyncio.wait_for(task, 10)
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(f"{base}/healthz")


async def test_without_an_http_section_nothing_listens(tmp_path: Path) -> None:
    server = HealthServer(None, Metrics())
    await server.start()
    assert server.address is None
    await server.stop()


async def test_readyz_names_what_is_not_ready() -> None:
    db = make_engine("postgresql+asyncpg://postgres@127.0.0.1:1/feedbot")  # nothing listens on port 1
    server = HealthServer.for_runtime(ANY_PORT, Metrics(), db, ["telegram", "discord"])

    async def gateway_dropped() -> None:
        raise NotReady("gateway disconnected")

    server.add_check("discord", gateway_dropped)
    await server.start()
    try:
        status, _, body = await get(f"{server.address}/readyz")
        assert status == 503
        assert body == (
            '{"ready": false, "checks": {"database": "connection refused (is the database server running?)", '
            '"telegram": "not connected", "discord": "gateway disconnected"}}'
        )
        server.platform_up("telegram")
        checks = await server.readiness()
        assert checks["telegram"] == "ok" and checks["discord"] == "gateway disconnected"
        assert (await get(f"{server.address}/healthz"))[0] == 200  # alive all the same
    finally:
        await server.stop()
        await db.dispose()


async def test_outbox_depth_is_read_at_scrape_time(chat: Chat) -> None:
    alice, bob = chat.user("alice"), chat.user("bob")
    await chat.say(alice, "/start")
    await chat.say(bob, "/start")
    assert await chat.engine.start_run("visit", triggered_by="test") is not None  # queued, not yet sent
    server = HealthServer.for_runtime(ANY_PORT, Metrics(), chat.store.db, ["local"])
    await server.start()
    try:
        assert "\nfeedbot_outbox_depth 2.0" in (await get(f"{server.address}/metrics"))[2]
        await chat.worker.drain()
        assert "\nfeedbot_outbox_depth 0.0" in (await get(f"{server.address}/metrics"))[2]
    finally:
        await server.stop()


def test_each_runtime_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.deliveries.labels(platform="telegram", status="sent").inc()
    first.send_latency.labels(platform="telegram").observe(0.2)
    assert b'feedbot_deliveries_total{platform="telegram",status="sent"} 1.0' in first.render()
    assert b"feedbot_deliveries_total{" not in second.render()
    second.know_platforms(["discord"])
    rendered = second.render().decode()
    for status in DELIVERY_STATUSES:
        assert f'feedbot_deliveries_total{{platform="discord",status="{status}"}} 0.0' in rendered
