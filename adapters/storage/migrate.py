"""Schema migrations, run from code (`oncall-access db upgrade`, and by `serve`, `console` and
`demo` on start). A database written by a newer release is refused, never altered."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.errors import DomainError

_HERE = Path(__file__).parent
_MIGRATE_LOCK = 0x6F612D6D6967  # "oa-mig": one migration at a time across processes


class DatabaseTooNew(DomainError):
    """The database was migrated by a newer release of oncall-access."""


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    return cfg


def head_revision() -> str:
    """The schema revision this release writes."""
    return ScriptDirectory.from_config(_config()).get_current_head() or ""


async def revision_of(conn: AsyncConnection) -> str | None:
    """The database's schema revision; None for an empty database."""
    return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def pending_migrations(current: str | None) -> list[tuple[str, str]]:
    """The migrations from `current` (None: an empty database) to head, oldest first, each with
    the first line of its description."""
    script = ScriptDirectory.from_config(_config())
    steps = list(script.iterate_revisions("head", current or "base"))
    return [
        (step.revision, " ".join((step.doc or "").strip().split("\n\n")[0].split()))
        for step in reversed(steps)
        if step.revision != current
    ]


async def plan_upgrade(engine: AsyncEngine) -> tuple[str | None, str, list[tuple[str, str]]]:
    """(revision now, head, migrations to run) without changing the database; a database from a
    newer release is refused as `upgrade` refuses it."""
    async with engine.connect() as conn:
        current = await revision_of(conn)
    script = ScriptDirectory.from_config(_config())
    if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
        raise DatabaseTooNew(
            f"This database is at schema revision {current}, written by a newer oncall-access; "
            f"this release knows up to {script.get_current_head()} and would refuse to touch it."
        )
    return current, head_revision(), pending_migrations(current)


def _check_and_upgrade(conn: Connection, to: str = "head") -> tuple[str | None, str]:
    cfg = _config()
    script = ScriptDirectory.from_config(cfg)
    current = MigrationContext.configure(conn).get_current_revision()
    known = {rev.revision for rev in script.walk_revisions()}
    if current is not None and current not in known:
        raise DatabaseTooNew(
            f"This database is at schema revision {current}, written by a newer oncall-access; "
            "upgrade oncall-access (this release knows up to "
            f"{script.get_current_head()}) instead of pointing an older one at it."
        )
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, to)
    return current, (script.get_current_head() or "") if to == "head" else to


async def upgrade(engine: AsyncEngine, to: str = "head") -> tuple[str | None, str]:
    """Bring the schema to head (or to the revision `to`, as an older release would leave it);
    returns (revision before, revision now)."""
    if engine.dialect.name == "sqlite":
        _ensure_sqlite_folder(str(engine.url.database or ""))
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # Replicas started together migrate one after the other; the rest find it done.
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATE_LOCK})
        result = await conn.run_sync(_check_and_upgrade, to)
        await conn.commit()
    return result


def _ensure_sqlite_folder(path: str) -> None:
    if path and path != ":memory:":
        Path(path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
