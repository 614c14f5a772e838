"""Statements both databases understand the same way."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection


async def upsert(
    conn: AsyncConnection, table: Table, key: dict[str, Any], values: dict[str, Any]
) -> None:
    """Update the row with `key`, or insert it; callers hold the transaction's write lock."""
    where = [table.c[k] == v for k, v in key.items()]
    result = await conn.execute(table.update().where(*where).values(**values))
    if result.rowcount == 0:
        await conn.execute(table.insert().values(**key, **values))
