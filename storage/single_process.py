"""SQLite takes one `feedbot run` at a time: the second refuses to start instead of sharing the file.

SQLite has one writer and no way to share a send pace or elect a leader between processes, so a
second process on the same file would only contend for the write lock and send twice as fast.
The guard is an exclusive `flock` on `<database>.run-lock`, held for the life of the process; the
kernel releases it when the process ends, even after SIGKILL, so a stale lock file never blocks a
restart. PostgreSQL needs no guard: it coordinates any number of processes (bot.runtime.leadership).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

from storage.db import StorageError
from storage.urls import sqlite_path


class AlreadyRunning(StorageError):
    pass


@contextlib.contextmanager
def single_process(url: str) -> Iterator[None]:
    """Hold the run lock of a SQLite file (nothing for PostgreSQL or in-memory SQLite)."""
    path = sqlite_path(url)
    if path is None:
        yield
        return
    lock_path = path.with_name(path.name + ".run-lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise AlreadyRunning(
                f"another `feedbot run` (pid {holder}) is already running on {path}; SQLite allows one "
                'process per database: to run several, use PostgreSQL ([storage] url = "postgresql://...")',
                url,
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
