"""The access workflow: request, approve or deny, grant, extend, give back, expire, time out.

Every state change goes through the store's compare-and-set together with its audit event, so
concurrent clicks, retries and several replicas all yield exactly one decision.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from core.durations import format_duration
from core.eligibility import Eligibility
from core.errors import DomainError
from core.extensions import Extensions
from core.grant_parts import any_given
from core.granting import GRANT_GRACE, Granting, backoff
from core.identity import SYSTEM, Actor
from core.incident_rules import auto_if_incident
from core.incident_watch import IncidentWatch
from core.incidents import IncidentLookup, IncidentSource
from core.policy import Policy, Resource
from core.ports import (
    NO_METRICS,
    AuditLog,
    Clock,
    Granter,
    Metrics,
    Notifier,
    RequestStore,
    RosterProvider,
)
from core.replies import describe_request, evidence_sentence
from core.requests import AccessRequest, Kind, ReviewState, Status
from core.roster import Roster
from core.roster_cache import RosterCache
from core.rules import Reason, Verdict, approvers_now, auto_approves, may_request
from core.service_state import LIVE_CONFIRM_DEADLINE, AccessSettings, Workflow, _refs

log = logging.getLogger(__name__)

__all__ = [
    "LIVE_CONFIRM_DEADLINE",
    "AccessService",
    "AccessSettings",
    "RosterCache",
    "Workflow",
    "backoff",
]


class _DecisionTimer:
    """One request's outcome and the time to its verdict, reported once: the verdict is what is
    timed, not the grant or the messages that follow it."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._started = time.monotonic()
        self._reported = False

    def decided(self, outcome: str) -> None:
        if not self._reported:
            self._reported = True
            self._metrics.request_decided(outcome, time.monotonic() - self._started)


class AccessService:
    """Requests and decisions. Composed, not inherited: the shared `Workflow` (stores, ports,
    one-sentence states), `Eligibility` (who may, beyond the snapshot) and `Granting` (making
    access real and taking it back) are collaborators, each built here with what it needs."""

    def __init__(
        self,
        *,
        policy: Callable[[], Policy],
        store: RequestStore,
        audit: AuditLog,
        roster: RosterCache,
        granters: Mapping[str, Granter],
        notifier: Notifier,
        clock: Clock,
        settings: AccessSettings,
        providers: Callable[[], Sequence[RosterProvider]] = lambda: (),
        metrics: Metrics = NO_METRICS,
        incident_sources: Callable[[], Sequence[IncidentSource]] = lambda: (),
    ) -> None:
        self.workflow = Workflow(
            policy=policy,
            store=store,
            audit=audit,
            roster=roster,
            notifier=notifier,
            clock=clock,
            settings=settings,
            metrics=metrics,
        )
        lookup = IncidentLookup(incident_sources, clock.now, lambda: settings.live_confirm_deadline)
        self.eligibility = Eligibility(self.workflow, providers, lookup)
        self.granting = Granting(self.workflow, granters)
        self.incidents = IncidentWatch(self.workflow, self.granting, lookup)
        self.extensions = Extensions(self.workflow, self.granting)
        # What the lifecycle, the views and the front door use, by the names they always had.
        self.store = store
        self.audit = audit
        self.roster = roster
        self.notifier = notifier
        self.clock = clock
        self.settings = settings
        self.get = self.workflow.get
        self.resource = self.workflow.resource
        self.event = self.workflow.event
        self.after_change = self.workflow.after_change
        self.activate = self.granting.activate
        self.take_back = self.granting.take_back
        self.revoke_failed = self.granting.revoke_failed
        self.extend = self.extensions.extend

    @property
    def policy(self) -> Policy:
        return self.workflow.policy

    async def verdict_for(self, actor: Actor, resource: Resource) -> Verdict:
        """What `list` and the request form say: the roster and the incidents asked live (the
        on-call provider is asked only when a request is made)."""
        roster = await self.roster.current()
        return await self.eligibility.decide(resource, actor.email, roster, live=False)

    async def request(
        self,
        actor: Actor,
        resource_name: str,
        duration: timedelta | None,
        reason: str,
        *,
        break_glass: bool = False,
    ) -> AccessRequest:
        """Create a request, approved at once where policy allows; refuse with one sentence.
        Its outcome and the time to its verdict are reported to the metrics."""
        timer = _DecisionTimer(self.workflow.metrics)
        try:
            return await self._request(actor, resource_name, duration, reason, break_glass, timer)
        except DomainError:
            timer.decided("refused")
            raise
        except Exception:
            timer.decided("error")
            raise

    async def _request(
        self,
        actor: Actor,
        resource_name: str,
        duration: timedelta | None,
        reason: str,
        break_glass: bool,
        timer: _DecisionTimer,
    ) -> AccessRequest:
        policy, now = self.policy, self.clock.now()
        res = self.resource(resource_name)
        if break_glass:
            return await self._break_glass(actor, res, duration, reason, timer)
        duration = duration or policy.default_duration(res)
        maximum = policy.max_duration(res)
        problems: dict[str, str] = {}
        if duration > maximum:
            problems["duration"] = (
                f"{format_duration(duration)} is longer than the {format_duration(maximum)} maximum for {res.name}."
            )
        no_reason = (
            f"{res.name} needs a reason: `request {res.name} {format_duration(duration)} REASON`."
        )
        if policy.require_reason(res) and not reason.strip() and not res.request.incident:
            problems["reason"] = no_reason  # an incident could still give one: asked below
        if problems:
            raise DomainError(next(iter(problems.values())), fields=problems)
        roster = await self.roster.current()
        max_age = self.settings.roster_max_age
        verdict = await self.eligibility.decide(res, actor.email, roster)
        if verdict.evidence.incident is not None and not reason.strip():
            reason = verdict.evidence.incident.label  # the incident is the reason
        if policy.require_reason(res) and not reason.strip():
            raise DomainError(no_reason, fields={"reason": no_reason})
        fallback = (
            None if verdict.allowed else self.eligibility.fallback(res, roster, actor, verdict)
        )
        if not verdict.allowed and not fallback:
            raise DomainError(self.eligibility.refusal(res, roster, actor, verdict))
        await self._refuse_duplicate(actor, res)
        auto = auto_approves(res, actor.email, roster, now, max_age)
        if verdict.evidence.live_confirm and res.approve.auto_if_on_call:
            auto = verdict  # the provider confirmed the on-call shift the snapshot had missed
        by_incident = auto_if_incident(res, verdict)
        if by_incident.allowed:
            auto = by_incident
        if fallback:
            auto = Verdict(False, Reason.AUTO_DISABLED)
            verdict = Verdict(True, Reason.NAMED, fallback)
            approvers = [p for p in res.approve.people if p != actor.email]
        else:
            approvers = (
                [] if auto.allowed else approvers_now(res, actor.email, roster, now, max_age)
            )
        if not auto.allowed and not approvers:
            raise DomainError(
                f"Nobody can approve {res.name} right now: no approver is on call or named."
            )
        request = self.workflow.new_request(actor, res, duration, reason, verdict)
        await self.store.create(
            request,
            self.event("request.created", request, actor.email, {"surface": actor.surface}),
        )
        if auto.allowed:
            approved = await self.store.transition(
                request.id,
                Status.PENDING,
                Status.APPROVED,
                {
                    "decided_by": SYSTEM,
                    "decided_at": now,
                    "decision_note": "auto_if_incident"
                    if by_incident.allowed
                    else "auto_if_on_call",
                    "next_attempt_at": now + GRANT_GRACE,
                },
                self.event(
                    "request.approved",
                    request,
                    SYSTEM,
                    {"auto": True, "evidence": auto.evidence.to_dict()},
                ),
            )
            assert approved is not None, "a request nobody else has seen cannot be decided twice"
            timer.decided("approved")
            active = await self.activate(approved, SYSTEM)
            await self._announce_auto(active, res, roster)
            return active
        timer.decided("pending")
        refs = await self.notifier.ask_approvers(
            request, approvers, describe_request(request, now=now)
        )
        if refs:
            await self.store.update(
                request.id, {"message_refs": tuple((r.surface, r.ref) for r in refs)}
            )
        return await self.get(request.id)

    async def _break_glass(
        self,
        actor: Actor,
        res: Resource,
        duration: timedelta | None,
        reason: str,
        timer: _DecisionTimer,
    ) -> AccessRequest:
        """Emergency access: at once, without approval, announced to every approver, reviewed."""
        if res.break_glass is None:
            raise DomainError(
                f"{res.name} has no break-glass access; ask for it with `request {res.name}`."
            )
        now = self.clock.now()
        duration = duration or res.break_glass.max_duration
        if duration > res.break_glass.max_duration:
            raise DomainError(
                f"Break-glass access to {res.name} lasts at most {format_duration(res.break_glass.max_duration)}."
            )
        if not reason.strip():
            raise DomainError(
                f"Break-glass needs a reason: `request {res.name} {format_duration(duration)} --break-glass REASON`."
            )
        roster = await self.roster.current()
        verdict = may_request(res, actor.email, roster, now, self.settings.roster_max_age)
        if not verdict.allowed:
            verdict = await self.eligibility.confirm_live(res, actor.email, verdict)
        if not verdict.allowed:
            raise DomainError(verdict.sentence(actor.tz, now))
        await self._refuse_duplicate(actor, res)
        request = self.workflow.new_request(
            actor, res, duration, reason, verdict, kind=Kind.BREAK_GLASS, review=ReviewState.OPEN
        )
        await self.store.create(
            request,
            self.event(
                "request.created",
                request,
                actor.email,
                {"surface": actor.surface, "break_glass": True},
            ),
        )
        approved = await self.store.transition(
            request.id,
            Status.PENDING,
            Status.APPROVED,
            {
                "decided_by": SYSTEM,
                "decided_at": now,
                "decision_note": "break-glass",
                "next_attempt_at": now + GRANT_GRACE,
            },
            self.event(
                "request.approved",
                request,
                SYSTEM,
                {"break_glass": True, "evidence": verdict.evidence.to_dict()},
            ),
        )
        assert approved is not None, "a request nobody else has seen cannot be decided twice"
        timer.decided("break_glass")
        active = await self.activate(approved, SYSTEM)
        approvers = set(approvers_now(res, actor.email, roster, now, self.settings.roster_max_age))
        approvers.update(p for p in res.approve.people if p != actor.email)
        text = (
            f"🚨 BREAK-GLASS: {actor.email} took {res.name} for {format_duration(duration)} without approval: "
            f'"{reason.strip()}" ({request.id}). Review it with `review {request.id} ok` or `review {request.id} flag COMMENT`.'
        )
        for email in sorted(approvers):
            await self.notifier.tell(email, text, active)
        await self.notifier.alert_admins(text)
        return active

    async def review(
        self, actor: Actor, request_id: str, verdict: str, comment: str = ""
    ) -> AccessRequest:
        """Close the review of a break-glass access; approvers only, never the requester."""
        request = await self.get(request_id)
        if request.kind != Kind.BREAK_GLASS:
            raise DomainError(f"{request.id} is not a break-glass access; only those are reviewed.")
        if request.review != ReviewState.OPEN:
            raise DomainError(f"The review of {request.id} is already closed ({request.review}).")
        res = self.resource(request.resource)
        await self.workflow.may_decide(actor, request, res)
        reviewed = await self.store.update_if(
            request.id,
            {"review": ReviewState.OPEN},
            {"review": ReviewState(verdict), "review_note": comment},
            self.event(
                "review.closed", request, actor.email, {"verdict": verdict, "comment": comment}
            ),
        )
        if reviewed is None:
            raise DomainError(f"The review of {request.id} was closed by someone else just now.")
        word = "approved" if verdict == "ok" else "flagged"
        await self.notifier.tell(
            request.requester,
            f"{actor.email} {word} the review of your break-glass access {request.id}.",
        )
        if verdict == "flag":
            await self.notifier.alert_admins(
                f"{actor.email} flagged break-glass access {request.id} ({request.resource} by {request.requester}): {comment}"
            )
        return reviewed

    async def _refuse_duplicate(self, actor: Actor, res: Resource) -> None:
        for open_request in await self.store.by_requester(actor.email):
            if open_request.resource != res.name or open_request.kind == Kind.EXTENSION:
                continue
            if open_request.status in (Status.PENDING, Status.ACTIVE):
                verb = "waiting for approval" if open_request.status == Status.PENDING else "active"
                raise DomainError(
                    f"You already have request {open_request.id} for {res.name}, {verb}; see `mine`."
                )

    async def _announce_auto(self, active: AccessRequest, res: Resource, roster: Roster) -> None:
        """An auto-approval produces at most one line (per resource `notify_on_auto`), never an
        approval message with live buttons."""
        mode = res.notify_on_auto or "channel"
        if mode == "none" or active.status != Status.ACTIVE:
            return
        line = f"auto-approved: {active.requester} has {active.resource} for {format_duration(active.duration)} ({evidence_sentence(active, now=self.clock.now())})."
        if mode == "channel":
            await self.notifier.announce(line, active)
            return
        now, max_age = self.clock.now(), self.settings.roster_max_age
        for email in approvers_now(res, active.requester, roster, now, max_age):
            await self.notifier.tell(email, line, active)

    async def approve(self, actor: Actor, request_id: str, comment: str = "") -> AccessRequest:
        request = await self.get(request_id)
        self.workflow.require_pending(request)
        res = self.resource(request.resource)
        roster = await self.roster.current()  # one read for both sides of the decision
        verdict = await self.workflow.may_decide(actor, request, res, roster)
        request = await self.eligibility.recheck_requester(request, res, actor, roster)
        now = self.clock.now()
        required = res.approve.required
        detail = {
            "comment": comment,
            "evidence": verdict.evidence.to_dict(),
            "requester_evidence": request.evidence.to_dict(),
        }
        partial = (
            self.event("request.approval_added", request, actor.email, detail)
            if required > 1
            else None
        )
        count = await self.store.add_approval(request.id, actor.email, now, partial)
        if count is None:
            current = await self.get(request.id)
            if actor.email in current.approvals and current.status == Status.PENDING:
                raise DomainError(
                    f"You already approved {request.id}; it needs {required} approvals."
                )
            raise DomainError(self.workflow.state_sentence(current))
        if count < required:
            await self.notifier.tell(
                request.requester,
                f"{actor.email} approved {request.id} ({count} of {required} approvals).",
            )
            return await self.get(request.id)
        approved = await self.store.transition(
            request.id,
            Status.PENDING,
            Status.APPROVED,
            {
                "decided_by": actor.email,
                "decided_at": now,
                "decision_note": comment,
                "evidence": request.evidence,
                # an extension is applied, not granted: nothing for the scheduler to pick up
                "next_attempt_at": None if request.kind == Kind.EXTENSION else now + GRANT_GRACE,
            },
            self.event("request.approved", request, actor.email, {**detail, "approvals": count}),
        )
        if approved is None:
            raise DomainError(self.workflow.state_sentence(await self.get(request.id)))
        if approved.kind == Kind.EXTENSION and approved.extends:
            return await self.extensions.approved(approved, actor.email)
        return await self.activate(approved, actor.email)

    async def deny(self, actor: Actor, request_id: str, reason: str = "") -> AccessRequest:
        request = await self.get(request_id)
        self.workflow.require_pending(request)
        verdict = await self.workflow.may_decide(actor, request, self.resource(request.resource))
        denied = await self.store.transition(
            request.id,
            Status.PENDING,
            Status.DENIED,
            {"decided_by": actor.email, "decided_at": self.clock.now(), "decision_note": reason},
            self.event(
                "request.denied",
                request,
                actor.email,
                {"reason": reason, "evidence": verdict.evidence.to_dict()},
            ),
        )
        if denied is None:
            raise DomainError(self.workflow.state_sentence(await self.get(request.id)))
        because = f": {reason}" if reason else "."
        await self.after_change(
            denied,
            f"Your request {denied.id} for {denied.resource} was denied by {actor.email}{because}",
        )
        return denied

    async def cancel(self, actor: Actor, request_id: str) -> AccessRequest:
        request = await self.get(request_id)
        if actor.email != request.requester and not self.settings.is_admin(actor.email):
            raise DomainError(f"Only {request.requester} or an admin can cancel {request.id}.")
        self.workflow.require_pending(request)
        cancelled = await self.store.transition(
            request.id,
            Status.PENDING,
            Status.CANCELLED,
            {"decided_by": actor.email, "decided_at": self.clock.now()},
            self.event("request.cancelled", request, actor.email, {}),
        )
        if cancelled is None:
            raise DomainError(self.workflow.state_sentence(await self.get(request.id)))
        await self.notifier.request_changed(cancelled, _refs(cancelled))
        return cancelled

    async def revoke(self, actor: Actor, request_id: str) -> AccessRequest:
        """Give back early (the requester) or take away (an admin); a pending request is cancelled.

        If the grant target does not acknowledge, the access is marked to be revoked and the
        scheduler retries until it does: a revoke is never lost."""
        request = await self.get(request_id)
        if actor.email != request.requester and not self.settings.is_admin(actor.email):
            raise DomainError(f"Only {request.requester} or an admin can revoke {request.id}.")
        if request.status == Status.PENDING:
            return await self.cancel(actor, request_id)
        if request.status not in (Status.APPROVED, Status.ACTIVE):
            raise DomainError(self.workflow.state_sentence(request))
        now = self.clock.now()
        receipt: dict[str, Any] = {}
        if request.status == Status.APPROVED and any_given(request.grant_receipt):
            # some of its grants are in place while the rest is retried: they are taken back
            # like an active grant's, with the same retries
            ending = await self.store.transition(
                request.id,
                Status.APPROVED,
                Status.ACTIVE,
                {"granted_at": now, "expires_at": now, "attempts": 0, "next_attempt_at": None},
                self.event("access.grant_stopped", request, actor.email, {"partly_granted": True}),
            )
            if ending is None:
                raise DomainError(self.workflow.state_sentence(await self.get(request.id)))
            request = ending
        if request.status == Status.ACTIVE:
            try:
                receipt = await self.take_back(request)
            except Exception as exc:
                await self.revoke_failed(request, exc, end_as=Status.REVOKED)
                raise DomainError(
                    f"Taking back {request.resource} ({request.id}) did not succeed yet; it is retried "
                    "until it does, and admins are told."
                ) from None
        revoked = await self.store.transition(
            request.id,
            request.status,
            Status.REVOKED,
            {"ended_at": now, "next_attempt_at": None},
            self.event("access.revoked", request, actor.email, {"granter": receipt}),
        )
        if revoked is None:
            raise DomainError(self.workflow.state_sentence(await self.get(request.id)))
        who = "you" if actor.email == request.requester else actor.email
        await self.after_change(
            revoked, f"Your access to {revoked.resource} ({revoked.id}) was revoked by {who}."
        )
        return revoked
