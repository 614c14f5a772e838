"""Manual identity mappings (`slack:U123 -> alice@example.com`), shared by every replica and
recorded in the audit trail."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.storage.audit import append_event
from adapters.storage.sql import upsert
from adapters.storage.tables import kv
from core.audit import UNKEYED, AuditEvent, AuditKeys
from core.audit_state import identity_state, with_state

_PREFIX = "identity:"
_BY = "identity-by:"  # who made the mapping: kept beside it, outside the values others read


class SqlIdentityOverrides:
    """Every chat action asks for the mappings several times (who clicked, who is on call, whom
    to message); they are read once per `FRESH_FOR` seconds. This replica's own changes apply at
    once; another replica's within that second, well inside the one tick the fleet promises."""

    FRESH_FOR = 1.0

    def __init__(
        self,
        engine: AsyncEngine,
        monotonic: Callable[[], float] = time.monotonic,
        keys: AuditKeys = UNKEYED,
    ):
        self._engine = engine
        self._monotonic = monotonic
        self._key = keys.signing
        self._cached: tuple[float, dict[str, str], dict[str, str]] | None = None

    async def all(self) -> dict[str, str]:
        return dict((await self._read())[0])

    async def mappers(self) -> dict[str, str]:
        return dict((await self._read())[1])

    async def _read(self) -> tuple[dict[str, str], dict[str, str]]:
        now = self._monotonic()
        if self._cached is not None and now - self._cached[0] < self.FRESH_FOR:
            return self._cached[1], self._cached[2]
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(kv.c.key, kv.c.value).where(
                        kv.c.key.startswith(_PREFIX) | kv.c.key.startswith(_BY)
                    )
                )
            ).all()
        found = {
            r.key.removeprefix(_PREFIX): str(r.value) for r in rows if r.key.startswith(_PREFIX)
        }
        by = {r.key.removeprefix(_BY): str(r.value) for r in rows if r.key.startswith(_BY)}
        self._cached = (now, found, by)
        return found, by

    async def put(self, key: str, email: str, event: AuditEvent) -> None:
        self._cached = None
        async with self._engine.begin() as conn:
            await upsert(conn, kv, {"key": _PREFIX + key}, {"value": email, "updated_at": event.at})
            await upsert(
                conn, kv, {"key": _BY + key}, {"value": event.actor, "updated_at": event.at}
            )
            await append_event(conn, with_state(event, identity_state(key, email)), self._key)
        self._cached = None  # also forget what a reader cached while this was being written

    async def remove(self, key: str, event: AuditEvent) -> bool:
        self._cached = None
        async with self._engine.begin() as conn:
            result = await conn.execute(kv.delete().where(kv.c.key == _PREFIX + key))
            await conn.execute(kv.delete().where(kv.c.key == _BY + key))
            if result.rowcount:
                await append_event(conn, with_state(event, identity_state(key, None)), self._key)
        self._cached = None
        return bool(result.rowcount)
