"""What changes when several `feedbot run` processes share one PostgreSQL database.

SQLite keeps one process (storage.single_process) and each adapter's own pacer. On PostgreSQL the
platforms' overall pace and each chat's pace are shared through the database (bot.shared_pace).
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.adapter import Adapter
from bot.pacing import LocalPacer
from bot.shared_pace import SharedPacer
from storage.store import Store


def share_pace(adapters: Iterable[Adapter], store: Store) -> None:
    """Give every adapter with a local pacer the database-shared one (PostgreSQL only)."""
    if store.dialect != "postgresql":
        return
    for adapter in adapters:
        if isinstance(adapter.pacer, LocalPacer):
            adapter.pacer = SharedPacer(adapter.platform, adapter.pacer.rules, store)
