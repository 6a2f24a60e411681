"""Database failures, classified by cause (not by class alone).

    StorageError
    ├── StorageUnavailable   passing: connection refused or reset, pool timeout, deadlock or
    │                        serialization failure, "database is locked", timeouts. Retry later;
    │                        the platform update must not be acknowledged.
    └── StorageRejected      the data itself: integer out of range, value too long, invalid text.
                             Retrying never helps: answer the customer and move on.

Anything else a query raises (an integrity error nobody expected, a programming error) is not
translated: it is a bug, and the caller treats it as one.
"""

from __future__ import annotations

import asyncio
import sqlite3

from sqlalchemy import exc as sa_exc


class StorageError(Exception):
    """Base of the failures the storage layer translates."""


class StorageUnavailable(StorageError):
    """The database cannot be used right now; the same work may succeed later."""


class StorageRejected(StorageError):
    """The database refused the data itself; the same work will fail the same way."""


# SQLSTATE classes (PostgreSQL appendix A): 08 connection, 40 rollback (40001 serialization,
# 40P01 deadlock), 53 insufficient resources, 55P03 lock not available, 57P operator intervention
# (admin shutdown, cannot connect now), 58 system error; 22 data exception (out of range, too long,
# invalid text representation, NUL in text).
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "40", "53", "55P03", "57P", "58")
_DATA_SQLSTATE_PREFIX = "22"
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "busy", "disk i/o error", "unable to open")


def _sqlstate(error: BaseException | None) -> str | None:
    while error is not None:
        state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(state, str):
            return state
        error = error.__cause__
    return None


def classify(error: BaseException) -> StorageError | None:
    """Our error for `error`, or None when it is not a database condition we recognise (a bug)."""
    if isinstance(error, StorageError):
        return error
    reason = _reason(error)
    if isinstance(error, sa_exc.TimeoutError | TimeoutError | asyncio.TimeoutError | ConnectionError | OSError):
        return StorageUnavailable(reason)
    if isinstance(error, sa_exc.DisconnectionError):
        return StorageUnavailable(reason)
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return StorageUnavailable(reason)
        state = _sqlstate(error.orig)
        if state is not None:
            if state.startswith(_DATA_SQLSTATE_PREFIX):
                return StorageRejected(reason)
            if state.startswith(_TRANSIENT_SQLSTATE_PREFIXES):
                return StorageUnavailable(reason)
            return None
        orig = error.orig
        if isinstance(orig, sqlite3.OperationalError) or isinstance(error, sa_exc.OperationalError):
            text = str(orig).lower()
            if any(marker in text for marker in _SQLITE_TRANSIENT):
                return StorageUnavailable(reason)
        if isinstance(orig, sqlite3.DataError) or isinstance(error, sa_exc.DataError):
            return StorageRejected(reason)
        if isinstance(error, sa_exc.InterfaceError):
            return StorageUnavailable(reason)
    return None


def _reason(error: BaseException) -> str:
    """One line, without the statement or its parameters (they may hold customer text)."""
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        first = str(error.orig).strip().splitlines()
        return f"{type(error.orig).__name__}: {first[0] if first else ''}"[:300]
    first = str(error).strip().splitlines()
    return f"{type(error).__name__}: {first[0] if first else ''}"[:300]
