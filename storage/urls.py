"""Database URLs as people have them, mapped to the async drivers feedbot uses.

    sqlite:///feedbot.db              -> sqlite+aiosqlite:///<base_dir>/feedbot.db
    sqlite:////var/lib/feedbot/f.db   -> sqlite+aiosqlite:////var/lib/feedbot/f.db
    postgres://u:p@host/db            -> postgresql+asyncpg://u:p@host/db
    postgresql://u@host/db?sslmode=require -> postgresql+asyncpg://u@host/db?ssl=require

A relative SQLite path is taken relative to `base_dir` (the config file's folder) when one is given.
libpq's `sslmode` becomes asyncpg's `ssl`, which takes the same values.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

SQLITE_DRIVERS = {"sqlite", "sqlite+aiosqlite"}
POSTGRES_DRIVERS = {"postgres", "postgresql", "postgresql+asyncpg"}
EXAMPLES = "'sqlite:///feedbot.db' or 'postgresql://user@host/db'"


def _parse(raw: str) -> URL:
    try:
        return make_url(raw.strip())
    except ArgumentError:
        raise ValueError(f"not a database URL; expected {EXAMPLES}") from None


def is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def async_url(raw: str, base_dir: Path | None = None) -> str:
    """The URL with its async driver; raises ValueError saying what is wrong in plain words."""
    url = _parse(raw)
    if url.drivername in SQLITE_DRIVERS:
        if is_memory(url):
            return "sqlite+aiosqlite:///:memory:"
        path = Path(str(url.database)).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        options = "&".join(f"{key}={value}" for key, value in url.query.items())
        return f"sqlite+aiosqlite:///{path}" + (f"?{options}" if options else "")
    if url.drivername in POSTGRES_DRIVERS:
        url = url.set(drivername="postgresql+asyncpg")
        if "sslmode" in url.query:
            query = dict(url.query)
            query["ssl"] = query.pop("sslmode")
            url = url.set(query=query)
        if not url.database:
            raise ValueError("the URL names no database (postgresql://user@host/DATABASE)")
        return url.render_as_string(hide_password=False)
    raise ValueError(f"unsupported database {url.drivername!r}; expected {EXAMPLES}")


def safe_url(raw: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a database URL>"


def sqlite_path(raw: str) -> Path | None:
    """The file behind a SQLite URL, None for PostgreSQL and in-memory SQLite."""
    url = make_url(raw)
    if url.get_backend_name() != "sqlite" or is_memory(url) or url.database is None:
        return None
    return Path(url.database)
