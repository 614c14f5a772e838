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
from core.identity import SYSTEM, Actor, IdentityMap, normalize_email
from core.policy import Policy, Resource
from core.ports import (
    AuditLog,
    Clock,
    Grant,
    Granter,
    IdentityOverrides,
    MessageRef,
    Notifier,
    RequestStore,
    RosterProvider,
    RosterStore,
)
from core.replies import describe_request, evidence_sentence
from core.requests import AccessRequest, Kind, Status, new_request_id
from core.roster import Roster, RosterSnapshot, Shift
from core.rules import Reason, Verdict, approvers_now, auto_approves, may_approve, may_request

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


class RosterCache:
    """The latest snapshots with canonical emails, re-read only when a newer sync landed or the
    identity mappings changed."""

    def __init__(
        self,
        store: RosterStore,
        identities: IdentityOverrides | None = None,
        aliases: dict[str, str] | None = None,
    ) -> None:
        self._store = store
        self._identities = identities
        self._aliases = aliases or {}
        self._roster = Roster()
        self._key: tuple[object, ...] = ()

    async def identity_map(self) -> IdentityMap:
        overrides = await self._identities.all() if self._identities else {}
        return IdentityMap(self._aliases, overrides)

    async def current(self) -> Roster:
        versions = await self._store.versions()
        identity = await self.identity_map()
        key = (
            tuple(sorted((p.value, at) for p, at in versions.items())),
            tuple(sorted(identity.overrides.items())),
        )
        if key != self._key:
            snapshots = await self._store.latest()
            if identity.aliases or identity.overrides:
                snapshots = [s.remapped(identity.email) for s in snapshots]
            self._roster, self._key = Roster.of(snapshots), key
        return self._roster

    def put(self, snapshots: Sequence[RosterSnapshot]) -> None:
        self._roster = Roster.of(snapshots)
        self._key = ()


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
        self.notifier = notifier
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
        self,
        actor: Actor,
        resource_name: str,
        duration: timedelta | None,
        reason: str,
        *,
        break_glass: bool = False,
    ) -> AccessRequest:
        """Create a request, approved at once where policy allows; refuse with one sentence."""
        policy, now = self.policy, self.clock.now()
        res = self.resource(resource_name)
        if break_glass:
            return await self._break_glass(actor, res, duration, reason)
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
        fallback = None if verdict.allowed else self._fallback(res, roster, actor, verdict)
        if not verdict.allowed and not fallback:
            raise DomainError(self._refusal(res, roster, actor, verdict))
        await self._refuse_duplicate(actor, res)
        auto = auto_approves(res, actor.email, roster, now, max_age)
        if verdict.evidence.get("live_confirm") and res.approve.auto_if_on_call:
            auto = verdict  # the provider confirmed the on-call shift the snapshot had missed
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
        request = self.new_request(actor, res, duration, reason, verdict)
        await self.store.create(
            request,
            self.event("request.created", request, actor.email, {"surface": actor.surface}),
        )
        if auto.allowed:
            approved = await self.store.transition(
                request.id,
                Status.PENDING,
                Status.APPROVED,
                {"decided_by": SYSTEM, "decided_at": now, "decision_note": "auto_if_on_call"},
                self.event(
                    "request.approved", request, SYSTEM, {"auto": True, "evidence": auto.evidence}
                ),
            )
            assert approved is not None, "a request nobody else has seen cannot be decided twice"
            active = await self.activate(approved, SYSTEM)
            await self._announce_auto(active, res, roster)
            return active
        refs = await self.notifier.ask_approvers(
            request, approvers, describe_request(request, now=now)
        )
        if refs:
            await self.store.update(
                request.id, {"message_refs": tuple((r.surface, r.ref) for r in refs)}
            )
        return await self.get(request.id)

    async def _break_glass(
        self, actor: Actor, res: Resource, duration: timedelta | None, reason: str
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
            verdict = await self._confirm_live(res, actor.email, verdict)
        if not verdict.allowed:
            raise DomainError(verdict.sentence(actor.tz, now))
        await self._refuse_duplicate(actor, res)
        request = self.new_request(
            actor, res, duration, reason, verdict, kind=Kind.BREAK_GLASS, review="open"
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
            {"decided_by": SYSTEM, "decided_at": now, "decision_note": "break-glass"},
            self.event(
                "request.approved",
                request,
                SYSTEM,
                {"break_glass": True, "evidence": verdict.evidence},
            ),
        )
        assert approved is not None, "a request nobody else has seen cannot be decided twice"
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
        if request.review != "open":
            raise DomainError(f"The review of {request.id} is already closed ({request.review}).")
        res = self.resource(request.resource)
        await self._may_decide(actor, request, res)
        reviewed = await self.store.update_if(
            request.id,
            {"review": "open"},
            {"review": verdict, "review_note": comment},
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

    def new_request(
        self,
        actor: Actor,
        res: Resource,
        duration: timedelta,
        reason: str,
        verdict: Verdict,
        *,
        kind: str = Kind.REQUEST,
        extends: str | None = None,
        review: str | None = None,
    ) -> AccessRequest:
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
            kind=str(kind),
            extends=extends,
            review=review,
        )

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

    def _fallback(
        self, res: Resource, roster: Roster, actor: Actor, verdict: Verdict
    ) -> dict[str, Any] | None:
        """When the roster cannot vouch for the requester but named approvers can decide: the
        evidence of that manual route, with the one sentence that says why; else None."""
        groups = [str(g) for g in (*res.request.on_call, *res.request.members)]
        if not [p for p in res.approve.people if p != actor.email] or not groups:
            return None  # nobody else is named who could decide
        if self._falls_back_to_people(res, roster):
            note = (
                "The on-call provider is disconnected, so your request goes to the named approvers."
            )
            return {"rule": "fallback.provider_disconnected", "groups": groups, "note": note}
        if verdict.reason == Reason.ROSTER_STALE and res.on_stale == "manual":
            note = f"{verdict.sentence(actor.tz, self.clock.now())} Your request goes to the named approvers instead."
            return {"rule": "fallback.roster_stale", "groups": groups, "note": note}
        if self._unknown_person(res, roster, actor.email):
            note = f"You are not in the on-call roster as {actor.email}, so your request goes to the named approvers."
            return {"rule": "fallback.unknown_person", "groups": groups, "note": note}
        return None

    def _refusal(self, res: Resource, roster: Roster, actor: Actor, verdict: Verdict) -> str:
        if verdict.reason != Reason.ROSTER_STALE and self._unknown_person(res, roster, actor.email):
            return (
                f"You are not in the on-call roster as {actor.email}; an admin can map you "
                "(`identity map ...`) if the provider knows you by another email."
            )
        return verdict.sentence(actor.tz, self.clock.now())

    @staticmethod
    def _unknown_person(res: Resource, roster: Roster, email: str) -> bool:
        groups = [*res.request.on_call, *res.request.members]
        return (
            bool(groups)
            and all(g.provider in roster.snapshots for g in groups)
            and not roster.knows(email)
        )

    async def _confirm_live(self, res: Resource, email: str, refused: Verdict) -> Verdict:
        """Ask the providers about this one person, so an override made after the last sync is
        honoured; the answer is recorded as evidence. Bounded by a short deadline. A stale roster
        is never bypassed: it means syncs are failing, and the decision fails closed."""
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

    # -- decisions -----------------------------------------------------------------------------

    async def approve(self, actor: Actor, request_id: str, comment: str = "") -> AccessRequest:
        request = await self.get(request_id)
        self._require_pending(request)
        res = self.resource(request.resource)
        verdict = await self._may_decide(actor, request, res)
        request = await self._recheck_requester(request, res, actor)
        now = self.clock.now()
        required = res.approve.required
        detail = {
            "comment": comment,
            "evidence": verdict.evidence,
            "requester_evidence": request.evidence,
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
            raise DomainError(self._state_sentence(current))
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
            },
            self.event("request.approved", request, actor.email, {**detail, "approvals": count}),
        )
        if approved is None:
            raise DomainError(self._state_sentence(await self.get(request.id)))
        if approved.kind == Kind.EXTENSION and approved.extends:
            return await self._approve_extension(approved, actor.email)
        return await self.activate(approved, actor.email)

    async def _approve_extension(self, extension: AccessRequest, actor: str) -> AccessRequest:
        """An approved extension moves the original grant's end; the extension stays `approved`."""
        assert extension.extends is not None
        original = await self.get(extension.extends)
        res = self.resource(original.resource)
        if original.status != Status.ACTIVE:
            await self.after_change(
                extension, f"{original.id} ended before its extension was approved."
            )
            return extension
        self._check_extension_fits(original, res, extension.duration)
        await self._apply_extension(
            original, extension.duration, actor, {"extension": extension.id}
        )
        await self.notifier.request_changed(extension, _refs(extension))
        return extension

    async def _recheck_requester(
        self, request: AccessRequest, res: Resource, approver: Actor
    ) -> AccessRequest:
        """Eligibility is decided again at the click, on the current roster (and the provider
        live): a requester whose shift ended meanwhile is refused, and both sides are told."""
        if request.evidence.get("rule", "").startswith("fallback."):
            return request  # nobody could check them when they asked; the named approvers decide
        now = self.clock.now()
        roster = await self.roster.current()
        verdict = may_request(res, request.requester, roster, now, self.settings.roster_max_age)
        if not verdict.allowed:
            verdict = await self._confirm_live(res, request.requester, verdict)
        if verdict.allowed:
            return request.with_changes(evidence=verdict.evidence or request.evidence)
        why = (
            verdict.sentence("UTC", now)
            .replace("You are", f"{request.requester} is")
            .replace("Your", "Their")
        )
        denied = await self.store.transition(
            request.id,
            Status.PENDING,
            Status.DENIED,
            {
                "decided_by": SYSTEM,
                "decided_at": now,
                "decision_note": f"no longer eligible: {why}",
            },
            self.event(
                "request.denied",
                request,
                SYSTEM,
                {
                    "reason": "requester no longer eligible",
                    "recheck": verdict.reason.value,
                    "clicked_by": approver.email,
                },
            ),
        )
        if denied is not None:
            await self.after_change(
                denied,
                f"Your request {denied.id} for {denied.resource} can no longer be approved: "
                f"{verdict.sentence('UTC', now)}",
            )
        raise DomainError(
            f"{request.requester} may no longer have {res.name}: {why} The request was closed."
        )

    async def deny(self, actor: Actor, request_id: str, reason: str = "") -> AccessRequest:
        request = await self.get(request_id)
        self._require_pending(request)
        verdict = await self._may_decide(actor, request, self.resource(request.resource))
        denied = await self.store.transition(
            request.id,
            Status.PENDING,
            Status.DENIED,
            {"decided_by": actor.email, "decided_at": self.clock.now(), "decision_note": reason},
            self.event(
                "request.denied",
                request,
                actor.email,
                {"reason": reason, "evidence": verdict.evidence},
            ),
        )
        if denied is None:
            raise DomainError(self._state_sentence(await self.get(request.id)))
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
        self._require_pending(request)
        cancelled = await self.store.transition(
            request.id,
            Status.PENDING,
            Status.CANCELLED,
            {"decided_by": actor.email, "decided_at": self.clock.now()},
            self.event("request.cancelled", request, actor.email, {}),
        )
        if cancelled is None:
            raise DomainError(self._state_sentence(await self.get(request.id)))
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
            raise DomainError(self._state_sentence(request))
        now = self.clock.now()
        receipt: dict[str, Any] = {}
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
            raise DomainError(self._state_sentence(await self.get(request.id)))
        who = "you" if actor.email == request.requester else actor.email
        await self.after_change(
            revoked, f"Your access to {revoked.resource} ({revoked.id}) was revoked by {who}."
        )
        return revoked

    async def extend(self, actor: Actor, request_id: str, more: timedelta | None) -> AccessRequest:
        """More time on an active grant, never beyond the resource's maximum: at once when
        auto-approval applies (the requester is on call) or an admin extends it, otherwise as an
        extension request that goes through the same approval as a request."""
        request = await self.get(request_id)
        if actor.email != request.requester and not self.settings.is_admin(actor.email):
            raise DomainError(f"Only {request.requester} or an admin can extend {request.id}.")
        if request.kind == Kind.BIRTHRIGHT:
            raise DomainError(f"{request.id} lasts as long as the shift; it cannot be extended.")
        if (
            request.status != Status.ACTIVE
            or request.expires_at is None
            or request.granted_at is None
        ):
            raise DomainError(self._state_sentence(request))
        res, now = self.resource(request.resource), self.clock.now()
        roster = await self.roster.current()
        if more is None:
            more = self._until_shift_end(request, res, roster, now)
        self._check_extension_fits(request, res, more)
        max_age = self.settings.roster_max_age
        auto = auto_approves(res, request.requester, roster, now, max_age)
        if auto.allowed or self.settings.is_admin(actor.email):
            return await self._apply_extension(request, more, actor.email, auto.evidence)
        for other in await self.store.by_requester(request.requester):
            if (
                other.kind == Kind.EXTENSION
                and other.extends == request.id
                and other.status == Status.PENDING
            ):
                raise DomainError(
                    f"An extension of {request.id} is already waiting for approval ({other.id})."
                )
        approvers = approvers_now(res, request.requester, roster, now, max_age)
        if not approvers:
            raise DomainError(
                f"Nobody can approve extending {res.name} right now: no approver is on call or named."
            )
        verdict = Verdict(True, Reason.NAMED, {**request.evidence, "extends": request.id})
        extension = self.new_request(
            actor,
            res,
            more,
            f"extend {request.id}: {request.reason}",
            verdict,
            kind=Kind.EXTENSION,
            extends=request.id,
        )
        await self.store.create(
            extension,
            self.event("request.created", extension, actor.email, {"extends": request.id}),
        )
        refs = await self.notifier.ask_approvers(
            extension, approvers, describe_request(extension, now=now)
        )
        if refs:
            await self.store.update(
                extension.id, {"message_refs": tuple((r.surface, r.ref) for r in refs)}
            )
        return await self.get(extension.id)

    def _until_shift_end(
        self, request: AccessRequest, res: Resource, roster: Roster, now: datetime
    ) -> timedelta:
        assert request.expires_at is not None
        shifts = [roster.on_call(request.requester, g, now) for g in res.request.on_call]
        ends = [s.end for s in shifts if s is not None and s.end is not None]
        if not ends:
            raise DomainError(
                f"{request.requester} is not on call with a shift end for {res.name}; give a duration instead."
            )
        more = max(ends) - request.expires_at
        if more <= timedelta(0):
            raise DomainError(f"{request.id} already lasts until the end of the shift.")
        return more

    def _check_extension_fits(self, request: AccessRequest, res: Resource, more: timedelta) -> None:
        assert request.expires_at is not None and request.granted_at is not None
        maximum = self.policy.max_duration(res)
        if request.expires_at + more - request.granted_at > maximum:
            raise DomainError(
                f"That would make {request.id} longer than the {format_duration(maximum)} maximum for {res.name}."
            )

    async def _apply_extension(
        self, request: AccessRequest, more: timedelta, actor: str, evidence: dict[str, Any]
    ) -> AccessRequest:
        assert request.expires_at is not None and request.granted_at is not None
        new_end = request.expires_at + more
        extended = await self.store.update_if(
            request.id,
            {"status": Status.ACTIVE, "expires_at": request.expires_at},
            {"expires_at": new_end, "duration": new_end - request.granted_at},
            self.event(
                "access.extended",
                request,
                actor,
                {"by": format_duration(more), "new_end": new_end.isoformat(), "evidence": evidence},
            ),
        )
        if extended is None:
            raise DomainError(self._state_sentence(await self.get(request.id)))
        await self.after_change(
            extended,
            f"Your access to {request.resource} ({request.id}) now lasts {format_duration(more)} longer.",
        )
        return extended

    async def _may_decide(self, actor: Actor, request: AccessRequest, res: Resource) -> Verdict:
        roster = await self.roster.current()
        now = self.clock.now()
        verdict = may_approve(
            res, actor.email, request.requester, roster, now, self.settings.roster_max_age
        )
        if not verdict.allowed:
            raise DomainError(verdict.sentence(actor.tz, now))
        return verdict

    async def activate(self, approved: AccessRequest, actor: str) -> AccessRequest:
        """Make the access real. A failed grant leaves the request approved, tells the requester
        and the admins, and is retried with backoff by the scheduler."""
        res = self.resource(approved.resource)
        now = self.clock.now()
        end = self._end_of(approved, res, now)
        try:
            receipt = await self._granter(res).grant(self._grant_of(approved, res, now, end))
        except Exception as exc:
            log.warning("grant of %s failed: %s", approved.id, type(exc).__name__)
            attempts = approved.attempts + 1
            await self.store.update_if(
                approved.id,
                {"status": Status.APPROVED},
                {
                    "attempts": attempts,
                    "next_attempt_at": now + backoff(attempts),
                    "last_error": _describe(exc),
                },
                self.event(
                    "access.grant_failed",
                    approved,
                    SYSTEM,
                    {"error": _describe(exc), "attempt": attempts},
                ),
            )
            if attempts == 1:
                await self.after_change(
                    approved,
                    f"Your request {approved.id} was approved, but granting {approved.resource} failed; "
                    "it is retried and admins are told.",
                )
                await self.notifier.alert_admins(
                    f"Granting {approved.id} ({approved.resource} for {approved.requester}) failed: {_describe(exc)}. Retrying."
                )
            return await self.get(approved.id)
        active = await self.store.transition(
            approved.id,
            Status.APPROVED,
            Status.ACTIVE,
            {
                "granted_at": now,
                "expires_at": end,
                "grant_receipt": receipt,
                "attempts": 0,
                "next_attempt_at": None,
                "last_error": None,
            },
            self.event(
                "access.granted",
                approved,
                actor,
                {
                    "duration": format_duration(approved.duration),
                    "until": end.isoformat(),
                    "granter": receipt,
                },
            ),
        )
        if active is None:
            return await self.get(approved.id)
        if active.kind == Kind.BIRTHRIGHT:
            text = f"You have {active.resource} while you are on call ({active.id})."
        elif active.kind == Kind.BREAK_GLASS:
            text = f"Break-glass access to {active.resource} granted for {format_duration(active.duration)} ({active.id}); approvers are told and will review it."
        else:
            by = "automatically (you are on call)" if actor == SYSTEM else f"by {actor}"
            text = f"Your request {active.id} for {active.resource} was approved {by}; access for {format_duration(active.duration)}."
        await self.after_change(active, text)
        return active

    def _end_of(self, request: AccessRequest, res: Resource, now: datetime) -> datetime:
        """The requested end, or the end of the shift that made the requester eligible, whichever
        comes first (per resource `end_with_shift`; permanent on-calls are not cut short)."""
        end = now + request.duration
        shift_end = request.evidence.get("shift_end")
        on_call_rule = str(request.evidence.get("rule", "")).endswith("on_call")
        if (
            request.kind in (Kind.REQUEST, Kind.BREAK_GLASS)
            and res.ends_with_shift
            and on_call_rule
            and shift_end
        ):
            end = min(end, datetime.fromisoformat(shift_end))
        return end

    async def take_back(self, request: AccessRequest) -> dict[str, Any]:
        """Revoke in the world; a granter that sees the access changed by hand says so."""
        res = self.policy.resources.get(request.resource)
        granter = self._granter(res) if res else self._granters["record"]
        start = request.granted_at or request.created_at
        end = request.expires_at or self.clock.now()
        receipt = await granter.revoke(self._grant_of(request, res, start, end))
        if receipt.get("manual_change"):
            await self.notifier.alert_admins(
                f"Revoking {request.id} ({request.resource} for {request.requester}) left a manual change alone: "
                f"{receipt['manual_change']}"
            )
        return receipt

    async def revoke_failed(
        self, request: AccessRequest, exc: Exception, *, end_as: Status | None = None
    ) -> None:
        """Remember a revoke that did not go through; it is retried with backoff, and after a few
        failures the admins are told (and `status` lists it)."""
        now = self.clock.now()
        attempts = request.attempts + 1
        changes: dict[str, Any] = {
            "attempts": attempts,
            "next_attempt_at": now + backoff(attempts),
            "last_error": _describe(exc),
        }
        if end_as is not None:
            changes.update(end_as=end_as.value, expires_at=min(request.expires_at or now, now))
        log.warning(
            "revoke of %s failed (attempt %d): %s", request.id, attempts, type(exc).__name__
        )
        await self.store.update_if(
            request.id,
            {"status": Status.ACTIVE},
            changes,
            self.event(
                "access.revoke_failed",
                request,
                SYSTEM,
                {"error": _describe(exc), "attempt": attempts},
            ),
        )
        if attempts in (1, REVOKE_ALERT_AFTER):
            await self.notifier.alert_admins(
                f"Revoking {request.id} ({request.resource} for {request.requester}) failed {attempts} time(s): "
                f"{_describe(exc)}. It is retried until it succeeds."
            )

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
            receipt=request.grant_receipt or {},
        )

    def _granter(self, res: Resource) -> Granter:
        granter = self._granters.get(res.grant.type)
        if granter is None:
            raise DomainError(
                f"{res.name} uses grant type {res.grant.type}, which is not set up here."
            )
        return granter

    async def after_change(self, request: AccessRequest, requester_text: str) -> None:
        await self.notifier.request_changed(request, _refs(request))
        await self.notifier.tell(request.requester, requester_text, request)

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

    def event(
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


def backoff(attempts: int) -> timedelta:
    """30 s, 1 m, 2 m, 4 m, ... at most 15 m between attempts at a grant or a revoke."""
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 900))


def _describe(exc: Exception) -> str:
    """What failed, safe to store and show: a DomainError's sentence, else the error's kind."""
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) and message else type(exc).__name__
