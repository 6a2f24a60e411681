"""CPU that one Telegram send costs: the adapter's side, and the fake Bot API's side, measured apart.

    python bench/telegram_send_cost.py [--sends 3000] [--concurrency 64 256] [--only PATH ...]
                                       [--profile client|fake]

The fake Bot API (unlimited rates, as bench/scale_out.py's `--uncapped`) runs in a child process, so
the CPU of each side is its own process's: the client's `time.process_time()`, the fake's as it
reports it. Each round sends `--sends` questions (text and a row of rating buttons) to as many
different chats, `--concurrency` at once, through:

- `adapter`: `TelegramAdapter.send`, the path the delivery worker takes (pacer at send_rate 1000);
- `ptb-typed`: bare python-telegram-bot, `Bot.send_message` on a default `Bot` (one httpx pool of
  256 connections), the reply parsed into a `Message`: how the adapter sent before;
- `ptb-lanes`: the same over the adapter's `RequestLanes` (adapters/telegram/lanes.py), to tell the
  pool's share from the parsing's.

Prints milliseconds of CPU per send for the client and for the fake. The machine has 2 cores shared
with other work: CPU time, not wall rates, is the figure that holds (the old pool's figure varies
from run to run: its cost depends on how many requests happen to arrive together). `--profile`
prints the top of a cProfile of one side (BENCH_PROFILE_SORT=cumulative, BENCH_PROFILE_ONLY=a file
name to restrict it). Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo's packages

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.request import BaseRequest

from adapters.telegram import TelegramAdapter
from adapters.telegram.lanes import RequestLanes
from bot.config import TelegramSettings
from bot.types import ChatRef, Choice, Outbound
from tests.adapters.fake_telegram import FakeLimits, FakeTelegram

UNLIMITED = FakeLimits(per_second=10**9, private_gap=1.0, group_per_minute=20)
QUESTION = "How would you rate your visit?"
CHOICES = tuple(Choice(str(n), f"q:1:{n}") for n in range(1, 6))
FIRST_CHAT = 1_000_000


# ---------------------------------------------------------------------------------------- the fake (child)
async def serve_fake(chats: int, profile: bool) -> None:
    """The child: serve the fake, answer `cpu` / `profile` / `quit` on stdin with a JSON line."""
    profiler = cProfile.Profile() if profile else None
    async with FakeTelegram(limits=UNLIMITED) as fake:
        for chat in range(FIRST_CHAT, FIRST_CHAT + chats):
            fake.add_group(chat)  # the customer has opened the bot
        print(json.dumps({"base_url": fake.base_url, "token": fake.token}), flush=True)
        reader = asyncio.StreamReader()
        await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := (await reader.readline()).decode().strip():
            if line == "cpu":
                answer: object = {"cpu": time.process_time(), "sends": len(fake.sends), "refused": len(fake.too_many)}
            elif line == "start-profile" and profiler is not None:
                profiler.enable()
                answer = {}
            elif line == "stop-profile" and profiler is not None:
                profiler.disable()
                answer = {"profile": _top(profiler)}
            else:
                break
            print(json.dumps(answer), flush=True)


class Fake:
    """The parent's handle on the child serving the fake."""

    def __init__(self, process: asyncio.subprocess.Process, base_url: str, token: str) -> None:
        self.process, self.base_url, self.token = process, base_url, token

    @classmethod
    async def start(cls, chats: int, profile: bool) -> Fake:
        args = [__file__, "--serve-fake", str(chats)] + (["--profile", "fake"] if profile else [])
        process = await asyncio.create_subprocess_exec(
            sys.executable, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        assert process.stdout is not None
        hello = json.loads(await process.stdout.readline())
        return cls(process, hello["base_url"], hello["token"])

    async def ask(self, what: str) -> dict[str, object]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{what}\n".encode())
        await self.process.stdin.drain()
        answer: dict[str, object] = json.loads(await self.process.stdout.readline())
        return answer

    async def cpu(self) -> float:
        answer = await self.ask("cpu")
        return float(answer["cpu"])  # type: ignore[arg-type]

    async def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"quit\n")
        await self.process.stdin.drain()
        await self.process.wait()


def _top(profiler: cProfile.Profile, lines: int = 30) -> str:
    out = io.StringIO()
    restrict = [os.environ["BENCH_PROFILE_ONLY"]] if os.environ.get("BENCH_PROFILE_ONLY") else []
    pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "tottime")).print_stats(
        *restrict, lines
    )
    return out.getvalue()


# ---------------------------------------------------------------------------------------- the client
Send = Callable[[int], Awaitable[object]]


async def in_parallel(sends: int, concurrency: int, send: Send) -> None:
    """`send(i)` for i in range(sends), at most `concurrency` at once (as the delivery worker does)."""
    queue = iter(range(sends))

    async def worker() -> None:
        for i in queue:
            await send(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def measure(fake: Fake, name: str, sends: int, concurrency: int, send: Send, profile: str | None) -> None:
    await in_parallel(concurrency, concurrency, lambda i: send(sends + i))  # warm up: open the connections
    profiler = cProfile.Profile() if profile == "client" else None
    if profile == "fake":
        await fake.ask("start-profile")
    fake_before, client_before, wall = await fake.cpu(), time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    await in_parallel(sends, concurrency, send)
    if profiler is not None:
        profiler.disable()
    client, wall = time.process_time() - client_before, time.perf_counter() - wall
    fake_cpu = await fake.cpu() - fake_before
    print(
        f"  {name:<10} {concurrency:>4} at once: client {client / sends * 1000:5.2f} ms CPU/send, "
        f"fake {fake_cpu / sends * 1000:5.2f} ms CPU/request ({sends} in {wall:.1f} s wall)",
        flush=True,
    )
    if profiler is not None:
        print(_top(profiler))
    if profile == "fake":
        print((await fake.ask("stop-profile"))["profile"])


async def main(sends: int, concurrencies: list[int], profile: str | None, only: list[str]) -> None:
    span = sends + max(concurrencies)  # a round's chats, its warm-up's included
    rounds = [(path, concurrency) for concurrency in concurrencies for path in only]
    fake = await Fake.start(len(rounds) * span, profile == "fake")
    try:
        print(f"telegram send cost, {sends} sends to as many chats, fake Bot API in a child process:")
        for number, (path, concurrency) in enumerate(rounds):
            first = FIRST_CHAT + number * span  # each round has chats of its own: no private-chat gap in the way
            async with PATHS[path](fake, first) as send:
                await measure(fake, path, sends, concurrency, send, profile)
    finally:
        await fake.close()


@contextlib.asynccontextmanager
async def via_adapter(fake: Fake, first: int) -> AsyncIterator[Send]:
    adapter = TelegramAdapter(TelegramSettings(base_url=fake.base_url, send_rate=1000), fake.token)
    adapter.hold_receiving()  # sending only: no getUpdates loop in the measurement
    await adapter.start(_ignore)

    async def send(i: int) -> object:
        chat = ChatRef("telegram", str(first + i), str(first + i))
        return await adapter.send(Outbound(chat, QUESTION, CHOICES))

    try:
        yield send
    finally:
        await adapter.stop()


Path = Callable[[Fake, int], contextlib.AbstractAsyncContextManager[Send]]


def _typed(request: Callable[[], BaseRequest | None]) -> Path:
    @contextlib.asynccontextmanager
    async def path(fake: Fake, first: int) -> AsyncIterator[Send]:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(c.label, callback_data=c.value) for c in CHOICES]])
        async with Bot(fake.token, base_url=fake.base_url, request=request()) as bot:

            async def send(i: int) -> object:
                return await bot.send_message(first + i, QUESTION, reply_markup=keyboard)

            yield send

    return path


PATHS: dict[str, Path] = {
    "adapter": via_adapter,
    "ptb-typed": _typed(lambda: None),  # PTB's default HTTPXRequest: one pool of 256 connections
    "ptb-lanes": _typed(RequestLanes),  # the adapter's request lanes, the reply still parsed
}


async def _ignore(_: object) -> None:
    return None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=3000, help="sends per round (default 3000)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64, 256], help="sends at once (default 64 256)")
    parser.add_argument("--profile", choices=["client", "fake"], help="print a cProfile of one side")
    parser.add_argument("--only", choices=list(PATHS), nargs="+", default=list(PATHS), help="paths to measure")
    parser.add_argument("--serve-fake", type=int, metavar="CHATS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake is not None:
        asyncio.run(serve_fake(args.serve_fake, args.profile == "fake"))
    else:
        asyncio.run(main(args.sends, args.concurrency, args.profile, args.only))
