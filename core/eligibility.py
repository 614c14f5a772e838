"""Who may have access right now beyond the snapshot's first answer: the incidents they work
and the on-call provider asked live, the named approvers as a fallback, and the requester
checked again at the click.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from core.decision import manual_route, unknown_to_roster
from core.errors import DomainError
from core.evidence import Basis, Evidence, Rule
from core.groups import GroupRef
from core.identity import SYSTEM, Actor
from core.incident_rules import assigned_verdict, unchecked
from core.incidents import IncidentLookup
from core.policy import Resource
from core.ports import RosterProvider
from core.requests import AccessRequest, Status
from core.roster import Roster, Shift
from core.rules import Reason, Verdict, may_request
from core.service_state import Workflow

log = logging.getLogger(__name__)


class Eligibility:
    """Decides, beyond the snapshot, whether a person may have a resource now."""

    def __init__(
        self,
        workflow: Workflow,
        providers: Callable[[], Sequence[RosterProvider]],
        incidents: IncidentLookup,
    ) -> None:
        self._w = workflow
        self._providers = providers  # the live list: connections change while the bot runs
        self.incidents = incidents

    async def decide(
        self, res: Resource, email: str, roster: Roster, *, live: bool = True
    ) -> Verdict:
        """May `email` request `res` now: working an open incident on its services (asked live),
        else the roster's answer, else (with `live`) the on-call provider asked live."""
        by_incident = await self.incident(res, email)
        if by_incident is not None and by_incident.allowed:
            return by_incident
        now = self._w.clock.now()
        verdict = may_request(res, email, roster, now, self._w.settings.roster_max_age)
        if not verdict.allowed and live:
            verdict = await self.confirm_live(res, email, verdict)
        rule = res.request
        roster_rules = rule.on_call or rule.members or rule.people
        if (
            not verdict.allowed
            and by_incident is not None
            and (by_incident.reason is Reason.INCIDENT_UNCHECKED or not roster_rules)
        ):
            return by_incident
        return verdict

    async def incident(self, res: Resource, email: str) -> Verdict | None:
        """Whether `email` is assigned to an open incident on the resource's services, asked
        live (cached for seconds); None when the resource names no services."""
        services = res.request.incident
        if not services:
            return None
        if not self.incidents.covers(services):
            return unchecked(res)
        try:
            found = await self.incidents.assigned(email, services)
        except Exception as exc:  # a provider down or slow: not a reason to fail the reply
            log.info("incident lookup for %s failed: %s", res.name, type(exc).__name__)
            return unchecked(res)
        return assigned_verdict(res, email, found, self._w.clock.now())

    def fallback(
        self, res: Resource, roster: Roster, actor: Actor, verdict: Verdict
    ) -> Evidence | None:
        """When the roster cannot vouch for the requester but named approvers can decide: the
        evidence of that manual route, with the one sentence that says why; else None."""
        groups = (*res.request.on_call, *res.request.members)
        if not [p for p in res.approve.people if p != actor.email] or not groups:
            return None  # nobody else is named who could decide
        if self._falls_back_to_people(res, roster):
            note = (
                "The on-call provider is disconnected, so your request goes to the named approvers."
            )
            return Evidence(Rule.FALLBACK_PROVIDER_DISCONNECTED, groups=groups, note=note)
        route = manual_route(res, roster, actor.email, verdict)
        if route == "roster_stale":
            note = f"{verdict.sentence(actor.tz, self._w.clock.now())} Your request goes to the named approvers instead."
            return Evidence(Rule.FALLBACK_ROSTER_STALE, groups=groups, note=note)
        if route == "unknown_person":
            note = f"You are not in the on-call roster as {actor.email}, so your request goes to the named approvers."
            return Evidence(Rule.FALLBACK_UNKNOWN_PERSON, groups=groups, note=note)
        return None

    def refusal(self, res: Resource, roster: Roster, actor: Actor, verdict: Verdict) -> str:
        if verdict.reason != Reason.ROSTER_STALE and unknown_to_roster(res, roster, actor.email):
            return (
                f"You are not in the on-call roster as {actor.email}; an admin can map you "
                "(`identity map ...`) if the provider knows you by another email."
            )
        return verdict.sentence(actor.tz, self._w.clock.now())

    async def confirm_live(self, res: Resource, email: str, refused: Verdict) -> Verdict:
        """Ask the providers about this one person, so an override made after the last sync is
        honoured; the answer is recorded as evidence. Bounded by a short deadline. A stale roster
        is never bypassed: it means syncs are failing, and the decision fails closed."""
        if refused.reason == Reason.ROSTER_STALE or not res.request.on_call:
            return refused
        live = {p.provider: p for p in self._providers()}
        now = self._w.clock.now()
        groups = [g for g in res.request.on_call if g.provider in live]
        if not groups:
            return refused

        async def ask(group: GroupRef) -> tuple[GroupRef, Shift | None]:
            return group, await live[group.provider].confirm_on_call(email, group, now)

        try:
            async with asyncio.timeout(self._w.settings.live_confirm_deadline):
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
                evidence = Evidence(
                    Rule.REQUEST_ON_CALL,
                    group=group,
                    shift_start=shift.start,
                    shift_end=shift.end,
                    live_confirm=True,
                    confirmed_at=now,
                )
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

    async def recheck_requester(
        self, request: AccessRequest, res: Resource, approver: Actor, roster: Roster | None = None
    ) -> AccessRequest:
        """Eligibility is decided again at the click, on the current roster (and the provider
        live): a requester whose shift ended meanwhile is refused, and both sides are told."""
        if request.evidence.is_fallback:
            return request  # nobody could check them when they asked; the named approvers decide
        now = self._w.clock.now()
        roster = roster if roster is not None else await self._w.roster.current()
        if request.evidence.basis is Basis.INCIDENT and request.evidence.incident is not None:
            recorded = request.evidence.incident
            try:
                current = await self.incidents.current(recorded.provider, recorded.id)
            except Exception:
                raise DomainError(
                    f"{recorded.label} could not be checked again just now "
                    f"({recorded.provider.display} did not answer in time); try again in a moment."
                ) from None
            if current is not None and current.is_open and current.assigned_to(request.requester):
                evidence = replace(request.evidence, incident=current, confirmed_at=now)
                return request.with_changes(evidence=evidence)
            gone = (
                "was resolved" if current is None or not current.is_open else "is no longer theirs"
            )
            verdict = Verdict(False, Reason.NOT_ASSIGNED, group=recorded.service)
            roster_verdict = await self.decide(res, request.requester, roster)
            if roster_verdict.allowed and roster_verdict.evidence.basis is not Basis.INCIDENT:
                return request.with_changes(evidence=roster_verdict.evidence)
            why = f"{recorded.label} {gone}."
            return await self._deny_at_click(request, approver, verdict, why, why)
        verdict = await self.decide(res, request.requester, roster)
        if verdict.allowed:
            return request.with_changes(evidence=verdict.evidence or request.evidence)
        why = (
            verdict.sentence("UTC", now)
            .replace("You are", f"{request.requester} is")
            .replace("Your", "Their")
        )
        return await self._deny_at_click(
            request, approver, verdict, why, verdict.sentence("UTC", now)
        )

    async def _deny_at_click(
        self,
        request: AccessRequest,
        approver: Actor,
        verdict: Verdict,
        why: str,
        told: str,
    ) -> AccessRequest:
        """Close a request whose requester no longer qualifies; both sides are told."""
        now = self._w.clock.now()
        res_name = request.resource
        denied = await self._w.store.transition(
            request.id,
            Status.PENDING,
            Status.DENIED,
            {
                "decided_by": SYSTEM,
                "decided_at": now,
                "decision_note": f"no longer eligible: {why}",
            },
            self._w.event(
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
            await self._w.after_change(
                denied,
                f"Your request {denied.id} for {denied.resource} can no longer be approved: {told}",
            )
        raise DomainError(
            f"{request.requester} may no longer have {res_name}: {why} The request was closed."
        )
