"""Pure decisions: may this person request, may that person approve, is it approved at once.

Each returns an immutable `Verdict` with an Enum reason and the evidence it rests on (group,
shift window, snapshot time, provider), which the audit trail records verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core.evidence import NO_EVIDENCE, Evidence, Rule
from core.groups import GroupRef
from core.identity import normalize_email
from core.incidents import noun
from core.policy import Resource
from core.roster import Roster, Shift
from core.timefmt import show_age, show_time


class Reason(StrEnum):
    NAMED = "named"
    ON_CALL = "on_call"
    MEMBER = "member"
    OPEN = "open_to_all"
    NOT_ON_CALL = "not_on_call"
    NOT_MEMBER = "not_member"
    NOT_NAMED = "not_named"
    SHIFT_ENDED = "shift_ended"
    SHIFT_NOT_STARTED = "shift_not_started"
    ROSTER_STALE = "roster_stale"
    SELF_APPROVAL = "self_approval"
    NOT_APPROVER = "not_approver"
    AUTO_DISABLED = "auto_disabled"
    INCIDENT = "incident"
    NOT_ASSIGNED = "not_assigned"
    INCIDENT_UNCHECKED = "incident_unchecked"


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: Reason
    evidence: Evidence = NO_EVIDENCE
    group: GroupRef | None = None
    at: datetime | None = None  # shift end, shift start or last sync, as the reason needs

    def sentence(self, tz: str = "UTC", now: datetime | None = None) -> str:
        """One sentence for the person concerned, times in their zone."""
        g = self.group.display if self.group else "the required groups"
        what = noun(self.group.provider) if self.group else "incident"
        when = show_time(self.at, tz, now) if self.at else ""
        return {
            Reason.NAMED: "You are named in the policy.",
            Reason.ON_CALL: f"You are on call for {g}" + (f" until {when}." if when else "."),
            Reason.MEMBER: f"You are a member of {g}.",
            Reason.OPEN: "Anyone may request it.",
            Reason.NOT_ON_CALL: f"You are not on call for {g}.",
            Reason.NOT_MEMBER: f"You are not a member of {g}.",
            Reason.NOT_NAMED: "Only people named in the policy may request it.",
            Reason.SHIFT_ENDED: f"Your shift for {g} ended at {when}.",
            Reason.SHIFT_NOT_STARTED: f"Your shift for {g} starts at {when}.",
            Reason.ROSTER_STALE: (
                f"The on-call roster is out of date (last good sync {when or 'never'}"
                + (f", {show_age(self.at, now)}" if self.at and now else "")
                + "); an admin can run `sync`."
            ),
            Reason.SELF_APPROVAL: "You cannot decide your own request; `cancel ID` withdraws it.",
            Reason.NOT_APPROVER: f"You may not approve this: you are not on call for {g} and not a named approver.",
            Reason.AUTO_DISABLED: "This resource is never approved automatically.",
            Reason.INCIDENT: f"You are assigned to {self._incident_label()}.",
            Reason.NOT_ASSIGNED: f"You are not assigned to an open {what} on {g}.",
            Reason.INCIDENT_UNCHECKED: (
                f"Your {what}s on {g} could not be checked just now (the provider did not "
                "answer in time, or is not connected); try again in a moment."
            ),
        }[self.reason]

    def _incident_label(self) -> str:
        found = self.evidence.incident
        return f"{found.label} on {found.service.display}" if found else "an open incident"


def _evidence(
    rule: Rule, group: GroupRef, shift: Shift | None, roster: Roster, now: datetime
) -> Evidence:
    taken = roster.taken_at(group)
    return Evidence(
        rule=rule,
        group=group,
        snapshot_at=taken,
        roster_age_s=int((now - taken).total_seconds()) if taken else None,
        live_confirm=False,
        shift_start=shift.start if shift else None,
        shift_end=shift.end if shift else None,
        level=shift.level if shift else None,
    )


def _on_call_among(
    email: str,
    groups: tuple[GroupRef, ...],
    roster: Roster,
    now: datetime,
    max_age: timedelta,
    rule: Rule,
) -> Verdict | None:
    """Allowed if on call for any fresh group; otherwise the most telling refusal, or None."""
    refusals: list[Verdict] = []
    for group in groups:
        if not roster.is_fresh(group, now, max_age):
            refusals.append(
                Verdict(False, Reason.ROSTER_STALE, group=group, at=roster.taken_at(group))
            )
            continue
        shift = roster.on_call(email, group, now)
        if shift:
            return Verdict(
                True, Reason.ON_CALL, _evidence(rule, group, shift, roster, now), group, shift.end
            )
        shifts = roster.shifts_of(email, group)
        ended = [s for s in shifts if s.end is not None and s.end <= now]
        upcoming = [s for s in shifts if s.start is not None and s.start > now]
        if ended:
            last = max(ended, key=lambda s: s.end or now)
            refusals.append(Verdict(False, Reason.SHIFT_ENDED, group=group, at=last.end))
        elif upcoming:
            nxt = min(upcoming, key=lambda s: s.start or now)
            refusals.append(Verdict(False, Reason.SHIFT_NOT_STARTED, group=group, at=nxt.start))
        else:
            refusals.append(Verdict(False, Reason.NOT_ON_CALL, group=group))
    return _most_telling(refusals)


_TELLING = [
    Reason.SHIFT_ENDED,
    Reason.SHIFT_NOT_STARTED,
    Reason.NOT_ON_CALL,
    Reason.NOT_MEMBER,
    Reason.ROSTER_STALE,
]


def _most_telling(refusals: list[Verdict]) -> Verdict | None:
    if not refusals:
        return None
    fresh = [r for r in refusals if r.reason != Reason.ROSTER_STALE]
    if not fresh:  # every group stale: say so, it is the only honest answer
        return refusals[0]
    return min(fresh, key=lambda r: _TELLING.index(r.reason))


def may_request(
    resource: Resource, email: str, roster: Roster, now: datetime, max_age: timedelta
) -> Verdict:
    email = normalize_email(email)
    rule = resource.request
    if email in rule.people:
        return Verdict(True, Reason.NAMED, Evidence(Rule.REQUEST_PEOPLE))
    if rule.open_to_all:
        return Verdict(True, Reason.OPEN, Evidence(Rule.REQUEST_OPEN))
    on_call = _on_call_among(email, rule.on_call, roster, now, max_age, Rule.REQUEST_ON_CALL)
    if on_call and on_call.allowed:
        return on_call
    for group in rule.members:
        if roster.is_fresh(group, now, max_age) and roster.is_member(email, group):
            return Verdict(
                True,
                Reason.MEMBER,
                _evidence(Rule.REQUEST_MEMBERS, group, None, roster, now),
                group,
            )
    member_refusals = [
        Verdict(False, Reason.ROSTER_STALE, group=g, at=roster.taken_at(g))
        if not roster.is_fresh(g, now, max_age)
        else Verdict(False, Reason.NOT_MEMBER, group=g)
        for g in rule.members
    ]
    found = _most_telling(([on_call] if on_call else []) + member_refusals)
    if found is None and rule.incident:  # asked live: `core.incident_rules`
        return Verdict(False, Reason.NOT_ASSIGNED, group=rule.incident[0])
    return found or Verdict(False, Reason.NOT_NAMED)


def may_approve(
    resource: Resource,
    approver: str,
    requester: str,
    roster: Roster,
    now: datetime,
    max_age: timedelta,
) -> Verdict:
    approver = normalize_email(approver)
    if approver == normalize_email(requester):
        return Verdict(False, Reason.SELF_APPROVAL)
    rule = resource.approve
    if approver in rule.people:
        return Verdict(True, Reason.NAMED, Evidence(Rule.APPROVE_PEOPLE))
    on_call = _on_call_among(approver, rule.on_call, roster, now, max_age, Rule.APPROVE_ON_CALL)
    if on_call and on_call.allowed:
        return on_call
    backup = _on_call_among(
        approver, rule.escalate_to, roster, now, max_age, Rule.APPROVE_ESCALATE_TO
    )
    if backup and backup.allowed:
        return backup
    if on_call and on_call.reason == Reason.ROSTER_STALE:
        return on_call
    group = rule.on_call[0] if rule.on_call else None
    return Verdict(False, Reason.NOT_APPROVER, group=group)


def auto_approves(
    resource: Resource, requester: str, roster: Roster, now: datetime, max_age: timedelta
) -> Verdict:
    if not resource.approve.auto_if_on_call:
        return Verdict(False, Reason.AUTO_DISABLED)
    found = _on_call_among(
        normalize_email(requester),
        resource.request.on_call,
        roster,
        now,
        max_age,
        Rule.AUTO_IF_ON_CALL,
    )
    return found or Verdict(False, Reason.NOT_ON_CALL)


def approvers_now(
    resource: Resource, requester: str, roster: Roster, now: datetime, max_age: timedelta
) -> list[str]:
    """Everyone who could approve right now, never the requester."""
    found = dict.fromkeys(resource.approve.people)
    for group in resource.approve.on_call:
        if roster.is_fresh(group, now, max_age):
            found.update(dict.fromkeys(s.email for s in roster.on_call_now(group, now)))
    found.pop(normalize_email(requester), None)
    return list(found)
