"""Database URLs as people have them become the async drivers' URLs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from storage.urls import async_url, safe_url, sqlite_path


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///feedbot.db", "sqlite+aiosqlite:////etc/feedbot/feedbot.db"),
        ("sqlite:///data/feedbot.db", "sqlite+aiosqlite:////etc/feedbot/data/feedbot.db"),
        ("sqlite:////var/lib/feedbot/feedbot.db", "sqlite+aiosqlite:////var/lib/feedbot/feedbot.db"),
        ("sqlite+aiosqlite:///feedbot.db", "sqlite+aiosqlite:////etc/feedbot/feedbot.db"),
        ("sqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
        ("postgresql://feedbot:pw@db:5432/feedbot", "postgresql+asyncpg://feedbot:pw@db:5432/feedbot"),
        ("postgres://feedbot:pw@db/feedbot", "postgresql+asyncpg://feedbot:pw@db/feedbot"),
        ("postgresql+asyncpg://feedbot@127.0.0.1/feedbot", "postgresql+asyncpg://feedbot@127.0.0.1/feedbot"),
        ("postgres://u:p@h/db?sslmode=require", "postgresql+asyncpg://u:p@h/db?ssl=require"),
        ("  postgres://u@h/db  ", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///my data/feedback:1.db", "sqlite+aiosqlite:////etc/feedbot/my data/feedback:1.db"),
    ],
)
def test_urls_map_to_the_async_drivers(given: str, expected: str) -> None:
    assert async_url(given, Path("/etc/feedbot")) == expected


def test_relative_sqlite_path_without_a_base_stays_relative() -> None:
    assert async_url("sqlite:///feedbot.db") == "sqlite+aiosqlite:///feedbot.db"


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("postgresql+psycopg2://u@h/db", "unsupported database 'postgresql+psycopg2'"),
        ("postgres://u@h", "the URL names no database"),
        ("feedbot.db", "not a database URL"),
    ],
)
def test_unsupported_urls_say_why(given: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        async_url(given)


def test_safe_url_hides_the_password_and_sqlite_path() -> None:
    assert safe_url("postgresql+asyncpg://u:s3cret@h/db") == "postgresql+asyncpg://u:***@h/db"
    assert sqlite_path("sqlite+aiosqlite:////x/y.db") == Path("/x/y.db")
    assert sqlite_path("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_path("postgresql+asyncpg://u@h/db") is None
