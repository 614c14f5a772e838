"""Rolling upgrades: every migration is additive, so a replica of the previous release keeps
working on the migrated schema beside new ones (nothing it reads is dropped or renamed, and a row
it writes naming only the columns it knows is accepted), and `db upgrade --dry-run` says what
would run without touching the database. On a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, DateTime, Integer, MetaData, Table, inspect, text

from adapters.storage.engine import make_engine
from adapters.storage.migrate import head_revision, pending_migrations, plan_upgrade, upgrade
from tests.bot.clirun import fresh_directory, run

REVISIONS = [revision for revision, _ in pending_migrations(None)]


def _columns(conn: Connection) -> dict[str, dict[str, Any]]:
    found = inspect(conn)
    return {
        table: {column["name"]: column for column in found.get_columns(table)}
        for table in found.get_table_names()
        if table != "alembic_version"
    }


def _value(column: Any) -> Any:
    kind = column["type"]
    if isinstance(kind, DateTime):
        return datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    if isinstance(kind, Integer):
        return 1
    return "1"


def _insert_as_the_old_release(conn: Connection, table: str, columns: list[str]) -> None:
    reflected = Table(table, MetaData(), autoload_with=conn)
    known = {name: _value(col) for name, col in _columns(conn)[table].items() if name in columns}
    conn.execute(reflected.insert().values(**known))


@pytest.mark.parametrize("step", range(1, len(REVISIONS)), ids=lambda i: f"to-{REVISIONS[i]}")
async def test_each_migration_only_adds_so_the_previous_release_keeps_working(
    database_url: str, step: int
) -> None:
    engine = make_engine(database_url)
    try:
        previous, current = REVISIONS[step - 1], REVISIONS[step]
        await upgrade(engine, to=previous)
        async with engine.connect() as conn:
            before = await conn.run_sync(_columns)
        await upgrade(engine, to=current)
        async with engine.connect() as conn:
            after = await conn.run_sync(_columns)
        for table, columns in before.items():
            assert table in after, f"{current} drops table {table}"
            for name, column in columns.items():
                assert name in after[table], f"{current} drops or renames {table}.{name}"
                assert str(after[table][name]["type"]) == str(column["type"]), (table, name)
            for name in after[table].keys() - columns.keys():
                added = after[table][name]
                assert added["nullable"] or added["default"] is not None, (
                    f"{current} adds {table}.{name} NOT NULL without a default: the previous "
                    "release's inserts would fail"
                )
        async with engine.begin() as conn:
            for table, columns in before.items():
                await conn.run_sync(_insert_as_the_old_release, table, list(columns))
    finally:
        await engine.dispose()


async def test_dry_run_lists_what_would_run_and_changes_nothing(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await upgrade(engine, to=REVISIONS[-2])
        current, head, steps = await plan_upgrade(engine)
        assert (current, head) == (REVISIONS[-2], head_revision())
        assert [revision for revision, _ in steps] == [REVISIONS[-1]]
        assert all(summary for _, summary in steps)
        async with engine.connect() as conn:
            still = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        assert still == REVISIONS[-2]
    finally:
        await engine.dispose()


def test_dry_run_on_the_command_line_creates_no_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh_directory(monkeypatch, tmp_path)

    ran = run(capsys, "db", "upgrade", "--dry-run")

    assert ran.code == 0, ran.text
    assert ran.out.startswith(
        f"`db upgrade` would migrate the database from empty to revision {head_revision()} in "
        f"{len(REVISIONS)} step(s); nothing was changed:"
    )
    assert f"  {REVISIONS[0]}: Initial schema" in ran.out
    assert not (tmp_path / "oncall-access.db").exists()
    assert run(capsys, "db", "upgrade").code == 0
    again = run(capsys, "db", "upgrade", "--dry-run")
    assert (
        again.out
        == f"Database already at revision {head_revision()}; `db upgrade` would change nothing.\n"
    )
