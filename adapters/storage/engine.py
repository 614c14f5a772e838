"""Engines set up so that each database gives the guarantees the stores rely on.

SQLite: WAL and `BEGIN IMMEDIATE`, so every write transaction is serialised and a
compare-and-set or an audit append never interleaves with another. PostgreSQL: the stores take
row locks and an advisory lock where they need them.

On both, a database that cannot be reached surfaces as `core.errors.Unavailable`, translated here
once for every store, and a dead pooled connection is replaced on its next checkout (pre-ping),
so the bot recovers by itself when the database is back.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.errors import OUTCOME_UNKNOWN, Unavailable

DEFAULT_URL = "sqlite+aiosqlite:///./oncall-access.db"
CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a new PostgreSQL connection: a dead network path fails fast, not in 60 s."""

_OUTAGE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
"""Connection exceptions, the server shutting down, crashed or starting up, no free slots."""


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (`postgres://`, `postgresql://`) and pick the async drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite:///"):
        url = "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    return url


def make_engine(url: str) -> AsyncEngine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _serialise_sqlite_writes(engine)
    else:
        engine = create_async_engine(
            url,
            pool_size=10,
            max_overflow=20,
            pool_pre_ping=True,
            connect_args={"timeout": CONNECT_TIMEOUT},
        )
    _report_outages(engine)
    return engine


def is_outage(exc: BaseException) -> bool:
    """True when an error says the database cannot be reached, rather than that it refused a
    statement: a socket error or timeout, or a PostgreSQL connection-class SQLSTATE."""
    if isinstance(exc, OSError):  # TimeoutError and ConnectionError included
        return True
    state = getattr(exc, "sqlstate", None)
    return isinstance(state, str) and state.startswith(_OUTAGE_SQLSTATES)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


def _report_outages(engine: AsyncEngine) -> None:
    """Turn connectivity failures into `Unavailable` at the two places they can occur.

    Opening a connection goes through `do_connect`: the async drivers raise their socket errors
    raw there, and SQLAlchemy's `handle_error` does not see them. Failures on an open connection
    (a statement, a commit) go through `handle_error`, after which SQLAlchemy still invalidates
    the dead connection. A failed pre-ping is left alone: the pool then simply reconnects.
    """
    sync = engine.sync_engine
    # Connections that sent COMMIT and have not begun anew: a failure there may follow a commit.
    committing: weakref.WeakSet[Any] = weakref.WeakSet()

    @event.listens_for(sync, "do_connect")
    def _connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as exc:
            if is_outage(exc):
                raise Unavailable(detail=_describe(exc)) from exc
            raise

    @event.listens_for(sync, "begin")
    def _begin(conn: Any) -> None:
        committing.discard(conn)

    @event.listens_for(sync, "commit")
    def _commit(conn: Any) -> None:
        committing.add(conn)

    @event.listens_for(sync, "handle_error")
    def _lost(ctx: ExceptionContext) -> None:
        if ctx.is_pre_ping:
            return
        original = ctx.original_exception
        if not (ctx.is_disconnect or is_outage(original)):
            return
        if ctx.connection in committing:  # the server may have committed before the answer was lost
            raise Unavailable(OUTCOME_UNKNOWN, detail=_describe(original)) from original
        raise Unavailable(detail=_describe(original)) from original


def _serialise_sqlite_writes(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def sqlite_file_missing(url: str) -> bool:
    """True for a SQLite URL whose file does not exist yet (nothing to read, nothing to create)."""
    url = normalize_url(url)
    if not url.startswith("sqlite"):
        return False
    path = url.split(":///", 1)[-1]
    return path != ":memory:" and not Path(path).exists()
