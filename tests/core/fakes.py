"""In-memory fakes of the core ports, for fast tests of the workflow without a database.

They keep the contracts the real adapters keep: the request store applies a transition only while
the request is still in the expected state (compare-and-set) and writes the audit event with the
change; approvals are idempotent per approver; the audit log is a real hash chain. Every store
method passes through one suspension point, as a real database driver does, so coroutines run
with `asyncio.gather` genuinely interleave.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.audit import AuditEvent, AuditRecord, chain
from core.groups import GroupRef, Provider
from core.ports import FetchResult, Grant, MessageRef, SyncHealth
from core.requests import AccessRequest, Kind, Status, check_new, check_update
from core.roster import RosterSnapshot, Shift


async def _switch() -> None:
    """Let other coroutines run here, as they would while a real driver waits on the network."""
    await asyncio.sleep(0)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


class PortFailure(RuntimeError):
    """What an outage inside a port looks like to the core: not a DomainError."""


class _Failing:
    """Mixin: `fail_on["method"] = exc` makes the next calls of that method raise `exc`."""

    def __init__(self) -> None:
        self.fail_on: dict[str, Exception] = {}

    def _maybe_fail(self, method: str) -> None:
        if method in self.fail_on:
            raise self.fail_on[method]


class FakeAuditLog(_Failing):
    def __init__(self) -> None:
        super().__init__()
        self._records: list[AuditRecord] = []

    async def append(self, event: AuditEvent) -> AuditRecord:
        self._maybe_fail("append")
        record = chain(self._records[-1] if self._records else None, event)
        self._records.append(record)
        return record

    async def records(self) -> list[AuditRecord]:
        return list(self._records)

    @property
    def events(self) -> list[str]:
        return [r.event for r in self._records]

    def of(self, event: str) -> list[AuditRecord]:
        return [r for r in self._records if r.event == event]


class FakeRequestStore(_Failing):
    """The RequestStore port in memory, with the compare-and-set semantics of the SQL store."""

    _FIELDS = frozenset(
        {
            "decided_by",
            "decided_at",
            "decision_note",
            "granted_at",
            "expires_at",
            "ended_at",
            "evidence",
            "message_refs",
            "reason",
            "duration",
            "status",
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
        }
    )

    def __init__(self, audit: FakeAuditLog) -> None:
        super().__init__()
        self._audit = audit
        self._rows: dict[str, AccessRequest] = {}
        self._approvals: dict[str, list[tuple[str, datetime]]] = {}

    @property
    def all(self) -> list[AccessRequest]:
        return list(self._rows.values())

    def _check(self, changes: dict[str, Any]) -> None:
        unknown = set(changes) - self._FIELDS
        if unknown:
            raise ValueError(f"not request fields: {sorted(unknown)}")

    async def create(self, request: AccessRequest, event: AuditEvent) -> None:
        check_new(request)
        await _switch()
        self._maybe_fail("create")
        if request.id in self._rows:
            raise ValueError(f"duplicate request id {request.id}")
        self._rows[request.id] = request
        self._approvals[request.id] = []
        await self._audit.append(event)

    async def get(self, request_id: str) -> AccessRequest | None:
        await _switch()
        self._maybe_fail("get")
        return self._rows.get(request_id)

    async def transition(
        self,
        request_id: str,
        expected: Status,
        new: Status,
        changes: dict[str, Any],
        event: AuditEvent,
    ) -> AccessRequest | None:
        self._maybe_fail("transition")
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
        await _switch()
        self._maybe_fail("update_if")
        self._check(changes)
        check_update(expected, changes)
        current = self._rows.get(request_id)
        if current is None or any(getattr(current, k) != v for k, v in expected.items()):
            return None
        if "status" in changes:
            changes = {**changes, "status": Status(changes["status"])}
        updated = current.with_changes(version=current.version + 1, **changes)
        self._rows[request_id] = updated
        if event is not None:
            await self._audit.append(event)
        return updated

    async def add_approval(
        self, request_id: str, approver: str, at: datetime, event: AuditEvent | None = None
    ) -> int | None:
        await _switch()
        self._maybe_fail("add_approval")
        current = self._rows.get(request_id)
        if current is None or current.status != Status.PENDING:
            return None
        given = self._approvals[request_id]
        if any(who == approver for who, _ in given):
            return None
        given.append((approver, at))
        self._rows[request_id] = current.with_changes(
            approvals=tuple(who for who, _ in given), version=current.version + 1
        )
        if event is not None:
            await self._audit.append(event)
        return len(given)

    async def update(self, request_id: str, changes: dict[str, Any]) -> None:
        await _switch()
        self._maybe_fail("update")
        self._check(changes)
        if request_id in self._rows:
            self._rows[request_id] = self._rows[request_id].with_changes(**changes)

    async def by_requester(self, email: str, limit: int = 20) -> list[AccessRequest]:
        await _switch()
        self._maybe_fail("by_requester")
        mine = [r for r in self._rows.values() if r.requester == email]
        return _newest_first(mine)[:limit]

    async def with_status(self, *statuses: Status) -> list[AccessRequest]:
        await _switch()
        self._maybe_fail("with_status")
        return _newest_first([r for r in self._rows.values() if r.status in statuses])

    async def due_to_expire(self, now: datetime) -> list[AccessRequest]:
        await _switch()
        return _newest_first(
            [
                r
                for r in self._rows.values()
                if r.status == Status.ACTIVE
                and r.expires_at is not None
                and r.expires_at <= now
                and (r.next_attempt_at is None or r.next_attempt_at <= now)
            ]
        )

    async def due_to_grant(self, now: datetime) -> list[AccessRequest]:
        await _switch()
        return _newest_first(
            [
                r
                for r in self._rows.values()
                if r.status == Status.APPROVED
                and r.kind != Kind.EXTENSION
                and r.next_attempt_at is not None
                and r.next_attempt_at <= now
            ]
        )

    async def of_kind(self, kind: Kind, *statuses: Status) -> list[AccessRequest]:
        await _switch()
        return _newest_first(
            [r for r in self._rows.values() if r.kind == kind and r.status in statuses]
        )

    async def due_to_time_out(self, now: datetime) -> list[AccessRequest]:
        await _switch()
        return _newest_first(
            [r for r in self._rows.values() if r.status == Status.PENDING and r.timeout_at <= now]
        )


def _newest_first(found: list[AccessRequest]) -> list[AccessRequest]:
    by_id = sorted(found, key=lambda r: r.id)
    return sorted(by_id, key=lambda r: r.created_at, reverse=True)


class FakeRosterStore(_Failing):
    def __init__(self, audit: FakeAuditLog, snapshots: Sequence[RosterSnapshot] = ()) -> None:
        super().__init__()
        self._audit = audit
        self._latest: dict[Provider, RosterSnapshot] = {s.provider: s for s in snapshots}
        self._health: dict[Provider, SyncHealth] = {}

    async def versions(self) -> dict[Provider, datetime]:
        self._maybe_fail("versions")
        return {p: s.taken_at for p, s in self._latest.items()}

    async def latest(self) -> list[RosterSnapshot]:
        self._maybe_fail("latest")
        return list(self._latest.values())

    async def replace(self, snapshot: RosterSnapshot, event: AuditEvent) -> None:
        self._maybe_fail("replace")
        self._latest[snapshot.provider] = snapshot
        self._health[snapshot.provider] = SyncHealth(
            snapshot.provider, snapshot.taken_at, snapshot.taken_at, None, 0, snapshot.counts
        )
        await self._audit.append(event)

    async def record_failure(self, provider: Provider, at: datetime, reason: str) -> int:
        old = self._health.get(provider, SyncHealth(provider))
        failures = old.consecutive_failures + 1
        self._health[provider] = SyncHealth(
            provider, old.last_success, at, reason, failures, old.counts
        )
        return failures

    async def health(self) -> list[SyncHealth]:
        return list(self._health.values())


@dataclass
class FakeNotifier(_Failing):
    """Records what the core asked the chat side to send."""

    asked: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)
    changed: list[tuple[str, Status, tuple[MessageRef, ...]]] = field(default_factory=list)
    told: list[tuple[str, str]] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    announced: list[str] = field(default_factory=list)
    fail_on: dict[str, Exception] = field(default_factory=dict)

    async def ask_approvers(
        self, request: AccessRequest, approvers: Sequence[str], summary: str
    ) -> list[MessageRef]:
        self._maybe_fail("ask_approvers")
        self.asked.append((request.id, tuple(approvers), summary))
        return [MessageRef("console", f"{who}/{request.id}") for who in approvers]

    async def request_changed(self, request: AccessRequest, refs: Sequence[MessageRef]) -> None:
        self._maybe_fail("request_changed")
        self.changed.append((request.id, request.status, tuple(refs)))

    async def tell(self, email: str, text: str, request: AccessRequest | None = None) -> None:
        self._maybe_fail("tell")
        self.told.append((email, text))

    async def alert_admins(self, text: str) -> None:
        self.alerts.append(text)

    async def announce(self, text: str, request: AccessRequest | None = None) -> None:
        self.announced.append(text)

    def told_to(self, email: str) -> list[str]:
        return [text for who, text in self.told if who == email]


class FakeRecordGranter(_Failing):
    """The `record` grant type: remembers what it was asked to give and take back."""

    kind = "record"

    def __init__(self) -> None:
        super().__init__()
        self.granted: list[Grant] = []
        self.revoked: list[Grant] = []
        self.extended: list[Grant] = []

    async def grant(self, grant: Grant) -> dict[str, Any]:
        self._maybe_fail("grant")
        self.granted.append(grant)
        return {"recorded": grant.request_id}

    async def revoke(self, grant: Grant) -> dict[str, Any]:
        self._maybe_fail("revoke")
        self.revoked.append(grant)
        return {"recorded": grant.request_id}

    async def extend(self, grant: Grant) -> dict[str, Any]:
        self._maybe_fail("extend")
        self.extended.append(grant)
        return {"recorded": grant.request_id}


class FakeRosterProvider(_Failing):
    """A provider whose whole roster is whatever `roster()` builds when asked: at fetch time for a
    sync, and at once for a live confirmation of one person's shift."""

    def __init__(self, provider: Provider, roster: Callable[[], RosterSnapshot]) -> None:
        super().__init__()
        self.provider = provider
        self._roster = roster
        self.fetches = 0
        self.confirmations = 0

    async def fetch(self) -> FetchResult:
        self.fetches += 1
        self._maybe_fail("fetch")
        return FetchResult(self._roster(), api_calls=1)

    async def confirm_on_call(self, email: str, group: GroupRef, now: datetime) -> Shift | None:
        self.confirmations += 1
        self._maybe_fail("confirm_on_call")
        covering = [s for s in self._roster().shifts_of(email, group) if s.covers(now)]
        return covering[0] if covering else None
