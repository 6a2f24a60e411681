"""`feedbot deadletters`: the inbound updates that failed with a bug too often and were set aside.

Listing shows where each came from, how often it failed and the error, but not the customer's text
(it is in the database, and replayed with the update). `--retry ID` hands one to the engine again,
as if the platform had delivered it once more: its replies go into the outbox, and the running
feedbot sends them.
"""

from __future__ import annotations

from typing import TextIO

from bot.config import Settings
from bot.runtime.app import build_runtime
from storage.db import open_current
from storage.store import Store


async def list_dead_letters(settings: Settings, out: TextIO) -> int:
    engine = await open_current(settings.storage.url)
    try:
        async with Store(engine).read() as unit:
            letters = await unit.inbound.dead_letters(limit=1000)
    finally:
        await engine.dispose()
    if not letters:
        out.write("no dead letters\n")
        return 0
    for letter in letters:
        error = letter.error.strip().splitlines()[-1] if letter.error.strip() else ""
        out.write(
            f"{letter.id}\t{letter.last_failed_at:%Y-%m-%d %H:%M} UTC\t{letter.platform} chat {letter.chat_id} "
            f"message {letter.message_id} ({letter.kind}) from user {letter.user_id}\t"
            f"failed {letter.attempts}x: {error}\n"
        )
    out.write(f"{len(letters)} dead letter(s); replay one with: feedbot deadletters --retry ID\n")
    return 0


async def retry_dead_letter(settings: Settings, letter_id: int, out: TextIO) -> int:
    engine = await open_current(settings.storage.url)
    runtime = build_runtime(settings, adapters=[], store=Store(engine))
    try:
        try:
            handled = await runtime.engine.replay(letter_id)
        except KeyError:
            out.write(f"no dead letter {letter_id}\n")
            return 1
    finally:
        await engine.dispose()
    if handled.dead_lettered:
        out.write(f"dead letter {letter_id} failed again; it stays set aside (feedbot deadletters shows the error)\n")
        return 1
    out.write(f"dead letter {letter_id} handled: {handled.replies} reply(ies) queued for the running feedbot to send\n")
    return 0
