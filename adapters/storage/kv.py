"""Small named settings the bot keeps in the database (e.g. an approvals channel an admin set
from chat), so every replica sees the same value.

Settings that decide where approvals go are audited: writing or deleting one appends a
`setting.changed` / `setting.cleared` event with the new value in the same transaction, so
`audit verify` can tell a value edited behind the trail's back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.storage.audit import append_event
from adapters.storage.sql import upsert
from adapters.storage.tables import kv
from core.audit import UNKEYED, AuditEvent, AuditKeys
from core.audit_state import setting_state, with_state
from core.identity import SYSTEM

AUDITED_KEYS = frozenset({"teams:approvals-channel"})


class SqlKeyValues:
    def __init__(
        self, engine: AsyncEngine, keys: AuditKeys = UNKEYED, audited: frozenset[str] = AUDITED_KEYS
    ) -> None:
        self._engine = engine
        self._key = keys.signing
        self._audited = audited

    async def get(self, key: str, default: Any = None) -> Any:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(kv.c.value).where(kv.c.key == key))).first()
        return row.value if row else default

    async def put(self, key: str, value: Any) -> None:
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            await upsert(conn, kv, {"key": key}, {"value": value, "updated_at": now})
            if key in self._audited:
                by = value.get("set_by") if isinstance(value, dict) else None
                event = AuditEvent("setting.changed", now, str(by or SYSTEM), detail={"key": key})
                await append_event(conn, with_state(event, setting_state(key, value)), self._key)

    async def delete(self, key: str) -> None:
        async with self._engine.begin() as conn:
            result = await conn.execute(kv.delete().where(kv.c.key == key))
            if key in self._audited and result.rowcount:
                event = AuditEvent(
                    "setting.cleared", datetime.now(UTC), SYSTEM, detail={"key": key}
                )
                await append_event(conn, with_state(event, setting_state(key, None)), self._key)

    async def audited(self) -> dict[str, Any]:
        """The audited settings as stored, for comparing with the trail."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(select(kv.c.key, kv.c.value).where(kv.c.key.in_(self._audited)))
            ).all()
        return {r.key: r.value for r in rows}
