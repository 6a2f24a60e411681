"""discord.py's and aiohttp's exceptions -> our error classes, by cause (adapters/discord/convert.py).

The adapter tests show each class end to end against the fake; this table holds every case at once,
including the slow ones to provoke there (discord.py retries a 5xx itself for about 16 seconds)."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
import discord
import pytest

from adapters.discord.convert import delivery_error, start_error
from bot.errors import DeliveryError, MessageRejected, PlatformGone, RecipientUnreachable, TryLater


@dataclass
class Response:  # what discord.HTTPException reads of an aiohttp response
    status: int
    reason: str = ""


def http(status: int, code: int = 0, message: str = "") -> discord.HTTPException:
    error = {403: discord.Forbidden, 404: discord.NotFound}.get(status, discord.HTTPException)
    if status >= 500:
        error = discord.DiscordServerError
    return error(Response(status), {"code": code, "message": message})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (http(403, 50007, "Cannot send messages to this user"), RecipientUnreachable),
        (http(403, 50278, "Cannot send messages to this user"), RecipientUnreachable),
        (http(404, 10003, "Unknown Channel"), RecipientUnreachable),
        (http(404, 10013, "Unknown User"), RecipientUnreachable),
        (http(403, 50001, "Missing Access"), MessageRejected),  # a channel we may not post in: not a customer
        (http(400, 50035, "Invalid Form Body"), MessageRejected),  # our own payload
        (http(401, 0, "401: Unauthorized"), PlatformGone),
        (http(429, 0, "You are being rate limited."), TryLater),
        (http(500), TryLater),
        (http(502), TryLater),
        (http(503), TryLater),
        (discord.RateLimited(60.0), TryLater),
        (aiohttp.ClientConnectionError("reset"), TryLater),
        (ConnectionResetError(), TryLater),
        (TimeoutError(), TryLater),
    ],
)
def test_send_errors_by_cause(exc: BaseException, expected: type[DeliveryError]) -> None:
    error = delivery_error(exc)
    assert type(error) is expected


@pytest.mark.parametrize(
    ("exc", "expected", "words"),
    [
        (discord.LoginFailure("Improper token has been passed."), PlatformGone, "DISCORD_BOT_TOKEN (HTTP 401)"),
        (http(401, 0, "401: Unauthorized"), PlatformGone, "DISCORD_BOT_TOKEN"),
        (discord.ConnectionClosed(None, shard_id=None, code=4004), PlatformGone, "4004"),  # type: ignore[arg-type]
        (discord.ConnectionClosed(None, shard_id=None, code=4013), PlatformGone, "4013"),  # type: ignore[arg-type]
        (discord.PrivilegedIntentsRequired(None), PlatformGone, "4014"),
        (discord.ConnectionClosed(None, shard_id=None, code=4000), TryLater, "4000"),  # type: ignore[arg-type]
        (http(502), TryLater, "discord 502"),
        (http(429, 0, "You are being rate limited."), TryLater, "discord 429"),
        (discord.RateLimited(120.0), TryLater, "rate limited"),
        (aiohttp.ClientConnectionError("refused"), TryLater, "discord: cannot reach the API"),
        (OSError("Network is unreachable"), TryLater, "discord: cannot reach the API"),
        (TimeoutError(), TryLater, "discord"),
        (discord.GatewayNotFound(), TryLater, "discord"),
    ],
)
def test_start_errors_by_cause(exc: BaseException, expected: type[DeliveryError], words: str) -> None:
    error = start_error(exc, "DISCORD_BOT_TOKEN")
    assert type(error) is expected and words in error.reason
    assert "storage" not in error.reason
