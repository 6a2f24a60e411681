"""Health and metrics over HTTP (aiohttp), for a supervisor, a load balancer and Prometheus.

    GET /healthz   200 while the process and its event loop are alive
    GET /readyz    200 when every named check passes, else 503; JSON {"ready": bool, "checks": {name: "ok" | problem}}
    GET /metrics   the runtime's metrics in Prometheus' text format

A check is an async callable that returns when all is well and raises when not; checks run
concurrently, each with a time limit. Without an `[http]` section nothing listens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import HttpSettings
from bot.errors import FeedbotError
from bot.runtime.metrics import Metrics
from storage.db import describe_error
from storage.gauges import outbox_depth, ping

log = logging.getLogger("feedbot.http")

Check = Callable[[], Awaitable[None]]
CHECK_TIMEOUT = 3.0


class NotReady(Exception):
    """Raised by a check, with the reason in plain words."""


class PlatformsStarted:
    """Readiness of each platform from the runtime's own view: up once its adapter started.

    Stands in until adapters report their live connection state (a Discord gateway that dropped,
    a Telegram polling loop that keeps failing); swap in such a check with `HealthServer.add_check`.
    """

    def __init__(self, platforms: Iterable[str]) -> None:
        self._up = dict.fromkeys(platforms, False)

    def up(self, platform: str) -> None:
        self._up[platform] = True

    def down(self, platform: str) -> None:
        self._up[platform] = False

    def check(self, platform: str) -> Check:
        async def started() -> None:
            if not self._up.get(platform, False):
                raise NotReady("not connected")

        return started


def database_check(engine: AsyncEngine) -> Check:
    async def database() -> None:
        await ping(engine)

    return database


class HealthServer:
    def __init__(
        self,
        settings: HttpSettings | None,
        metrics: Metrics,
        checks: Mapping[str, Check] | None = None,
        before_scrape: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.checks: dict[str, Check] = dict(checks or {})
        self.before_scrape = list(before_scrape)
        self.platforms = PlatformsStarted(())
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @classmethod
    def for_runtime(
        cls, settings: HttpSettings | None, metrics: Metrics, db: AsyncEngine, platforms: Iterable[str]
    ) -> HealthServer:
        """Ready = database reachable and every platform started; /metrics also reads the outbox depth."""
        names = list(platforms)
        metrics.know_platforms(names)

        async def read_outbox_depth() -> None:
            metrics.outbox_depth.set(await outbox_depth(db))

        server = cls(settings, metrics, {"database": database_check(db)}, before_scrape=[read_outbox_depth])
        server.platforms = PlatformsStarted(names)
        for name in names:
            server.add_check(name, server.platforms.check(name))
        return server

    def add_check(self, name: str, check: Check) -> None:
        self.checks[name] = check

    def platform_up(self, platform: str) -> None:
        self.platforms.up(platform)

    def platform_down(self, platform: str) -> None:
        self.platforms.down(platform)

    @property
    def address(self) -> str | None:
        """`http://host:port` once listening."""
        if self.settings is None or self.port is None:
            return None
        return f"http://{self.settings.listen}:{self.port}"

    async def start(self) -> None:
        if self.settings is None or self._runner is not None:
            return
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.listen, self.settings.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            where = f"{self.settings.listen}:{self.settings.port}"
            raise FeedbotError(f"http.port: cannot listen on {where}: {exc.strerror or exc}") from None
        self._runner = runner
        self.port = runner.addresses[0][1] if runner.addresses else self.settings.port
        log.info("health and metrics on %s (/healthz /readyz /metrics)", self.address)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def readiness(self) -> dict[str, str]:
        """Each check's result: "ok" or what is wrong."""
        names = list(self.checks)
        results = await asyncio.gather(
            *(_within_check_timeout(self.checks[name]()) for name in names), return_exceptions=True
        )
        return {name: _result(outcome) for name, outcome in zip(names, results, strict=True)}

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"alive": True})

    async def _readyz(self, _request: web.Request) -> web.Response:
        checks = await self.readiness()
        ready = all(result == "ok" for result in checks.values())
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        for refresh in self.before_scrape:
            try:
                await _within_check_timeout(refresh())
            except Exception as exc:  # a scrape still answers; the gauge keeps its last value
                log.warning("metrics: %s failed: %s", getattr(refresh, "__name__", "refresh"), _result(exc))
        body = self.metrics.render()
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


async def _within_check_timeout(check: Awaitable[object]) -> None:
    """Await `check` for at most CHECK_TIMEOUT (asyncio.timeout, not wait_for: on Python 3.11
    wait_for swallows a cancellation that arrives as the awaited call ends)."""
    async with asyncio.timeout(CHECK_TIMEOUT):
        await check


def _result(outcome: BaseException | None) -> str:
    if outcome is None:
        return "ok"
    if isinstance(outcome, TimeoutError):
        return f"no answer within {CHECK_TIMEOUT:g}s"
    if isinstance(outcome, NotReady):
        return str(outcome)
    return describe_error(outcome)[:300]
