"""Backups: a consistent copy of the whole database in one SQLite file, whichever database it
came from, and a restore from such a file into an empty database of either kind.

A SQLite database is copied with SQLite's online backup API, so the bot may keep serving. A
PostgreSQL database is read in one REPEATABLE READ, read-only transaction (one snapshot, as
pg_dump takes) and written into a new SQLite file with this release's schema, so one file format
serves both, can be opened with `sqlite3`, and moves an installation from SQLite to PostgreSQL.
A restore brings an older backup's schema up to date on a scratch copy first, then copies every
table in one transaction; the target must hold no requests and no audit events.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.storage.audit import lock_trail
from adapters.storage.engine import make_engine
from adapters.storage.migrate import head_revision, revision_of, upgrade
from adapters.storage.tables import audit_events, metadata, requests
from core.errors import DomainError

_BATCH = 500


class BackupError(DomainError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Contents:
    revision: str
    events: int
    requests: int


async def contents(engine: AsyncEngine) -> Contents:
    async with engine.connect() as conn:
        return Contents(
            await revision_of(conn) or "empty",
            (await conn.execute(select(func.count()).select_from(audit_events))).scalar_one(),
            (await conn.execute(select(func.count()).select_from(requests))).scalar_one(),
        )


def _sqlite_path(engine: AsyncEngine) -> str:
    return str(engine.url.database or "")


def _new_private_file(out: Path) -> None:
    """Create `out` readable by its owner only: a backup holds sealed credentials and the trail."""
    try:
        os.close(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise BackupError(f"{out} already exists; a backup never overwrites a file.") from None
    except OSError as exc:
        raise BackupError(f"{out}: cannot write ({exc.strerror}).") from None


def _sqlite_online_backup(source: str, out: Path) -> None:
    if not Path(source).is_file():
        raise BackupError(f"There is no database at {source} to back up.")
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(out)) as dst:
        src.backup(dst)  # one step: a consistent snapshot even while the bot writes


async def backup(engine: AsyncEngine, out: Path) -> Contents:
    """Write a consistent copy of the database to the new file `out`."""
    _new_private_file(out)
    try:
        if engine.dialect.name == "sqlite":
            await asyncio.to_thread(_sqlite_online_backup, _sqlite_path(engine), out)
        else:
            await _snapshot_into_sqlite(engine, out)
        copy = make_engine(f"sqlite+aiosqlite:///{out}")
        try:
            return await contents(copy)
        finally:
            await copy.dispose()
    except BaseException:
        await asyncio.to_thread(out.unlink, missing_ok=True)  # no half-written backup is left
        raise


async def _snapshot_into_sqlite(engine: AsyncEngine, out: Path) -> None:
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        async with conn.begin():
            at = await revision_of(conn)
            if at != head_revision():
                raise BackupError(
                    f"The database is at schema revision {at or 'empty'}, this release writes "
                    f"{head_revision()}: back it up with the release that wrote it, or run "
                    "`oncall-access db upgrade` first."
                )
            target = make_engine(f"sqlite+aiosqlite:///{out}")
            try:
                await upgrade(target)
                async with target.begin() as dst:
                    for table in metadata.sorted_tables:
                        await _copy(conn, dst, table)
            finally:
                await target.dispose()


async def _copy(src: AsyncConnection, dst: AsyncConnection, table: Table) -> int:
    copied = 0
    result = await src.stream(select(table))
    async for rows in result.partitions(_BATCH):
        await dst.execute(table.insert(), [dict(row._mapping) for row in rows])
        copied += len(rows)
    return copied


def _is_backup(path: Path) -> bool:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            return bool(
                conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
                ).fetchone()
            )
    except sqlite3.DatabaseError:
        return False


@contextmanager
def _scratch_copy(source: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="oncall-access-restore-") as folder:
        copy = Path(folder) / "backup.db"
        with (
            closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
            closing(sqlite3.connect(copy)) as dst,
        ):
            src.backup(dst)
        yield copy


async def restore(source: Path, engine: AsyncEngine) -> Contents:
    """Copy the backup `source` into the empty database behind `engine`."""
    if not await asyncio.to_thread(source.is_file):
        raise BackupError(f"{source}: no such file.")
    if not await asyncio.to_thread(_is_backup, source):
        raise BackupError(
            f"{source} is not an oncall-access backup (not a SQLite file with a schema revision)."
        )
    with _scratch_copy(source) as copy:
        backup_engine = make_engine(f"sqlite+aiosqlite:///{copy}")
        try:
            await upgrade(backup_engine)  # an older backup is brought to this release's schema
            await upgrade(engine)
            async with backup_engine.connect() as src, engine.begin() as dst:
                await lock_trail(dst)
                held = await _holds_data(dst)
                if held:
                    raise BackupError(
                        f"The target database already holds {held}; restore into an empty "
                        "database (stop the bot, point ONCALL_ACCESS_DATABASE_URL at a new one)."
                    )
                for table in reversed(metadata.sorted_tables):
                    await dst.execute(table.delete())  # rosters, leases: replaced as a whole
                for table in metadata.sorted_tables:
                    await _copy(src, dst, table)
        finally:
            await backup_engine.dispose()
    return await contents(engine)


async def _holds_data(conn: AsyncConnection) -> str | None:
    events = (await conn.execute(select(func.count()).select_from(audit_events))).scalar_one()
    stored = (await conn.execute(select(func.count()).select_from(requests))).scalar_one()
    if events or stored:
        return f"{events} audit events and {stored} requests"
    return None
