"""Shared fixtures: a database per test (a real SQLite file, and a real PostgreSQL database when
ONCALL_ACCESS_TEST_POSTGRES_URL is set), a controllable clock, and roster/policy builders."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.storage.engine import normalize_url

POSTGRES_URL = os.environ.get("ONCALL_ACCESS_TEST_POSTGRES_URL")
SKIP_PG = "PostgreSQL tests need ONCALL_ACCESS_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)"


class FakeClock:
    """A clock that moves only when a test says so."""

    def __init__(self, at: datetime | None = None) -> None:
        self.at = at or datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def _fresh_postgres_database() -> tuple[str, str]:
    import asyncpg

    assert POSTGRES_URL
    name = f"oa_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = POSTGRES_URL.rpartition("/")
    return name, normalize_url(f"{base}/{name}")


async def _drop_postgres_database(name: str) -> None:
    import asyncpg

    assert POSTGRES_URL
    admin = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'oncall-access.db'}"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    if not POSTGRES_URL:
        pytest.skip(SKIP_PG)
    name, url = await _fresh_postgres_database()
    try:
        yield url
    finally:
        await _drop_postgres_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each storage test runs on a real SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'oncall-access.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_PG)
    name, url = await _fresh_postgres_database()
    try:
        yield url
    finally:
        await _drop_postgres_database(name)
