"""Roster snapshots in SQL: one row per provider, replaced whole in one transaction."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.storage.audit import append_event
from adapters.storage.sql import upsert
from adapters.storage.tables import roster_snapshots, sync_health
from core.audit import UNKEYED, AuditEvent, AuditKeys
from core.groups import Provider
from core.ports import SyncHealth
from core.roster import RosterSnapshot


class SqlRosterStore:
    """Every decision asks which snapshots are newest (`versions`); they are read once per
    `FRESH_FOR` seconds. This replica's own syncs apply at once; another replica's within that
    second, well inside the one tick the fleet promises."""

    FRESH_FOR = 1.0

    def __init__(
        self,
        engine: AsyncEngine,
        keys: AuditKeys = UNKEYED,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._key = keys.signing
        self._monotonic = monotonic
        self._versions: tuple[float, dict[Provider, datetime]] | None = None

    async def versions(self) -> dict[Provider, datetime]:
        now = self._monotonic()
        if self._versions is not None and now - self._versions[0] < self.FRESH_FOR:
            return dict(self._versions[1])
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(select(roster_snapshots.c.provider, roster_snapshots.c.taken_at))
            ).all()
        found = {Provider(r.provider): r.taken_at for r in rows}
        self._versions = (now, found)
        return dict(found)

    async def latest(self) -> list[RosterSnapshot]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(roster_snapshots.c.data))).all()
        return [RosterSnapshot.from_dict(json.loads(r.data)) for r in rows]

    async def replace(self, snapshot: RosterSnapshot, event: AuditEvent) -> None:
        data = json.dumps(snapshot.to_dict(), separators=(",", ":"))
        async with self._engine.begin() as conn:
            await upsert(
                conn,
                roster_snapshots,
                {"provider": snapshot.provider.value},
                {"taken_at": snapshot.taken_at, "data": data},
            )
            await upsert(
                conn,
                sync_health,
                {"provider": snapshot.provider.value},
                {
                    "last_success": snapshot.taken_at,
                    "last_attempt": snapshot.taken_at,
                    "last_error": None,
                    "consecutive_failures": 0,
                    "counts": {**snapshot.counts, **_cost(event)},
                },
            )
            await append_event(conn, event, self._key)
        self._versions = None

    async def remove(self, provider: Provider) -> None:
        """Forget a disconnected provider's roster, so nobody is trusted on its word any more."""
        async with self._engine.begin() as conn:
            await conn.execute(
                roster_snapshots.delete().where(roster_snapshots.c.provider == provider.value)
            )
            await conn.execute(sync_health.delete().where(sync_health.c.provider == provider.value))
        self._versions = None

    async def record_failure(self, provider: Provider, at: datetime, reason: str) -> int:
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    select(sync_health.c.consecutive_failures).where(
                        sync_health.c.provider == provider.value
                    )
                )
            ).first()
            failures = (row.consecutive_failures if row else 0) + 1
            values: dict[str, object] = {
                "last_attempt": at,
                "last_error": reason,
                "consecutive_failures": failures,
            }
            await upsert(
                conn, sync_health, {"provider": provider.value}, values, defaults={"counts": {}}
            )
        return failures

    async def health(self) -> list[SyncHealth]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(sync_health).order_by(sync_health.c.provider))).all()
        return [
            SyncHealth(
                provider=Provider(r.provider),
                last_success=r.last_success,
                last_attempt=r.last_attempt,
                last_error=r.last_error,
                consecutive_failures=r.consecutive_failures,
                counts=r.counts or {},
            )
            for r in rows
        ]


def _cost(event: AuditEvent) -> dict[str, int]:
    """What the sync cost and saved (`status` shows it), from its roster.synced event."""
    detail = event.detail or {}
    return {k: v for k in ("api_calls", "calls_saved") if isinstance(v := detail.get(k), int)}
