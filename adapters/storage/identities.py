"""Manual identity mappings (`slack:U123 -> alice@example.com`), shared by every replica and
recorded in the audit trail."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.storage.audit import append_event
from adapters.storage.sql import upsert
from adapters.storage.tables import kv
from core.audit import AuditEvent

_PREFIX = "identity:"


class SqlIdentityOverrides:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def all(self) -> dict[str, str]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(select(kv.c.key, kv.c.value).where(kv.c.key.startswith(_PREFIX)))
            ).all()
        return {r.key.removeprefix(_PREFIX): str(r.value) for r in rows}

    async def put(self, key: str, email: str, event: AuditEvent) -> None:
        async with self._engine.begin() as conn:
            await upsert(conn, kv, {"key": _PREFIX + key}, {"value": email, "updated_at": event.at})
            await append_event(conn, event)

    async def remove(self, key: str, event: AuditEvent) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(kv.delete().where(kv.c.key == _PREFIX + key))
            if result.rowcount:
                await append_event(conn, event)
            return bool(result.rowcount)
