"""Shutdown benchmark: how long `feedbot run` takes to exit after SIGINT or SIGTERM, at every stage.

    python bench/shutdown.py [--repeat 3]

A real `feedbot run` process talks to the fake Bot API server (tests/adapters/fake_telegram.py) in
this process. Stages: Telegram never answering getMe (a connection to a black hole), the start being
retried after a 502, and the bot running (long polling). Prints the seconds from the signal to the
process's exit and its exit code, per stage and signal. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the repo's packages

from tests.adapters.fake_telegram import FakeTelegram  # noqa: E402


async def once(stage: str, sig: signal.Signals) -> tuple[float, int]:
    async with FakeTelegram() as fake:
        fake.long_poll_cap = 0.5
        if stage == "black hole":
            fake.stall("getMe")
        elif stage == "retrying":
            fake.fail("deleteWebhook", 502, "Bad Gateway", times=None)
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "config.toml"
            config.write_text(
                f'[storage]\nurl = "sqlite:///{tmp}/feedbot.db"\n[[polls]]\nid = "visit"\nquestion = "How was it?"\n'
                f'[telegram]\nbase_url = "{fake.base_url}"\n'
            )
            env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token}
            argv = [sys.executable, "-m", "bot.runtime.cli", "run", "--config", str(config)]
            process = await asyncio.to_thread(subprocess.Popen, argv, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
            try:
                method = {"black hole": "getMe", "retrying": "deleteWebhook", "running": "getUpdates"}[stage]
                await fake.until(lambda: fake.calls_to(method), within=60)
                if stage == "running":
                    await asyncio.sleep(1.0)  # a long poll in progress
                sent = time.monotonic()
                process.send_signal(sig)
                code = await asyncio.to_thread(process.wait, 60)
                return time.monotonic() - sent, code
            finally:
                if process.poll() is None:
                    process.kill()


async def main(repeat: int) -> None:
    print(f"{'stage':<12} {'signal':<8} {'median s':>9} {'max s':>7}  exit codes")
    for stage in ("black hole", "retrying", "running"):
        for sig in (signal.SIGINT, signal.SIGTERM):
            results = [await once(stage, sig) for _ in range(repeat)]
            times = [t for t, _ in results]
            codes = sorted({c for _, c in results})
            print(f"{stage:<12} {sig.name:<8} {statistics.median(times):>9.2f} {max(times):>7.2f}  {codes}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    asyncio.run(main(parser.parse_args().repeat))
