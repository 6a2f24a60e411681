"""A platform's send pace shared by every process on one PostgreSQL database.

The `send_pace` row of a platform holds when its next send slot starts. A process reserves `count`
slots by moving that moment forward by `count * interval` in one UPDATE (the row lock orders
concurrent reservations), so slots handed to all processes together are at least `interval` apart:
the combined rate never exceeds `1 / interval`, however many processes send. Times are the
database's clock (`clock_timestamp()`) and are handed back as "seconds from now", so the hosts'
clocks need not agree. A 429 moves the row past the wait Telegram asked for: every process pauses.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_ENSURE = text(
    "INSERT INTO send_pace (platform, next_slot_at) VALUES (:platform, clock_timestamp()) "
    "ON CONFLICT (platform) DO NOTHING"
)
_RESERVE = text(
    "UPDATE send_pace SET next_slot_at = greatest(next_slot_at, clock_timestamp()) "
    "+ make_interval(secs => :span) WHERE platform = :platform "
    "RETURNING extract(epoch FROM (next_slot_at - make_interval(secs => :span) - clock_timestamp()))"
)
_HOLD = text(
    "UPDATE send_pace SET next_slot_at = greatest(next_slot_at, clock_timestamp() + make_interval(secs => :secs)) "
    "WHERE platform = :platform"
)
_PEERS = text("SELECT count(*) FROM worker WHERE heartbeat_at >= clock_timestamp() - make_interval(secs => :within)")


@dataclass(frozen=True, slots=True)
class Reservation:
    first_in: float  # seconds from now until the first reserved slot starts (0 when it is now)
    peers: int  # delivery workers alive, this one included (at least 1)


class PaceRepo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def reserve(self, platform: str, count: int, interval: float, live_within: float = 15.0) -> Reservation:
        """Reserve `count` consecutive slots `interval` seconds apart."""
        await self.conn.execute(_ENSURE, {"platform": platform})
        span = count * interval
        first = float((await self.conn.execute(_RESERVE, {"platform": platform, "span": span})).scalar_one())
        peers = int((await self.conn.execute(_PEERS, {"within": live_within})).scalar_one())
        return Reservation(first_in=max(0.0, first), peers=max(1, peers))

    async def hold(self, platform: str, seconds: float) -> None:
        """No slot of `platform` starts for `seconds` (the platform answered 429)."""
        await self.conn.execute(_ENSURE, {"platform": platform})
        await self.conn.execute(_HOLD, {"platform": platform, "secs": seconds})
