"""Migrations: a fresh database is created, a current one left alone, a newer one refused."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect, text

from adapters.storage.engine import make_engine
from adapters.storage.migrate import DatabaseTooNew, upgrade


async def test_fresh_database_is_migrated_to_head_and_then_left_alone(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert await upgrade(engine) == (None, "0006")
        assert await upgrade(engine) == ("0006", "0006")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"requests", "approvals", "audit_events", "roster_snapshots", "job_leases"} <= tables
    finally:
        await engine.dispose()


async def test_database_from_a_newer_release_is_refused_and_not_altered(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
        with pytest.raises(DatabaseTooNew, match="newer oncall-access"):
            await upgrade(engine)
        async with engine.connect() as conn:
            assert (
                await conn.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar() == "0099"
    finally:
        await engine.dispose()


async def test_replicas_starting_together_migrate_once_without_colliding(database_url: str) -> None:
    engines = [make_engine(database_url) for _ in range(3)]
    try:
        # Unserialised, PostgreSQL's concurrent CREATE TABLEs wait on each other for ever.
        results = await asyncio.wait_for(asyncio.gather(*(upgrade(e) for e in engines)), 60)
        assert (None, "0006") in results  # one of them migrated; the others found it done
        assert {now for _, now in results} == {"0006"}
    finally:
        for engine in engines:
            await engine.dispose()
