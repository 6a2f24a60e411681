"""The Bot API requests of one bot over up to `size` lanes, each an `HTTPXRequest` of one connection.

Why not PTB's default `HTTPXRequest` (one httpx client, a pool of 256 connections): httpcore 1.0.9
hands an idle connection to every request that arrives before the first one has started on it;
all but one then fail with `ConnectionNotAvailable`, go back to the queue and are assigned again.
When many sends finish and start at once (the delivery worker sends to up to 256 chats
concurrently), that is five to seven failed attempts per request, each walking every pooled
connection and repeating httpcore's per-request set-up: it made up most of the CPU a send cost (see
bench/telegram_send_cost.py). The pool's size does not matter (64 to 1,024 behave alike);
concurrent requests sharing one pool do. Here a request has its lane to itself, so the pool inside
never has more than one request to place.

Everything else is PTB's own: each lane is a plain `HTTPXRequest` (timeouts, proxies from the
environment, HTTP/1.1), and `BaseRequest` maps the answers to PTB's errors (`RetryAfter`,
`ChatMigrated`, `Forbidden`, `InvalidToken`, ...). As with a full pool, a request that finds no free
lane within the pool timeout is not sent and fails with `TimedOut`. The lanes share one TLS context,
made as httpx makes its own (certifi, or SSL_CERT_FILE / SSL_CERT_DIR): loading the CA bundle once
instead of once per lane.
"""

from __future__ import annotations

import asyncio
import ssl

import httpx
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

DEFAULT_LANES = 256  # PTB's default pool size: as many requests at once as before
POOL_TIMEOUT = 1.0  # seconds to wait for a free lane (PTB's default pool timeout)
_POOL_TIMEOUT_MESSAGE = (  # HTTPXRequest's, word for word
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* sent to Telegram. "
    "Consider adjusting the connection pool size or the pool timeout."
)


class RequestLanes(BaseRequest):
    """A `BaseRequest` for `telegram.Bot(request=...)`: each request on a lane of its own."""

    def __init__(self, size: int = DEFAULT_LANES, *, pool_timeout: float | None = POOL_TIMEOUT) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self.pool_timeout = pool_timeout
        self._free: list[HTTPXRequest] = []  # most recently used last: its connection is the warmest
        self._lanes: list[HTTPXRequest] = []
        self._slots = asyncio.Semaphore(size)
        self._tls: ssl.SSLContext | None = None

    @property
    def read_timeout(self) -> float | None:
        return 5.0  # HTTPXRequest's default, which every lane keeps

    async def initialize(self) -> None:
        """Lanes are made as requests need them."""

    async def shutdown(self) -> None:
        lanes, self._lanes, self._free = self._lanes, [], []
        for lane in lanes:
            await lane.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        wait = self.pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        try:
            async with asyncio.timeout(wait):
                await self._slots.acquire()
        except TimeoutError:
            raise TimedOut(_POOL_TIMEOUT_MESSAGE) from None
        try:
            lane = self._free.pop() if self._free else self._new_lane()
            try:
                return await lane.do_request(
                    url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
                )
            finally:
                if lane in self._lanes:  # not shut down meanwhile
                    self._free.append(lane)
        finally:
            self._slots.release()

    def _new_lane(self) -> HTTPXRequest:
        if self._tls is None:
            self._tls = httpx.create_ssl_context()
        lane = HTTPXRequest(connection_pool_size=1, httpx_kwargs={"verify": self._tls})
        self._lanes.append(lane)
        return lane
