"""The ports: what the core needs from the world, as Protocols that adapters implement.

Driven ports only; driving adapters (console, Slack, Teams) call `core.dispatcher.Dispatcher`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from core.audit import AuditEvent, AuditRecord
from core.connection_form import ProviderForm
from core.connections import ConnectForm, ConnectResult
from core.groups import GroupRef, Provider
from core.requests import AccessRequest, Kind, Status
from core.roster import RosterSnapshot, Shift


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A complete roster from one provider, with what it cost to get."""

    snapshot: RosterSnapshot
    api_calls: int = 0
    calls_saved: int = 0  # calls an incremental sync did not make, against the full sync


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """How far a running fetch is: calls made, records read, and calls expected in all when
    the lists' totals tell (None until they do)."""

    calls: int = 0
    items: int = 0
    expected_calls: int | None = None


@runtime_checkable
class ReportsProgress(Protocol):
    """A provider that can say how far its running fetch is (for progress on a terminal)."""

    def progress(self) -> SyncProgress: ...


@dataclass(frozen=True, slots=True)
class Verification:
    """What connecting with some credentials showed: who we are, what we may do."""

    ok: bool
    summary: str
    capabilities: tuple[str, ...] = ()


class RosterProvider(Protocol):
    """An on-call source (PagerDuty, Opsgenie, JSM, roster file)."""

    provider: Provider

    async def fetch(self) -> FetchResult:
        """The whole roster now; raise on any failure (the previous snapshot stays)."""
        ...

    async def confirm_on_call(self, email: str, group: GroupRef, now: datetime) -> Shift | None:
        """Ask the provider live whether `email` is on call for `group`; None when not."""
        ...


class ConnectedProvider(RosterProvider, Protocol):
    """A provider reached with credentials: it can check them, and holds connections to close."""

    async def verify(self) -> Verification:
        """A live call that says what the credentials may do."""
        ...

    async def aclose(self) -> None: ...


class RequestStore(Protocol):
    """Requests, their approvals, and the audit events of every change, written together."""

    async def create(self, request: AccessRequest, event: AuditEvent) -> None: ...

    async def get(self, request_id: str) -> AccessRequest | None: ...

    async def transition(
        self,
        request_id: str,
        expected: Status,
        new: Status,
        changes: dict[str, Any],
        event: AuditEvent,
    ) -> AccessRequest | None:
        """Compare-and-set: apply only while the request is still `expected`; None otherwise."""
        ...

    async def add_approval(
        self, request_id: str, approver: str, at: datetime, event: AuditEvent | None = None
    ) -> int | None:
        """Record one approver's approval of a pending request (idempotent per approver).

        Returns the number of distinct approvals, or None when the request is no longer pending
        or this approver had already approved.
        """
        ...

    async def update(self, request_id: str, changes: dict[str, Any]) -> None:
        """Change fields that carry no state (message references, reminder marks)."""
        ...

    async def update_if(
        self,
        request_id: str,
        expected: dict[str, Any],
        changes: dict[str, Any],
        event: AuditEvent | None = None,
    ) -> AccessRequest | None:
        """Compare-and-set on any fields (e.g. claim a reminder: `reminded_at` still None)."""
        ...

    async def due_to_grant(self, now: datetime) -> list[AccessRequest]:
        """Approved requests whose grant failed and whose next attempt is due."""
        ...

    async def of_kind(self, kind: Kind, *statuses: Status) -> list[AccessRequest]: ...

    async def by_requester(self, email: str, limit: int = 20) -> list[AccessRequest]: ...

    async def with_status(self, *statuses: Status) -> list[AccessRequest]: ...

    async def due_to_expire(self, now: datetime) -> list[AccessRequest]: ...

    async def due_to_time_out(self, now: datetime) -> list[AccessRequest]: ...


class AuditLog(Protocol):
    async def append(self, event: AuditEvent) -> AuditRecord: ...

    async def records(self) -> list[AuditRecord]: ...


@dataclass(frozen=True, slots=True)
class SyncHealth:
    provider: Provider
    last_success: datetime | None = None
    last_attempt: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    counts: dict[str, int] = field(default_factory=dict)


class RosterStore(Protocol):
    async def versions(self) -> dict[Provider, datetime]:
        """When each provider's latest snapshot was taken: cheap, asked before every decision."""
        ...

    async def latest(self) -> list[RosterSnapshot]:
        """The latest good snapshot of every provider."""
        ...

    async def replace(self, snapshot: RosterSnapshot, event: AuditEvent) -> None:
        """Atomically make `snapshot` the provider's latest, recording the sync event with it."""
        ...

    async def record_failure(self, provider: Provider, at: datetime, reason: str) -> int:
        """Remember a failed sync; returns the number of failures in a row."""
        ...

    async def health(self) -> list[SyncHealth]: ...


class IdentityOverrides(Protocol):
    """Admin-made mappings from a surface or provider id (`slack:U123`) to an email."""

    async def all(self) -> dict[str, str]: ...

    async def mappers(self) -> dict[str, str]:
        """Who made each mapping (key -> admin email), where known."""
        ...

    async def put(self, key: str, email: str, event: AuditEvent) -> None:
        """Map `key` to `email`; `event.actor` is recorded as the admin who made it."""
        ...

    async def remove(self, key: str, event: AuditEvent) -> bool: ...


class JobLeases(Protocol):
    """Scheduled work claimed through the database: at most one holder at a time, across
    processes; leases are short and renewed while the work runs."""

    async def claim(self, job: str, holder: str, now: datetime, ttl_seconds: float) -> bool:
        """True when `holder` may run `job` now."""
        ...

    async def renew(self, job: str, holder: str, now: datetime, ttl_seconds: float) -> bool: ...

    async def release(self, job: str, holder: str) -> None: ...

    async def release_all(self, holder: str) -> int:
        """Give up every lease `holder` still has (a replica stopping); returns how many."""
        ...

    async def finished(self, job: str) -> bool:
        """Whether a once-only run (a sync slot) already completed on some replica."""
        ...

    async def finish(self, job: str, holder: str, now: datetime) -> None: ...

    async def prune(self, before: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class Grant:
    """What a Granter needs to give or take back one access."""

    request_id: str
    resource: str
    email: str
    start: datetime
    end: datetime
    approvers: tuple[str, ...]
    reason: str
    spec: dict[str, Any]
    receipt: dict[str, Any] = field(default_factory=dict)  # what grant() returned, for revoke()


class Granter(Protocol):
    """Makes access real in the world (webhook, provider role, or just a record)."""

    kind: str

    async def grant(self, grant: Grant) -> dict[str, Any]:
        """Give the access; returns details worth keeping in the audit trail."""
        ...

    async def revoke(self, grant: Grant) -> dict[str, Any]: ...

    async def extend(self, grant: Grant) -> dict[str, Any]:
        """The access now ends at `grant.end` (it was extended); returns details for the audit
        trail. A granter whose access lasts until it is revoked has nothing to do."""
        ...


@dataclass(frozen=True, slots=True)
class TargetHealth:
    """What a live check of one grant target showed: whether grants and revokes can go through,
    and if not, exactly what is missing (a permission, an account, a permission set)."""

    ok: bool
    summary: str


@runtime_checkable
class CheckedGranter(Protocol):
    """A granter that can check its target live, without changing anything (for `status`)."""

    async def check(self, spec: dict[str, Any]) -> TargetHealth:
        """`spec` is one `grant:` mapping of the policy; never raises for a refusal, says it."""
        ...


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A sent message that may be updated later; opaque to the core, owned by its surface.

    `recipient` is the approver a personal copy reached (None for a channel copy): with several
    surfaces, only an approver no surface reached is worth telling the requester about."""

    surface: str
    ref: str
    recipient: str | None = None


class Notifier(Protocol):
    """The chat side as a driven port: approval messages, updates, personal notices, alerts."""

    async def ask_approvers(
        self, request: AccessRequest, approvers: Sequence[str], summary: str
    ) -> list[MessageRef]:
        """Send the approval message with Approve / Deny to each approver; return the copies."""
        ...

    async def request_changed(self, request: AccessRequest, refs: Sequence[MessageRef]) -> None:
        """Update every copy of the approval message so no stale button stays live."""
        ...

    async def tell(self, email: str, text: str, request: AccessRequest | None = None) -> None: ...

    async def alert_admins(self, text: str) -> None: ...

    async def announce(self, text: str, request: AccessRequest | None = None) -> None:
        """One line to the approvals channel, where the surface has one (else nothing)."""
        ...


class ProviderAdmin(Protocol):
    def forms(self) -> Sequence[ProviderForm]:
        """The connect form of each provider that can be connected, in the order offered."""
        ...

    async def connect(
        self,
        form: ConnectForm,
        actor: str,
        *,
        when_synced: Callable[[str], Awaitable[None]] | None = None,
    ) -> ConnectResult:
        """Verify live, store encrypted, run the first sync; never raise for bad credentials.
        With `when_synced` the answer comes once the connection is kept, and the first sync's
        summary is handed to it when the sync is done (a big roster takes minutes)."""
        ...

    async def disconnect(self, provider: str, actor: str) -> str: ...

    async def status_lines(self) -> list[str]: ...


class Metrics(Protocol):
    """What operators watch on their dashboards, reported where it happens. The bot counts it
    (Prometheus, `/metrics`); the core only says what happened and how long it took."""

    def request_decided(self, outcome: str, seconds: float) -> None:
        """A new access request was answered: `approved` (at once), `pending` (asked the
        approvers), `break_glass`, `refused` (by the policy, nothing created) or `error`;
        `seconds` from the request to its verdict (not the grant that may follow)."""
        ...

    def sync_finished(self, provider: str, seconds: float, ok: bool) -> None:
        """One roster sync of `provider` ended, well or not, after `seconds`."""
        ...

    def grant_failed(self, kind: str, action: str) -> None:
        """A granter of `kind` (webhook, opsgenie-role, ...) failed to `action` (grant, revoke,
        extend) one access; it is retried."""
        ...

    def webhook_answered(self, seconds: float) -> None:
        """One delivery to a grant webhook took `seconds`, whatever its answer (or none)."""
        ...

    def chat_api_failed(self, surface: str) -> None:
        """A call to a chat platform's API (Slack Web API, Teams connector) failed."""
        ...


class NoMetrics:
    """Counts nothing: for CLI commands and tests that serve no `/metrics`."""

    def request_decided(self, outcome: str, seconds: float) -> None:
        pass

    def sync_finished(self, provider: str, seconds: float, ok: bool) -> None:
        pass

    def grant_failed(self, kind: str, action: str) -> None:
        pass

    def webhook_answered(self, seconds: float) -> None:
        pass

    def chat_api_failed(self, surface: str) -> None:
        pass


NO_METRICS = NoMetrics()
