"""The tables as SQLAlchemy Core `Table`s, for the repositories' queries (typed, no ORM overhead)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

customer: Table = SQLModel.metadata.tables["customer"]
customer_tag: Table = SQLModel.metadata.tables["customer_tag"]
poll_run: Table = SQLModel.metadata.tables["poll_run"]
delivery: Table = SQLModel.metadata.tables["delivery"]
answer: Table = SQLModel.metadata.tables["answer"]
inbound_seen: Table = SQLModel.metadata.tables["inbound_seen"]
dead_letter: Table = SQLModel.metadata.tables["dead_letter"]
digest_post: Table = SQLModel.metadata.tables["digest_post"]
worker: Table = SQLModel.metadata.tables["worker"]
analysis_change: Table = SQLModel.metadata.tables["analysis_change"]
answer_analysis: Table = SQLModel.metadata.tables["answer_analysis"]
answer_theme: Table = SQLModel.metadata.tables["answer_theme"]
answer_term: Table = SQLModel.metadata.tables["answer_term"]
run_analysis: Table = SQLModel.metadata.tables["run_analysis"]
run_theme_tally: Table = SQLModel.metadata.tables["run_theme_tally"]
run_theme_quote: Table = SQLModel.metadata.tables["run_theme_quote"]
platform_chat: Table = SQLModel.metadata.tables["platform_chat"]
send_pace: Table = SQLModel.metadata.tables["send_pace"]


def insert_ignoring_conflicts(conn: AsyncConnection, table: Table) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING, in the connection's dialect (any unique key)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def prepared(build: Callable[[str], Any]) -> Callable[[AsyncConnection], Any]:
    """A statement built once per dialect and reused with its parameters passed at execution.

    For the statements every inbound message runs: building and cache-keying a statement costs more
    Python than executing it does.
    """
    built: dict[str, Any] = {}

    def get(conn: AsyncConnection) -> Any:
        name = conn.dialect.name
        if name not in built:
            built[name] = build(name)
        return built[name]

    return get


def upsert(conn: AsyncConnection, table: Table, keys: list[str], values: dict[str, Any], update: list[str]) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET the `update` columns from the inserted row."""
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(table).values(**values)
        return pg.on_conflict_do_update(index_elements=keys, set_={c: pg.excluded[c] for c in update})
    lite = sqlite.insert(table).values(**values)
    return lite.on_conflict_do_update(index_elements=keys, set_={c: lite.excluded[c] for c in update})
