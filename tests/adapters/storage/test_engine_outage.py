"""The engine's side of a database outage, on a real PostgreSQL: a database that cannot be
reached becomes `Unavailable` (whether the connection was refused, cut mid-transaction, or
ended by the server as a restart does), the pool replaces dead connections by itself, and a
statement the database refuses is still an ordinary error, not an outage."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.storage.engine import make_engine
from core.errors import DATABASE_UNAVAILABLE, Unavailable
from tests.conftest import POSTGRES_URL
from tests.tcpproxy import CuttableProxy, cut_postgres  # noqa: F401


@pytest.fixture
async def engine(cut_postgres: tuple[str, CuttableProxy]) -> AsyncIterator[AsyncEngine]:  # noqa: F811
    built = make_engine(cut_postgres[0])
    async with built.begin() as conn:
        await conn.execute(text("CREATE TABLE t (x int PRIMARY KEY)"))
    try:
        yield built
    finally:
        await built.dispose()


@pytest.fixture
def proxy(cut_postgres: tuple[str, CuttableProxy]) -> CuttableProxy:  # noqa: F811
    return cut_postgres[1]


async def count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM t")) or 0)


async def test_a_refused_connection_is_unavailable_and_names_its_cause(
    engine: AsyncEngine, proxy: CuttableProxy
) -> None:
    await proxy.cut()

    with pytest.raises(Unavailable) as raised:
        await count(engine)

    assert raised.value.message == DATABASE_UNAVAILABLE
    cause = raised.value.__cause__
    assert isinstance(cause, OSError | asyncpg.PostgresConnectionError)
    assert raised.value.detail.startswith(f"{type(cause).__name__}: ")
    proxy.restore()
    assert await count(engine) == 0


async def test_a_connection_cut_mid_transaction_is_unavailable_and_nothing_is_kept(
    engine: AsyncEngine, proxy: CuttableProxy
) -> None:
    with pytest.raises(Unavailable) as raised:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            await proxy.cut()
            await conn.execute(text("INSERT INTO t VALUES (2)"))

    assert raised.value.message == DATABASE_UNAVAILABLE
    proxy.restore()
    assert await count(engine) == 0


async def test_connections_ended_by_the_server_are_replaced_without_an_error(
    engine: AsyncEngine,
    cut_postgres: tuple[str, CuttableProxy],  # noqa: F811
) -> None:
    assert POSTGRES_URL
    await count(engine)  # a connection now waits in the pool
    admin = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        ended = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            make_url(cut_postgres[0]).database,
        )
    finally:
        await admin.close()
    assert ended

    assert await count(engine) == 0


async def test_a_refused_statement_is_not_an_outage(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x int PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        await engine.dispose()
