"""The access workflow: request, approve or deny, grant, extend, give back, expire, time out.

Every state change goes through the store's compare-and-set together with its audit event, so
concurrent clicks, retries and several replicas all yield exactly one decision.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.audit import AuditEvent
from core.durations import format_duration
from core.errors import DomainError, NotFound
from core.groups import GroupRef
from core.identity import SYSTEM, Actor, normalize_email
from core.policy import Policy, Resource
from core.ports import (
    AuditLog,
    Clock,
    Grant,
    Granter,
    MessageRef,
    Notifier,
    RequestStore,
    RosterProvider,
    RosterStore,
)
from core.replies import describe_request
from core.requests import AccessRequest, Status, new_request_id
from core.roster import Roster, RosterSnapshot, Shift
from core.rules import Reason, Verdict, approvers_now, auto_approves, may_approve, may_request

log = logging.getLogger(__name__)


LIVE_CONFIRM_DEADLINE = 1.5  # seconds: a provider that is down never delays a reply past this


@dataclass
class AccessSettings:
    roster_max_age: timedelta = timedelta(minutes=45)
    admins: frozenset[str] = field(default_factory=frozenset)
    live_confirm_deadline: float = LIVE_CONFIRM_DEADLINE

    def is_admin(self, email: str) -> bool:
        return normalize_email(email) in self.admins


class RosterCache:
    """The latest snapshots, re-read from the store only when a newer sync landed."""

    def __init__(self, store: RosterStore) -> None:
        self._store = store
        self._roster = Roster()
        self._key: tuple[tuple[str, datetime], ...] = ()

    async def current(self) -> Roster:
        versions = await self._store.versions()
        key = tuple(sorted((p.value, at) for p, at in versions.items()))
        if key != self._key:
            self.put(await self._store.latest())
        return self._roster

    def put(self, snapshots: Sequence[RosterSnapshot]) -> None:
        self._roster = Roster.of(snapshots)
        self._key = tuple(sorted((s.provider.value, s.taken_at) for s in snapshots))


class AccessService:
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
    ) -> None:
        self._providers = providers
        self._policy = policy
        self.store = store
        self.audit = audit
        self.roster = roster
        self._granters = granters
        self._notifier = notifier
        self.clock = clock
        self.settings = settings

    @property
    def policy(self) -> Policy:
        return self._policy()

    def resource(self, name: str) -> Resource:
        resources = self.policy.resources
        found = resources.get(name) or resources.get(name.lower())
        if found:
            return found
        guess = difflib.get_close_matches(name.lower(), list(resources), n=1, cutoff=0.5)
        hint = (
            f" Did you mean `{guess[0]}`?" if guess else " Type `list` to see what you may request."
        )
        raise NotFound(f"There is no resource `{name}`.{hint}")

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

    # -- request -------------------------------------------------------------------------------

    async def request(
        self, actor: Actor, resource_name: str, duration: timedelta | None, reason: str
    ) -> AccessRequest:
        """Create a request, approved at once where policy allows; refuse with one sentence."""
        policy, now = self.policy, self.clock.now()
        res = self.resource(resource_name)
        duration = duration or policy.default_duration(res)
        maximum = policy.max_duration(res)
        if duration > maximum:
            raise DomainError(
                f"{format_duration(duration)} is longer than the {format_duration(maximum)} maximum for {res.name}."
            )
        if policy.require_reason(res) and not reason.strip():
            raise DomainError(
                f"{res.name} needs a reason: `request {res.name} {format_duration(duration)} REASON`."
            )
        roster = await self.roster.current()
        max_age = self.settings.roster_max_age
        verdict = may_request(res, actor.email, roster, now, max_age)
        if not verdict.allowed:
            verdict = await self._confirm_live(res, actor.email, verdict)
        fallback = not verdict.allowed and self._falls_back_to_people(res, roster)
        if not verdict.allowed and not fallback:
            raise DomainError(verdict.sentence(actor.tz, now))
        for open_request in await self.store.by_requester(actor.email):
            if open_request.resource == res.name and open_request.status in (
                Status.PENDING,
                Status.ACTIVE,
            ):
                verb = "waiting for approval" if open_request.status == Status.PENDING else "active"
                raise DomainError(
                    f"You already have request {open_request.id} for {res.name}, {verb}; see `mine`."
                )
        auto = auto_approves(res, actor.email, roster, now, max_age)
        if verdict.evidence.get("live_confirm") and res.approve.auto_if_on_call:
            auto = verdict  # the provider confirmed the on-call shift the snapshot had missed
        if fallback:
            auto = Verdict(False, Reason.AUTO_DISABLED)
            verdict = Verdict(True, Reason.NAMED, self._fallback_evidence(res))
            approvers = [p for p in res.approve.people if p != actor.email]
        else:
            approvers = (
                [] if auto.allowed else approvers_now(res, actor.email, roster, now, max_age)
            )
        if not auto.allowed and not approvers:
            raise DomainError(
                f"Nobody can approve {res.name} right now: no approver is on call or named."
            )
        request = AccessRequest(
            id=new_request_id(),
            resource=res.name,
            requester=actor.email,
            duration=duration,
            reason=reason.strip(),
            status=Status.PENDING,
            created_at=now,
            timeout_at=now + policy.approval_timeout(res),
            evidence=verdict.evidence,
        )
        await self.store.create(
            request,
            self._event("request.created", request, actor.email, {"surface": actor.surface}),
        )
        if auto.allowed:
            approved = await self.store.transition(
                request.id,
                Status.PENDING,
                Status.APPROVED,
                {"decided_by": SYSTEM, "decided_at": now, "decision_note": "auto_if_on_call"},
                self._event(
                    "request.approved", request, SYSTEM, {"auto": True, "evidence": auto.evidence}
                ),
            )
            assert approved is not None, "a request nobody else has seen cannot be decided twice"
            return await self._activate(approved, SYSTEM)
        refs = await self._notifier.ask_approvers(
            request, approvers, describe_request(request, now=now)
        )
        if refs:
            await self.store.update(
                request.id, {"message_refs": tuple((r.surface, r.ref) for r in refs)}
            )
        return await self.get(request.id)

    async def _confirm_live(self, res: Resource, email: str, refused: Verdict) -> Verdict:
        """Ask the providers about this one person, so an override made after the last sync is
        honoured; the answer is recorded as evidence. Bounded by a short deadline."""
        if refused.reason == Reason.ROSTER_STALE or not res.request.on_call:
            return refused
        live = {p.provider: p for p in self._providers()}
        now = self.clock.now()
        groups = [g for g in res.request.on_call if g.provider in live]
        if not groups:
            return refused

        async def ask(group: GroupRef) -> tuple[GroupRef, Shift | None]:
            return group, await live[group.provider].confirm_on_call(email, group, now)

        try:
            async with asyncio.timeout(self.settings.live_confirm_deadline):
                answers = await asyncio.gather(*(ask(g) for g in groups), return_exceptions=True)
        except TimeoutError:
            log.info(
                "live on-call confirm for %s timed out; the snapshot's answer stands", res.name
            )
            return refused
        for answer in answers:
            if isinstance(answer, BaseException):
                log.info("live on-call confirm failed: %s", type(answer).__name__)
                continue
            group, shift = answer
            if shift is not None and shift.covers(now):
                evidence = {
                    "rule": "request.on_call",
                    "group": str(group),
                    "provider": group.provider.value,
                    "shift_start": shift.start.isoformat() if shift.start else None,
                    "shift_end": shift.end.isoformat() if shift.end else None,
                    "live_confirm": True,
                    "confirmed_at": now.isoformat(),
                }
                return Verdict(True, Reason.ON_CALL, evidence, group, shift.end)
        return refused

    def _falls_back_to_people(self, res: Resource, roster: Roster) -> bool:
        """Groups of a provider that was disconnected (no connection, no roster) cannot vouch for
        anyone: such requests go to the people the policy names as approvers, instead of failing.
        A provider that is connected, or whose roster is still stored, never falls back."""
        groups = [*res.request.on_call, *res.request.members]
        connected = {p.provider for p in self._providers()}
        return bool(groups and res.approve.people) and all(
            g.provider not in connected and g.provider not in roster.snapshots for g in groups
        )

    @staticmethod
    def _fallback_evidence(res: Resource) -> dict[str, Any]:
        groups = [str(g) for g in (*res.request.on_call, *res.request.members)]
        return {"rule": "fallback.provider_disconnected", "groups": groups}

    # -- decisions -----------------------------------------------------------------------------

    async def approve(self, actor: Actor, request_id: str, comment: str = "") -> AccessRequest:
        request = await self.get(request_id)
        self._require_pending(request)
        res = self.resource(request.resource)
        verdict = await self._may_decide(actor, request, res)
        now = self.clock.now()
        required = res.approve.required
        detail = {"comment": comment, "evidence": verdict.evidence}
        partial = (
            self._event("request.approval_added", request, actor.email, detail)
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
            raise DomainError(self._state_sentence(current))
        if count < required:
            await self._notifier.tell(
                request.requester,
                f"{actor.email} approved {request.id} ({count} of {required} approvals).",
            )
            return await self.get(request.id)
        approved = await self.store.transition(
            request.id,
            Status.PENDING,
            Status.APPROVED,
            {"decided_by": actor.email, "decided_at": now, "decision_note": comment},
            self._event("request.approved", request, actor.email, {**detail, "approvals": count}),
        )
        if approved is None:
            raise DomainError(self._state_sentence(await self.get(request.id)))
        return await self._activate(approved, actor.email)

    async def deny(self, actor: Actor, request_id: str, reason: str = "") -> AccessRequest:
        request = await self.get(request_id)
        self._require_pending(request)
        verdict = await self._may_decide(actor, request, self.resource(request.resource))
        denied = await self.store.transition(
            request.id,
            Status.PENDING,
            Status.DENIED,
            {"decided_by": actor.email, "decided_at": self.clock.now(), "decision_note": reason},
            self._event(
                "request.denied",
                request,
                actor.email,
                {"reason": reason, "evidence": verdict.evidence},
            ),
        )
        if denied is None:
            raise DomainError(self._state_sentence(await self.get(request.id)))
        because = f": {reason}" if reason else "."
        await self._after_change(
            denied,
            f"Your request {denied.id} for {denied.resource} was denied by {actor.email}{because}",
        )
        return denied

    async def cancel(self, actor: Actor, request_id: str) -> AccessRequest:
        request = await self.get(request_id)
        if actor.email != request.requester and not self.settings.is_admin(actor.email):
            raise DomainError(f"Only {request.requester} or an admin can cancel {request.id}.")
        self._require_pending(request)
        cancelled = await self.store.transition(
            request.id,
            Status.PENDING,
            Status.CANCELLED,
            {"decided_by": actor.email, "decided_at": self.clock.now()},
            self._event("request.cancelled", request, actor.email, {}),
        )
        if cancelled is None:
            raise DomainError(self._state_sentence(await self.get(request.id)))
        await self._notifier.request_changed(cancelled, _refs(cancelled))
        return cancelled

    async def revoke(self, actor: Actor, request_id: str) -> AccessRequest:
        """Give back early (the requester) or take away (an admin); a pending request is cancelled."""
        request = await self.get(request_id)
        if actor.email != request.requester and not self.settings.is_admin(actor.email):
            raise DomainError(f"Only {request.requester} or an admin can revoke {request.id}.")
        if request.status == Status.PENDING:
            return await self.cancel(actor, request_id)
        if request.status not in (Status.APPROVED, Status.ACTIVE):
            raise DomainError(self._state_sentence(request))
        receipt = await self._revoke_in_world(request) if request.status == Status.ACTIVE else {}
        revoked = await self.store.transition(
            request.id,
            request.status,
            Status.REVOKED,
            {"ended_at": self.clock.now()},
            self._event("access.revoked", request, actor.email, {"granter": receipt}),
        )
        if revoked is None:
            raise DomainError(self._state_sentence(await self.get(request.id)))
        who = "you" if actor.email == request.requester else actor.email
        await self._after_change(
            revoked, f"Your access to {revoked.resource} ({revoked.id}) was revoked by {who}."
        )
        return revoked

    async def extend(self, actor: Actor, request_id: str, more: timedelta) -> AccessRequest:
        """More time on an active grant: at once when the requester is on call and auto-approval
        applies, or when an admin extends it; never beyond the resource's maximum."""
        request = await self.get(request_id)
        if actor.email != request.requester and not self.settings.is_admin(actor.email):
            raise DomainError(f"Only {request.requester} or an admin can extend {request.id}.")
        if (
            request.status != Status.ACTIVE
            or request.expires_at is None
            or request.granted_at is None
        ):
            raise DomainError(self._state_sentence(request))
        res, now = self.resource(request.resource), self.clock.now()
        new_end = request.expires_at + more
        maximum = self.policy.max_duration(res)
        if new_end - request.granted_at > maximum:
            raise DomainError(
                f"That would make {request.id} longer than the {format_duration(maximum)} maximum for {res.name}."
            )
        roster = await self.roster.current()
        auto = auto_approves(res, request.requester, roster, now, self.settings.roster_max_age)
        if not auto.allowed and not self.settings.is_admin(actor.email):
            raise DomainError(
                f"Extending {res.name} needs approval: {auto.sentence(actor.tz, now)} Ask again with `request {res.name}` when this one ends, or ask an admin."
            )
        extended = await self.store.transition(
            request.id,
            Status.ACTIVE,
            Status.ACTIVE,
            {"expires_at": new_end, "duration": new_end - request.granted_at},
            self._event(
                "access.extended",
                request,
                actor.email,
                {
                    "by": format_duration(more),
                    "new_end": new_end.isoformat(),
                    "evidence": auto.evidence,
                },
            ),
        )
        if extended is None:
            raise DomainError(self._state_sentence(await self.get(request.id)))
        await self._after_change(
            extended,
            f"Your access to {res.name} ({request.id}) now lasts {format_duration(more)} longer.",
        )
        return extended

    # -- scheduled work ------------------------------------------------------------------------

    async def expire_due_grants(self) -> int:
        """Take back every grant whose time is up; returns how many ended."""
        ended = 0
        for request in await self.store.due_to_expire(self.clock.now()):
            try:
                receipt = await self._revoke_in_world(request)
            except Exception:
                log.exception("revoke of %s failed; it will be retried", request.id)
                continue
            expired = await self.store.transition(
                request.id,
                Status.ACTIVE,
                Status.EXPIRED,
                {"ended_at": self.clock.now()},
                self._event("access.expired", request, SYSTEM, {"granter": receipt}),
            )
            if expired:
                ended += 1
                await self._after_change(
                    expired, f"Your access to {expired.resource} ({expired.id}) has expired."
                )
        return ended

    async def time_out_pending(self) -> int:
        """Pending requests nobody decided within the approval timeout become timed_out."""
        count = 0
        for request in await self.store.due_to_time_out(self.clock.now()):
            timed_out = await self.store.transition(
                request.id,
                Status.PENDING,
                Status.TIMED_OUT,
                {"decided_by": SYSTEM, "decided_at": self.clock.now()},
                self._event("request.timed_out", request, SYSTEM, {}),
            )
            if timed_out:
                count += 1
                await self._after_change(
                    timed_out,
                    f"Nobody decided your request {timed_out.id} for {timed_out.resource} in time; it timed out.",
                )
        return count

    # -- helpers -------------------------------------------------------------------------------

    async def _may_decide(self, actor: Actor, request: AccessRequest, res: Resource) -> Verdict:
        roster = await self.roster.current()
        now = self.clock.now()
        verdict = may_approve(
            res, actor.email, request.requester, roster, now, self.settings.roster_max_age
        )
        if not verdict.allowed:
            raise DomainError(verdict.sentence(actor.tz, now))
        return verdict

    async def _activate(self, approved: AccessRequest, actor: str) -> AccessRequest:
        """Make the access real; a failed grant leaves the request approved and says so."""
        res = self.resource(approved.resource)
        now = self.clock.now()
        grant = self._grant_of(approved, res, now, now + approved.duration)
        try:
            receipt = await self._granter(res).grant(grant)
        except Exception as exc:
            log.exception("grant of %s failed", approved.id)
            await self.audit.append(
                self._event("access.grant_failed", approved, SYSTEM, {"error": type(exc).__name__})
            )
            await self._after_change(
                approved,
                f"Your request {approved.id} was approved, but granting it failed; admins are told.",
            )
            await self._notifier.alert_admins(
                f"Granting {approved.id} ({approved.resource} for {approved.requester}) failed."
            )
            return approved
        active = await self.store.transition(
            approved.id,
            Status.APPROVED,
            Status.ACTIVE,
            {"granted_at": now, "expires_at": now + approved.duration},
            self._event(
                "access.granted",
                approved,
                actor,
                {
                    "duration": format_duration(approved.duration),
                    "until": (now + approved.duration).isoformat(),
                    "granter": receipt,
                },
            ),
        )
        if active is None:
            return await self.get(approved.id)
        by = "automatically (you are on call)" if actor == SYSTEM else f"by {actor}"
        await self._after_change(
            active,
            f"Your request {active.id} for {active.resource} was approved {by}; access for {format_duration(active.duration)}.",
        )
        return active

    async def _revoke_in_world(self, request: AccessRequest) -> dict[str, Any]:
        res = self.policy.resources.get(request.resource)
        granter = self._granter(res) if res else self._granters["record"]
        start = request.granted_at or request.created_at
        end = request.expires_at or self.clock.now()
        return await granter.revoke(self._grant_of(request, res, start, end))

    def _grant_of(
        self, request: AccessRequest, res: Resource | None, start: datetime, end: datetime
    ) -> Grant:
        return Grant(
            request_id=request.id,
            resource=request.resource,
            email=request.requester,
            start=start,
            end=end,
            approvers=request.approvals or ((request.decided_by,) if request.decided_by else ()),
            reason=request.reason,
            spec=res.grant.model_dump() if res else {"type": "record"},
        )

    def _granter(self, res: Resource) -> Granter:
        granter = self._granters.get(res.grant.type)
        if granter is None:
            raise DomainError(
                f"{res.name} uses grant type {res.grant.type}, which is not set up here."
            )
        return granter

    async def _after_change(self, request: AccessRequest, requester_text: str) -> None:
        await self._notifier.request_changed(request, _refs(request))
        await self._notifier.tell(request.requester, requester_text, request)

    def _require_pending(self, request: AccessRequest) -> None:
        if request.status != Status.PENDING:
            raise DomainError(self._state_sentence(request))

    @staticmethod
    def _state_sentence(request: AccessRequest) -> str:
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

    def _event(
        self, name: str, request: AccessRequest, actor: str, detail: dict[str, Any]
    ) -> AuditEvent:
        base = {
            "duration": format_duration(request.duration),
            "reason": request.reason,
            "evidence": request.evidence,
        }
        return AuditEvent(
            event=name,
            at=self.clock.now(),
            actor=actor,
            request_id=request.id,
            resource=request.resource,
            subject=request.requester,
            detail={**base, **detail},
        )


def _refs(request: AccessRequest) -> list[MessageRef]:
    return [MessageRef(surface, ref) for surface, ref in request.message_refs]
