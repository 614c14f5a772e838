"""Retention in SQL: one transaction, holding the trail, that checks the trail, removes the
oldest events and the finished requests only they mention, records where the trail now starts,
and appends the `audit.pruned` event that vouches for the cut (core/retention.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.storage.audit import (
    TRAIL_START_KEY,
    append_event,
    lock_trail,
    to_record,
    trail_start,
)
from adapters.storage.sql import upsert
from adapters.storage.tables import approvals, audit_events, audit_head, kv, requests
from core.audit import AuditKeys, AuditRecord, check_trail
from core.errors import DomainError
from core.requests import Status
from core.retention import Base, Cut, plan_cut, unvouched

_CHUNK = 500


class PruneRefused(DomainError):
    """The trail does not verify: nothing is removed from a trail that cannot vouch for itself."""


async def prune(
    engine: AsyncEngine,
    keys: AuditKeys,
    *,
    before: datetime,
    now: datetime,
    retention: str,
    archive: Callable[[Sequence[AuditRecord]], None] | None = None,
    dry_run: bool = False,
) -> Cut | None:
    """Remove what is older than `before`; `archive` gets the removed events first (a failure
    there leaves everything in place). With `dry_run`, only say what would go."""
    async with engine.begin() as conn:
        await lock_trail(conn)
        start = await trail_start(conn)
        rows = (await conn.execute(select(audit_events).order_by(audit_events.c.seq))).all()
        records = [to_record(row) for row in rows]
        head_row = (await conn.execute(select(audit_head.c.seq, audit_head.c.hash))).first()
        head = (head_row.seq, head_row.hash) if head_row else None
        base = Base(*start) if start else None
        problem = check_trail(records, head, keys, start).problem or unvouched(records, base)
        if problem:
            raise PruneRefused(
                f"The audit trail does not verify ({problem}); nothing was removed. "
                "Run `oncall-access audit verify`."
            )
        stored = {
            row.id: Status(row.status).is_final and row.review != "open"
            for row in (
                await conn.execute(select(requests.c.id, requests.c.status, requests.c.review))
            ).all()
        }
        cut = plan_cut(records, base, stored, before)
        if cut is None or dry_run:
            await conn.rollback()
            return cut
        if archive is not None:
            archive(records[: cut.events])
        await conn.execute(audit_events.delete().where(audit_events.c.seq <= cut.through.seq))
        for i in range(0, len(cut.requests), _CHUNK):
            chunk = cut.requests[i : i + _CHUNK]
            await conn.execute(approvals.delete().where(approvals.c.request_id.in_(chunk)))
            await conn.execute(requests.delete().where(requests.c.id.in_(chunk)))
        await upsert(
            conn,
            kv,
            {"key": TRAIL_START_KEY},
            {"value": {"seq": cut.through.seq, "hash": cut.through.hash}, "updated_at": now},
        )
        await append_event(conn, cut.event(now, before, retention), keys.signing)
        return cut
