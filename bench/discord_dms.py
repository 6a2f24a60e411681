"""Discord DM pacing benchmark: N DMs through the Discord adapter (discord.py) to the fake Discord,
which enforces Discord's documented limits (global 50 requests/s, per-channel message buckets).

    python bench/discord_dms.py [--dms 300] [--rate 5] [--unpaced]

Prints how long the DMs took, the rate the fake saw, the most requests it saw in any one-second
window, and how many it refused with 429. --unpaced takes our pacer away (discord.py alone), to show
what it does: it bursts, and only stops after Discord's global 429. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo's packages

from adapters.discord import DiscordAdapter
from bot.adapter import Handled
from bot.config import settings_from_mapping
from bot.errors import DeliveryError
from bot.pacing import LocalPacer, PaceRules
from bot.types import ChatRef, Inbound, Outbound
from tests.adapters.fake_discord import FakeDiscord


async def ignore(_: Inbound) -> Handled:
    return Handled()


def busiest_second(times: list[float]) -> int:
    return max((bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)), default=0)


async def main(dms: int, rate: float, unpaced: bool) -> None:
    fake = FakeDiscord()
    await fake.start()
    try:
        settings = settings_from_mapping({"discord": {"api_base": fake.api_base, "send_rate": rate}})
        assert settings.discord is not None
        pacer = LocalPacer(PaceRules()) if unpaced else None
        adapter = DiscordAdapter(settings.discord, fake.token, guild_ready_timeout=0.05, pacer=pacer)
        chats = []
        for i in range(dms):
            user = fake.add_user(f"customer{i}")
            chats.append(ChatRef("discord", str(fake.dm_channel(user)), str(user.id)))
        await adapter.start(ignore)
        began = len(fake.requests)
        start = time.monotonic()
        results = await asyncio.gather(
            *(adapter.send(Outbound(chat, "How was your visit?")) for chat in chats), return_exceptions=True
        )
        elapsed = time.monotonic() - start
        await adapter.stop()
        posts = [r for r in fake.requests[began:] if r.method == "POST" and r.status == 200]
        times = sorted(r.at for r in fake.requests[began:])
        failed = sum(isinstance(r, DeliveryError) for r in results)
        span = (posts[-1].at - posts[0].at) if len(posts) > 1 else 0.0
        print(f"{dms} DMs, {'unpaced (discord.py alone)' if unpaced else f'send_rate = {rate:g}/s'}")
        print(f"  took {elapsed:.2f} s; {len(posts)} delivered, {failed} failed after discord.py's retries")
        if span:
            print(f"  rate seen by the fake: {(len(posts) - 1) / span:.2f}/s")
        print(f"  most requests in any one second: {busiest_second(times)} (Discord allows 50)")
        print(f"  429 answers: {fake.too_many_requests}")
    finally:
        await fake.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dms", type=int, default=300)
    parser.add_argument("--rate", type=float, default=5.0, help="our send_rate (default 5, the configured default)")
    parser.add_argument("--unpaced", action="store_true", help="no pacer of ours: discord.py alone")
    args = parser.parse_args()
    asyncio.run(main(args.dms, args.rate, args.unpaced))
