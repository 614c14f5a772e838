"""Requests in SQL. Every state change is `UPDATE ... WHERE status = expected` in the same
transaction as its audit event: the database, not a process, decides who won. The event carries
the request as stored after the change, so `audit verify` can tell a row edited behind the
trail's back."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import and_, case, func, insert, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.storage.audit import append_event
from adapters.storage.tables import approvals, requests
from core.audit import UNKEYED, AuditEvent, AuditKeys
from core.audit_state import request_state, with_state
from core.evidence import Evidence
from core.requests import AccessRequest, Kind, ReviewState, Status, check_new, check_update

_FIELDS = {
    "decided_by",
    "decided_at",
    "decision_note",
    "granted_at",
    "expires_at",
    "ended_at",
    "evidence",
    "message_refs",
    "reason",
    "kind",
    "extends",
    "grant_receipt",
    "attempts",
    "next_attempt_at",
    "last_error",
    "end_as",
    "reminded_at",
    "escalated_at",
    "review",
    "review_note",
    "warned_at",
    "status",
}


def _plain(value: Any) -> Any:
    """Enums (status, kind, review, end_as) are stored as their plain values."""
    return value.value if isinstance(value, Enum) else value


def _columns(changes: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "duration":
            values["duration_seconds"] = int(value.total_seconds())
        elif key == "message_refs":
            values["message_refs"] = [list(r) for r in value]
        elif key == "status":
            values["status"] = str(value)
        elif key == "evidence":
            values["evidence"] = value.to_dict()
        elif key in _FIELDS:
            values[key] = _plain(value)
        else:
            raise ValueError(f"not a request field: {key}")
    return values


class SqlRequestStore:
    def __init__(self, engine: AsyncEngine, keys: AuditKeys = UNKEYED) -> None:
        self._engine = engine
        self._key = keys.signing

    async def _audit(self, conn: AsyncConnection, request_id: str, event: AuditEvent) -> None:
        """Append `event` with the request as this transaction leaves it."""
        found = await self._load(conn, requests.c.id == request_id)
        state = request_state(found[0]) if found else None
        await append_event(conn, with_state(event, state) if state else event, self._key)

    async def create(self, request: AccessRequest, event: AuditEvent) -> None:
        check_new(request)
        async with self._engine.begin() as conn:
            await conn.execute(
                requests.insert().values(
                    id=request.id,
                    resource=request.resource,
                    requester=request.requester,
                    duration_seconds=int(request.duration.total_seconds()),
                    reason=request.reason,
                    status=request.status.value,
                    created_at=request.created_at,
                    timeout_at=request.timeout_at,
                    decision_note=request.decision_note,
                    evidence=request.evidence.to_dict(),
                    message_refs=[list(r) for r in request.message_refs],
                    version=0,
                    kind=request.kind.value,
                    extends=request.extends,
                    review=_plain(request.review),
                    attempts=0,
                )
            )
            await self._audit(conn, request.id, event)

    async def get(self, request_id: str) -> AccessRequest | None:
        async with self._engine.connect() as conn:
            found = await self._load(conn, requests.c.id == request_id)
        return found[0] if found else None

    async def transition(
        self,
        request_id: str,
        expected: Status,
        new: Status,
        changes: dict[str, Any],
        event: AuditEvent,
    ) -> AccessRequest | None:
        return await self.update_if(
            request_id, {"status": expected}, {**changes, "status": new}, event
        )

    async def update_if(
        self,
        request_id: str,
        expected: dict[str, Any],
        changes: dict[str, Any],
        event: AuditEvent | None = None,
    ) -> AccessRequest | None:
        check_update(expected, changes)
        conditions = [requests.c.id == request_id]
        for key, value in expected.items():
            column = requests.c[key]
            conditions.append(column.is_(None) if value is None else column == _plain(value))
        async with self._engine.begin() as conn:
            result = await conn.execute(
                requests.update()
                .where(and_(*conditions))
                .values(version=requests.c.version + 1, **_columns(changes))
            )
            if result.rowcount != 1:
                return None  # someone else moved it first; nothing was changed
            if event is not None:
                await self._audit(conn, request_id, event)
            found = await self._load(conn, requests.c.id == request_id)
        return found[0]

    async def add_approval(
        self, request_id: str, approver: str, at: datetime, event: AuditEvent | None = None
    ) -> int | None:
        try:
            async with self._engine.begin() as conn:
                pending = select(requests.c.id).where(
                    and_(requests.c.id == request_id, requests.c.status == Status.PENDING.value)
                )
                if conn.dialect.name == "postgresql":
                    pending = pending.with_for_update()
                if (await conn.execute(pending)).first() is None:
                    return None
                await conn.execute(
                    insert(approvals).values(request_id=request_id, approver=approver, at=at)
                )
                if event is not None:
                    await self._audit(conn, request_id, event)
                count = await conn.scalar(
                    select(func.count())
                    .select_from(approvals)
                    .where(approvals.c.request_id == request_id)
                )
                return int(count or 0)
        except IntegrityError:
            return None  # this approver had already approved

    async def update(self, request_id: str, changes: dict[str, Any]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                requests.update().where(requests.c.id == request_id).values(**_columns(changes))
            )

    async def every(self) -> list[AccessRequest]:
        """Every request ever made, for comparing with the audit trail."""
        async with self._engine.connect() as conn:
            return await self._load(conn, true())

    async def by_requester(self, email: str, limit: int = 20) -> list[AccessRequest]:
        async with self._engine.connect() as conn:
            return await self._load(conn, requests.c.requester == email, limit=limit)

    async def with_status(self, *statuses: Status) -> list[AccessRequest]:
        if not statuses:
            raise ValueError("with_status needs at least one status")  # [] would read as "none"
        async with self._engine.connect() as conn:
            return await self._load(conn, requests.c.status.in_([s.value for s in statuses]))

    async def open_counts(self, now: datetime) -> dict[str, int]:
        """How many requests wait for approval (`pending`), hold access (`active`), are approved
        but not granted yet (`grants_pending`) or are active past their end (`revokes_pending`):
        one aggregate query, cheap enough for every metrics scrape."""

        def count(condition: Any) -> Any:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        status = requests.c.status
        query = select(
            count(status == Status.PENDING.value),
            count(status == Status.ACTIVE.value),
            count(and_(status == Status.APPROVED.value, requests.c.kind != "extension")),
            count(and_(status == Status.ACTIVE.value, requests.c.expires_at <= now)),
        ).where(status.in_([Status.PENDING.value, Status.ACTIVE.value, Status.APPROVED.value]))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).one()
        names = ("pending", "active", "grants_pending", "revokes_pending")
        return {name: int(value) for name, value in zip(names, row, strict=True)}

    async def due_to_expire(self, now: datetime) -> list[AccessRequest]:
        async with self._engine.connect() as conn:
            return await self._load(
                conn,
                and_(
                    requests.c.status == Status.ACTIVE.value,
                    requests.c.expires_at <= now,
                    or_(requests.c.next_attempt_at.is_(None), requests.c.next_attempt_at <= now),
                ),
            )

    async def due_to_grant(self, now: datetime) -> list[AccessRequest]:
        """Approved requests whose grant failed and whose next attempt is due."""
        async with self._engine.connect() as conn:
            return await self._load(
                conn,
                and_(
                    requests.c.status == Status.APPROVED.value,
                    requests.c.kind != Kind.EXTENSION.value,
                    requests.c.next_attempt_at.is_not(None),
                    requests.c.next_attempt_at <= now,
                ),
            )

    async def of_kind(self, kind: Kind, *statuses: Status) -> list[AccessRequest]:
        async with self._engine.connect() as conn:
            return await self._load(
                conn,
                and_(
                    requests.c.kind == kind.value,
                    requests.c.status.in_([s.value for s in statuses]),
                ),
            )

    async def due_to_time_out(self, now: datetime) -> list[AccessRequest]:
        async with self._engine.connect() as conn:
            return await self._load(
                conn, and_(requests.c.status == Status.PENDING.value, requests.c.timeout_at <= now)
            )

    async def _load(
        self, conn: AsyncConnection, where: Any, limit: int | None = None
    ) -> list[AccessRequest]:
        query = select(requests).where(where).order_by(requests.c.created_at.desc(), requests.c.id)
        if limit:
            query = query.limit(limit)
        rows = (await conn.execute(query)).all()
        if not rows:
            return []
        ids = [r.id for r in rows]
        approved: dict[str, list[str]] = {}
        for a in (
            await conn.execute(
                select(approvals).where(approvals.c.request_id.in_(ids)).order_by(approvals.c.at)
            )
        ).all():
            approved.setdefault(a.request_id, []).append(a.approver)
        return [_request(r, tuple(approved.get(r.id, ()))) for r in rows]


def _request(row: Any, approved: tuple[str, ...]) -> AccessRequest:
    return AccessRequest(
        id=row.id,
        resource=row.resource,
        requester=row.requester,
        duration=timedelta(seconds=row.duration_seconds),
        reason=row.reason,
        status=Status(row.status),
        created_at=row.created_at,
        timeout_at=row.timeout_at,
        approvals=approved,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        granted_at=row.granted_at,
        expires_at=row.expires_at,
        ended_at=row.ended_at,
        evidence=Evidence.from_dict(row.evidence),
        message_refs=tuple(tuple(r) for r in row.message_refs or ()),
        version=row.version,
        kind=Kind(row.kind),
        extends=row.extends,
        grant_receipt=row.grant_receipt,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        end_as=Status(row.end_as) if row.end_as else None,
        reminded_at=row.reminded_at,
        escalated_at=row.escalated_at,
        review=ReviewState(row.review) if row.review else None,
        review_note=row.review_note,
        warned_at=row.warned_at,
    )
