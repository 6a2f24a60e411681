"""The heap trimmer gives the pages of freed C-heap blocks back to the system (bot/runtime/heap.py).

Run in a fresh interpreter: the pattern below is what asyncio's socket reads leave in a delivering
process (big transient buffers, a small long-lived object after each), and the test's own process has
a heap of its own history.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot.runtime.heap import HeapTrimmer

FRAGMENT_THEN_TRIM = """
import json, os
from bot.runtime.heap import HeapTrimmer

def rss_mb():
    for line in open(f"/proc/{os.getpid()}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

big = bytearray(1 << 20)
del big  # glibc now serves blocks below 1 MiB from the heap, as after a socket read of 256 KiB
holes, pins = [], []
for _ in range(300):
    holes.append(bytes(100_000))  # transient buffers...
    pins.append(bytes(600))  # ...each followed by a small object that stays
holes.clear()
before = rss_mb()
trimmed = HeapTrimmer().trim()
print(json.dumps({"before": before, "after": rss_mb(), "trimmed": trimmed}))
"""


@pytest.mark.skipif(not HeapTrimmer().available, reason="malloc_trim is glibc's")
def test_trimming_returns_the_holes_between_live_blocks_to_the_system() -> None:
    result = subprocess.run([sys.executable, "-c", FRAGMENT_THEN_TRIM], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["trimmed"] is True
    # Of the 30 MB freed between the pinned blocks, most stayed resident until trimmed.
    assert figures["before"] - figures["after"] > 15, figures
