"""Statements both databases understand the same way (or written once for each)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


async def upsert(
    conn: AsyncConnection,
    table: Table,
    key: dict[str, Any],
    values: dict[str, Any],
    *,
    defaults: dict[str, Any] | None = None,
) -> None:
    """Insert the row with `key` (with `defaults` for columns only a new row needs), or update
    `values` if it exists, in one statement: two writers of the same new key (two replicas, two
    approval messages in one DM) never collide."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**key, **(defaults or {}), **values)
    await conn.execute(statement.on_conflict_do_update(index_elements=list(key), set_=values))
