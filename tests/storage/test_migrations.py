"""Migrations: the schema the table models describe, built once even when processes start together;
commands that only read never migrate; a database newer than the code is refused in one line."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import storage.db
import storage.models  # noqa: F401
from storage.db import NoDatabase, SchemaAhead, SchemaBehind, make_engine, open_current, schema_state, upgrade
from storage.store import Store

ROOT = Path(__file__).resolve().parents[2]
HEAD = ScriptDirectory.from_config(storage.db.alembic_config()).get_current_head()
assert HEAD is not None
LATER = f"{int(HEAD) + 1:04d}"  # a revision one further than this feedbot knows


async def schema_differences(engine: AsyncEngine) -> list[object]:
    def diff(connection: object) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(context, SQLModel.metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(diff)


async def versions(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())


async def test_upgrade_is_idempotent_and_matches_models(store: Store) -> None:
    await upgrade(store.db)  # already at head: a second run changes nothing
    assert await schema_differences(store.db) == []


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path, fresh_pg_url: str) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/fresh.db" if request.param == "sqlite" else fresh_pg_url


async def test_concurrent_upgrades_of_a_fresh_database_both_succeed(fresh_url: str) -> None:
    engines = [make_engine(fresh_url) for _ in range(3)]
    try:
        await asyncio.wait_for(asyncio.gather(*(upgrade(engine) for engine in engines)), 120)
        assert await versions(engines[0]) == [HEAD]
        assert await schema_differences(engines[0]) == []
    finally:
        for engine in engines:
            await engine.dispose()


UPGRADE_AT_SIGNAL = """
import asyncio, os, sys, time
from storage.db import make_engine, upgrade
url, ready, go = sys.argv[1:4]
open(ready, "w").close()
while not os.path.exists(go):  # every process has imported everything: they start together
    time.sleep(0.002)
async def main():
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()
asyncio.run(main())
print("upgraded")
"""


async def test_two_processes_starting_at_once_on_a_fresh_database(fresh_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(2)]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            UPGRADE_AT_SIGNAL,
            fresh_url,
            str(flag),
            str(go),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for flag in ready
    ]
    for _ in range(600):
        if all(await asyncio.gather(*(asyncio.to_thread(flag.exists) for flag in ready))):
            break
        await asyncio.sleep(0.05)
    await asyncio.to_thread(go.touch)
    results = [await asyncio.wait_for(p.communicate(), 120) for p in procs]
    stderr = "\n".join(err.decode(errors="replace") for _, err in results)
    assert [p.returncode for p in procs] == [0, 0], stderr  # whole, for an intermittent failure seen once
    assert all(out.decode().strip() == "upgraded" and err == b"" for out, err in results), results
    engine = make_engine(fresh_url)
    try:
        assert await versions(engine) == [HEAD]
        assert await schema_differences(engine) == []
    finally:
        await engine.dispose()


async def test_a_database_newer_than_the_code_is_refused_without_change(fresh_url: str) -> None:
    engine = make_engine(fresh_url)
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(SchemaAhead) as raised:
            await upgrade(engine)
        assert raised.value.problem == f"database is at revision 9999; this feedbot knows up to {HEAD}"
        assert await versions(engine) == ["9999"]
        with pytest.raises(SchemaAhead):
            await (await open_current(fresh_url)).dispose()
    finally:
        await engine.dispose()


async def test_reading_commands_never_create_or_migrate(fresh_url: str) -> None:
    if fresh_url.startswith("sqlite"):
        with pytest.raises(NoDatabase) as missing:
            await open_current(fresh_url)
        path = fresh_url.removeprefix("sqlite+aiosqlite:///")
        assert str(missing.value) == f"no database at {path}"
        assert not await asyncio.to_thread(Path(path).exists)
        return
    with pytest.raises(SchemaBehind) as raised:
        await open_current(fresh_url)
    assert raised.value.problem == "database has no feedbot tables yet: run `feedbot db upgrade`"
    engine = make_engine(fresh_url)
    try:
        assert (await schema_state(engine)).empty  # still nothing there
    finally:
        await engine.dispose()


NEXT_REVISION = f'''"""a later revision, for tests: one more table

Revision ID: {LATER}
Revises: {HEAD}
"""
from alembic import op
import sqlalchemy as sa

revision = "{LATER}"
down_revision = "{HEAD}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("test_later", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("test_later")
'''


async def test_an_older_database_is_refused_until_upgraded(
    fresh_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(fresh_url)
    try:
        await upgrade(engine)  # at the shipped head
        later = tmp_path / "migrations"  # a feedbot whose migrations go one further
        shutil.copytree(storage.db.MIGRATIONS, later)
        (later / "versions" / f"{LATER}_test_later.py").write_text(NEXT_REVISION)
        monkeypatch.setattr(storage.db, "MIGRATIONS", later)
        with pytest.raises(SchemaBehind) as raised:
            await open_current(fresh_url)
        expected = f"database is at revision {HEAD}; this feedbot needs {LATER}: run `feedbot db upgrade`"
        assert raised.value.problem == expected
        await upgrade(engine)
        assert await versions(engine) == [LATER]
        await (await open_current(fresh_url)).dispose()
    finally:
        await engine.dispose()


def feedbot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.runtime.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


async def test_cli_refuses_a_newer_database_in_one_line_for_every_command(fresh_url: str, tmp_path: Path) -> None:
    engine = make_engine(fresh_url)
    await upgrade(engine)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    await engine.dispose()
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\nurl = "{fresh_url}"\n[[polls]]\nid = "a"\nquestion = "q"\n')
    line = f"feedbot: database is at revision 9999; this feedbot knows up to {HEAD} ({fresh_url})"
    for args in (["db", "upgrade", "--url", fresh_url], ["run"], ["export"], ["digest"]):
        result = await asyncio.to_thread(feedbot, *args, "--config", str(config))
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.strip().splitlines()[-1] == line, (args, result.stderr)
        assert "Traceback" not in result.stderr
    check = await asyncio.to_thread(feedbot, "check", "--config", str(config))
    assert check.returncode == 1
    assert (
        check.stderr.strip()
        == f"feedbot: database {fresh_url}: database is at revision 9999; this feedbot knows up to {HEAD}"
    )


async def test_cli_export_and_digest_refuse_to_create_a_database(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[storage]\nurl = "sqlite:///nothing-here.db"\n')
    for command in ("export", "digest"):
        result = await asyncio.to_thread(feedbot, command, "--config", str(config))
        assert result.returncode == 1
        assert result.stderr.strip() == f"feedbot: no database at {tmp_path}/nothing-here.db"
    assert not (tmp_path / "nothing-here.db").exists()
