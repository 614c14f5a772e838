"""Small named settings the bot keeps in the database (e.g. an approvals channel an admin set
from chat), so every replica sees the same value."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.storage.sql import upsert
from adapters.storage.tables import kv


class SqlKeyValues:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, key: str, default: Any = None) -> Any:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(kv.c.value).where(kv.c.key == key))).first()
        return row.value if row else default

    async def put(self, key: str, value: Any) -> None:
        async with self._engine.begin() as conn:
            await upsert(conn, kv, {"key": key}, {"value": value, "updated_at": datetime.now(UTC)})

    async def delete(self, key: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(kv.delete().where(kv.c.key == key))
