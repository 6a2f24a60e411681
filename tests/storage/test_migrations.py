"""Migrations build exactly the schema the table models describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import storage.models  # noqa: F401
from storage.db import upgrade
from storage.store import Store


async def test_upgrade_is_idempotent_and_matches_models(store: Store) -> None:
    await upgrade(store.db)  # already at head: a second run changes nothing

    def diff(connection: object) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(context, SQLModel.metadata))

    async with store.db.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []
