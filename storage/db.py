"""Engine construction, SQLite pragmas, Alembic migrations under a lock, and database errors in one line.

    StorageError             one line: the problem, and the URL without its password
    ├── DatabaseUnreachable  cannot connect, refused, no such database, cannot open the file
    ├── NoDatabase           no database at PATH (`export` and `digest` never create one)
    ├── SchemaBehind         older than this feedbot: `feedbot db upgrade` brings it up to date
    └── SchemaAhead          newer than this feedbot: it was upgraded by a newer feedbot

Only `upgrade` migrates (`run`, `demo` and `feedbot db upgrade` call it); it holds a PostgreSQL
advisory lock, or an exclusive SQLite transaction, so two processes starting at once take turns.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool, StaticPool
from sqlalchemy.util import await_
from sqlalchemy.util.concurrency import in_greenlet

from storage.urls import is_memory, safe_url, sqlite_path

MIGRATIONS = Path(__file__).parent / "migrations"
# pg_advisory_xact_lock key: any constant no other application on the database uses ("feedbot" in ASCII).
MIGRATION_LOCK_KEY = 0x6665656462_6F74
SQLITE_MIGRATION_WAIT_MS = 120_000


class StorageError(Exception):
    def __init__(self, problem: str, url: str) -> None:
        super().__init__(f"{problem} ({safe_url(url)})")
        self.problem = problem
        self.url = url


class DatabaseUnreachable(StorageError):
    pass


class NoDatabase(StorageError):
    def __init__(self, path: Path, url: str) -> None:
        super().__init__(f"no database at {path}", url)
        self.path = path

    def __str__(self) -> str:  # the path says it all
        return self.problem


class SchemaBehind(StorageError):
    pass


class SchemaAhead(StorageError):
    pass


def _wal_mode(cursor: Any, wait_ms: int) -> None:
    """Switch a SQLite file to WAL, waiting up to `wait_ms` for the other connections.

    Leaving the rollback journal needs the file to itself, and SQLite answers "database is locked"
    at once, without its busy handler, when it sees the wait could deadlock (another connection is
    taking the write lock at the same moment). That happens only while a new file is first opened
    by several connections at once; a short retry settles it.
    """
    deadline = time.monotonic() + wait_ms / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            if in_greenlet():  # an async engine: the event loop goes on meanwhile
                await_(asyncio.sleep(0.01))
            else:
                time.sleep(0.01)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN is switched off: `_sqlite_begin` issues ours.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    _wal_mode(cursor, 5000)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """Write transactions take SQLite's write lock at BEGIN, so read-then-write never fails half-way."""
    read_only = conn.get_execution_options().get("feedbot_read_only", False)
    conn.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine; SQLite gets WAL, busy_timeout and foreign keys on every connection.

    `hide_parameters`: error messages never carry a statement's parameters (customer text).
    """
    if url.startswith("sqlite"):
        kwargs: dict[str, Any] = {}
        if ":memory:" in url or url.rstrip("/").endswith("sqlite+aiosqlite:"):
            kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        engine = create_async_engine(url, echo=echo, hide_parameters=True, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(url, echo=echo, hide_parameters=True, pool_pre_ping=True)


class SessionScope:
    """Base of the query classes (Reports, the analysis store): each method runs one short transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as conn:
            yield conn


# ---------------------------------------------------------------------------------------------- errors
def describe_error(exc: BaseException) -> str:
    """A database failure in one line, without the statement or its parameters."""
    if isinstance(exc, DBAPIError):
        orig = exc.orig if exc.orig is not None else exc
        lines = str(orig).strip().splitlines()
        return lines[0] if lines else type(orig).__name__
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the database server running?)"
    if isinstance(exc, socket.gaierror):
        return "cannot resolve the host name"
    if isinstance(exc, TimeoutError | PoolTimeout):
        return "timed out connecting to the database"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@asynccontextmanager
async def database_errors(url: str) -> AsyncIterator[None]:
    """Turn the database failures that can happen in the block into a one-line `DatabaseUnreachable`.

    A refused connection surfaces as OSError, a pool timeout as SQLAlchemy's TimeoutError, the rest
    as DBAPIError (whose own text would carry the statement): each becomes its first line.
    """
    try:
        yield
    except StorageError:
        raise
    except (DBAPIError, PoolTimeout, OSError) as exc:
        raise DatabaseUnreachable(f"database error: {describe_error(exc)}", url) from exc


# ---------------------------------------------------------------------------------------------- migrations
def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Where a database stands against the migrations this feedbot ships."""

    current: str | None  # the database's revision; None when it has no feedbot tables yet
    head: str  # the newest revision this feedbot knows
    known: bool  # whether this feedbot knows `current`

    @property
    def empty(self) -> bool:
        return self.current is None

    @property
    def ahead(self) -> bool:
        return self.current is not None and not self.known

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def describe(self) -> str:
        if self.empty:
            return "has no feedbot tables yet"
        if self.ahead:
            return f"database is at revision {self.current}; this feedbot knows up to {self.head}"
        if self.up_to_date:
            return f"is at the current revision ({self.head})"
        return f"database is at revision {self.current}; this feedbot needs {self.head}"


def _state(connection: Connection) -> SchemaState:
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    assert head is not None, "storage/migrations has no revisions"
    current = MigrationContext.configure(connection).get_current_revision()
    known = current is None or current in {rev.revision for rev in script.walk_revisions()}
    return SchemaState(current, head, known)


def _upgrade_locked(connection: Connection, revision: str, url: str) -> None:
    if connection.dialect.name == "postgresql":
        # Held until this transaction ends; a second process waits here, then finds the schema current.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    state = _state(connection)
    if state.ahead:
        raise SchemaAhead(state.describe(), url)
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def _exclusive_sqlite_engine(url: str) -> AsyncEngine:
    """An engine whose transactions are `BEGIN EXCLUSIVE`, DDL included (pysqlite would otherwise run
    DDL outside any transaction): a second migrator waits for the first instead of racing it."""
    engine = create_async_engine(url, poolclass=NullPool, hide_parameters=True)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver opens no transactions of its own
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_MIGRATION_WAIT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        _wal_mode(cursor, SQLITE_MIGRATION_WAIT_MS)
        cursor.close()

    def on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN EXCLUSIVE")

    event.listen(engine.sync_engine, "connect", on_connect)
    event.listen(engine.sync_engine, "begin", on_begin)
    return engine


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision` (at `run` and `demo` start, and by `feedbot db upgrade`).

    Raises SchemaAhead, without touching anything, when the database is newer than this feedbot.
    """
    url = engine.url.render_as_string(hide_password=False)
    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise DatabaseUnreachable(f"the folder {path.parent} for the SQLite database does not exist", url)
    separate = engine.dialect.name == "sqlite" and not is_memory(engine.url)
    migrator = _exclusive_sqlite_engine(url) if separate else engine
    try:
        async with database_errors(url), migrator.begin() as conn:
            await conn.run_sync(_upgrade_locked, revision, url)
    finally:
        if separate:
            await migrator.dispose()


async def schema_state(engine: AsyncEngine) -> SchemaState:
    """Read where the database stands; never changes it."""
    url = engine.url.render_as_string(hide_password=False)
    async with database_errors(url), engine.connect() as conn:
        return await conn.run_sync(_state)


def sqlite_file_missing(url: str) -> Path | None:
    """The path of a SQLite database file that does not exist yet (connecting would create it)."""
    path = sqlite_path(url)
    return path if path is not None and not path.exists() else None


async def open_current(url: str) -> AsyncEngine:
    """An engine on an existing database at the current revision, for commands that never migrate.

    Raises NoDatabase (a SQLite file that does not exist: it is not created), SchemaBehind with
    what to run, SchemaAhead, or DatabaseUnreachable.
    """
    missing = sqlite_file_missing(url)
    if missing is not None:
        raise NoDatabase(missing, url)
    engine = make_engine(url)
    try:
        state = await schema_state(engine)
        if state.ahead:
            raise SchemaAhead(state.describe(), url)
        if state.empty:
            raise SchemaBehind("database has no feedbot tables yet: run `feedbot db upgrade`", url)
        if not state.up_to_date:
            raise SchemaBehind(f"{state.describe()}: run `feedbot db upgrade`", url)
    except BaseException:
        await engine.dispose()
        raise
    return engine
