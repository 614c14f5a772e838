"""What every part of the access workflow shares: its settings, the stores and ports it
writes through, the one-sentence states, and the audit event of a request. One `Workflow` is
handed to each collaborator (eligibility, granting, decisions) when it is built.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from core.audit import AuditEvent
from core.durations import format_duration
from core.errors import DomainError, NotFound
from core.identity import Actor, normalize_email
from core.policy import Policy, Resource
from core.ports import NO_METRICS, AuditLog, Clock, MessageRef, Metrics, Notifier, RequestStore
from core.provenance import chat_detail
from core.requests import AccessRequest, Kind, ReviewState, Status, new_request_id
from core.roster import Roster
from core.roster_cache import RosterCache
from core.rules import Verdict, may_approve, may_request

log = logging.getLogger(__name__)


REVOKE_ALERT_AFTER = 5  # failed revokes in a row before admins are told again
LIVE_CONFIRM_DEADLINE = 1.5  # seconds: a provider that is down never delays a reply past this


@dataclass
class AccessSettings:
    roster_max_age: timedelta = timedelta(minutes=45)
    admins: frozenset[str] = field(default_factory=frozenset)
    live_confirm_deadline: float = LIVE_CONFIRM_DEADLINE
    shift_end_warning: timedelta = timedelta(minutes=10)

    def is_admin(self, email: str) -> bool:
        return normalize_email(email) in self.admins


MAPPED_BY_REQUESTER = (
    "The requester mapped this chat account to you, so it cannot decide their request; "
    "decide from your own account, or another approver can."
)


class Workflow:
    """The stores, ports and small helpers the workflow's collaborators share."""

    def __init__(
        self,
        *,
        policy: Callable[[], Policy],
        store: RequestStore,
        audit: AuditLog,
        roster: RosterCache,
        notifier: Notifier,
        clock: Clock,
        settings: AccessSettings,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._policy = policy
        self.store = store
        self.audit = audit
        self.roster = roster
        self.notifier = notifier
        self.clock = clock
        self.settings = settings
        self.metrics = metrics

    @property
    def policy(self) -> Policy:
        return self._policy()

    def resource(self, name: str) -> Resource:
        return self.policy.find(name)

    async def get(self, request_id: str) -> AccessRequest:
        found = await self.store.get(request_id.lower())
        if not found:
            raise NotFound(f"There is no request `{request_id}`.")
        return found

    async def verdict_for(self, actor: Actor, resource: Resource) -> Verdict:
        roster = await self.roster.current()
        return may_request(
            resource, actor.email, roster, self.clock.now(), self.settings.roster_max_age
        )

    async def may_decide(
        self, actor: Actor, request: AccessRequest, res: Resource, roster: Roster | None = None
    ) -> Verdict:
        """The approver's right to decide, on `roster` when the caller already read it."""
        if actor.mapped_by and actor.mapped_by == request.requester:
            raise DomainError(MAPPED_BY_REQUESTER)
        roster = roster if roster is not None else await self.roster.current()
        now = self.clock.now()
        verdict = may_approve(
            res, actor.email, request.requester, roster, now, self.settings.roster_max_age
        )
        if not verdict.allowed:
            raise DomainError(verdict.sentence(actor.tz, now))
        return verdict

    async def after_change(self, request: AccessRequest, requester_text: str) -> None:
        await self.notifier.request_changed(request, _refs(request))
        await self.notifier.tell(request.requester, requester_text, request)

    def require_pending(self, request: AccessRequest) -> None:
        if request.status != Status.PENDING:
            raise DomainError(self.state_sentence(request))

    @staticmethod
    def state_sentence(request: AccessRequest) -> str:
        by = f" by {request.decided_by}" if request.decided_by else ""
        return {
            Status.PENDING: f"Request {request.id} is still waiting for approval.",
            Status.APPROVED: f"Request {request.id} was already approved{by}.",
            Status.ACTIVE: f"Request {request.id} is already approved{by} and active.",
            Status.EXPIRED: f"Request {request.id} has already expired.",
            Status.REVOKED: f"Request {request.id} was already revoked.",
            Status.DENIED: f"Request {request.id} was already denied{by}.",
            Status.CANCELLED: f"Request {request.id} was cancelled.",
            Status.TIMED_OUT: f"Request {request.id} timed out before anyone decided.",
        }[request.status]

    def new_request(
        self,
        actor: Actor,
        res: Resource,
        duration: timedelta,
        reason: str,
        verdict: Verdict,
        *,
        kind: Kind = Kind.REQUEST,
        extends: str | None = None,
        review: ReviewState | None = None,
    ) -> AccessRequest:
        """A new pending request, as every path (request, break-glass, extension) makes one."""
        now = self.clock.now()
        return AccessRequest(
            id=new_request_id(),
            resource=res.name,
            requester=actor.email,
            duration=duration,
            reason=reason.strip(),
            status=Status.PENDING,
            created_at=now,
            timeout_at=now + self.policy.approval_timeout(res),
            evidence=verdict.evidence,
            kind=kind,
            extends=extends,
            review=review,
        )

    def event(
        self, name: str, request: AccessRequest, actor: str, detail: dict[str, Any]
    ) -> AuditEvent:
        base = {
            "duration": format_duration(request.duration),
            "reason": request.reason,
            "evidence": request.evidence.to_dict(),
        }
        return AuditEvent(
            event=name,
            at=self.clock.now(),
            actor=actor,
            request_id=request.id,
            resource=request.resource,
            subject=request.requester,
            detail={**base, **detail, **chat_detail()},
        )


def _refs(request: AccessRequest) -> list[MessageRef]:
    return [MessageRef(surface, ref) for surface, ref in request.message_refs]
