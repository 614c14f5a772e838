"""The audit trail in SQL: one linear hash chain, also under concurrent appends.

Appends take a database-wide lock for the rest of their transaction (PostgreSQL: an advisory
lock; SQLite: its write lock from BEGIN IMMEDIATE), so no two events ever share a prev_hash; the
unique constraint on prev_hash backs this up. With an audit key, each event is chained with
HMAC-SHA256 under the newest key and records that key's id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.storage.tables import audit_events, audit_head, kv
from core.audit import UNKEYED, AuditEvent, AuditKey, AuditKeys, AuditRecord, follow

_AUDIT_LOCK = 0x0A0D17  # advisory lock key for audit appends
TRAIL_START_KEY = "audit:start"
"""kv row holding where the trail starts after a retention cut (adapters/storage/retention.py)."""


async def lock_trail(conn: AsyncConnection) -> None:
    """Hold the trail for the rest of the caller's transaction: no event is appended meanwhile.
    (SQLite's write lock, taken by BEGIN IMMEDIATE, already does this.)"""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_LOCK})


async def append_event(
    conn: AsyncConnection, event: AuditEvent, key: AuditKey | None = None
) -> AuditRecord:
    """Append within the caller's transaction, so the event commits with the change it records."""
    await lock_trail(conn)
    head = (await conn.execute(select(audit_head.c.seq, audit_head.c.hash))).first()
    record = follow((head.seq, head.hash) if head else None, event, key)
    await conn.execute(
        audit_events.insert().values(
            seq=record.seq,
            at=record.at,
            event=record.event,
            request_id=record.request_id,
            resource=record.resource,
            actor=record.actor,
            subject=record.subject,
            detail=record.detail,
            prev_hash=record.prev_hash,
            hash=record.hash,
            key_id=record.key_id,
        )
    )
    if head:
        await conn.execute(audit_head.update().values(seq=record.seq, hash=record.hash))
    else:
        await conn.execute(audit_head.insert().values(id=1, seq=record.seq, hash=record.hash))
    return record


async def trail_start(conn: AsyncConnection) -> tuple[int, str] | None:
    row = (await conn.execute(select(kv.c.value).where(kv.c.key == TRAIL_START_KEY))).first()
    if row is None or not isinstance(row.value, dict):
        return None
    return int(row.value["seq"]), str(row.value["hash"])


def to_record(row: Row[Any]) -> AuditRecord:
    return AuditRecord(
        seq=row.seq,
        at=row.at,
        event=row.event,
        request_id=row.request_id,
        resource=row.resource,
        actor=row.actor,
        subject=row.subject,
        detail=row.detail,
        prev_hash=row.prev_hash,
        hash=row.hash,
        key_id=row.key_id,
    )


class SqlAuditLog:
    def __init__(self, engine: AsyncEngine, keys: AuditKeys = UNKEYED) -> None:
        self._engine = engine
        self._key = keys.signing

    async def append(self, event: AuditEvent) -> AuditRecord:
        async with self._engine.begin() as conn:
            return await append_event(conn, event, self._key)

    async def records(self) -> list[AuditRecord]:
        return [r async for r in self.stream()]

    async def stream(
        self,
        batch: int = 1000,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> AsyncIterator[AuditRecord]:
        """Oldest first, in batches, so exporting a long trail keeps memory flat; only events at
        or after `since` and before `until` when given."""
        after = 0
        while True:
            query = select(audit_events).where(audit_events.c.seq > after)
            if since is not None:
                query = query.where(audit_events.c.at >= since)
            if until is not None:
                query = query.where(audit_events.c.at < until)
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query.order_by(audit_events.c.seq).limit(batch))).all()
            if not rows:
                return
            for row in rows:
                yield to_record(row)
            after = rows[-1].seq

    async def start(self) -> tuple[int, str] | None:
        """Where the trail starts after a retention cut (the last removed event's seq and
        hash); None while it starts at the first event."""
        async with self._engine.connect() as conn:
            return await trail_start(conn)

    async def head(self) -> tuple[int, str] | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(audit_head.c.seq, audit_head.c.hash))).first()
        return (row.seq, row.hash) if row else None
