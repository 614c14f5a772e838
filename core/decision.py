"""One decision for one person, one resource and one instant: may they ask, would they be approved
at once, who could approve, and until when the access could last.

Pure, over the policy's resource, a roster and a time, so that `why` in chat, `policy explain`,
`policy diff` and `policy test` all read the same answer the rules give a real request; the
service adds only what needs I/O around it (the provider asked live, the store).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core.identity import normalize_email
from core.policy import Resource
from core.roster import Roster
from core.rules import Reason, Verdict, approvers_now, auto_approves, may_request

ASSUME_FRESH = timedelta.max
"""The roster's age never matters: for questions about another instant, where the snapshot stands
in for what the provider will (or did) say then."""


class Outcome(StrEnum):
    REFUSED = "refused"
    AUTO_APPROVED = "auto_approved"
    NEEDS_APPROVAL = "needs_approval"
    NO_APPROVER = "no_approver"  # allowed to ask, but nobody could approve: refused too


@dataclass(frozen=True, slots=True)
class Decision:
    """What a request by `person` for `resource` at `at` would meet, with the verdicts behind it."""

    resource: Resource
    person: str
    at: datetime
    request: Verdict  # may they ask
    auto: Verdict  # would they be approved at once
    approvers: tuple[str, ...]  # who could approve then (empty when approved at once)
    manual: str | None = None  # `unknown_person` or `roster_stale`: the named approvers decide

    @property
    def outcome(self) -> Outcome:
        if not self.request.allowed and not self.manual:
            return Outcome.REFUSED
        if self.auto.allowed:
            return Outcome.AUTO_APPROVED
        return Outcome.NEEDS_APPROVAL if self.approvers else Outcome.NO_APPROVER

    @property
    def reason(self) -> str:
        """The reason that settled the outcome: a rules `Reason` value, the manual route
        (`unknown_person`, `roster_stale`) or `no_approver`."""
        outcome = self.outcome
        if outcome == Outcome.NO_APPROVER:
            return Outcome.NO_APPROVER.value
        if outcome == Outcome.AUTO_APPROVED:
            return self.auto.reason.value
        if self.manual and not self.request.allowed:
            return self.manual
        return self.request.reason.value

    @property
    def ends_at(self) -> datetime | None:
        """When the access would end at the latest because the shift it rests on ends."""
        allowed, verdict = self.request.allowed, self.request
        if allowed and self.resource.ends_with_shift and verdict.reason == Reason.ON_CALL:
            return verdict.at
        return None


def unknown_to_roster(res: Resource, roster: Roster, email: str) -> bool:
    """The roster that could vouch for this person does not list them under this email at all
    (so the named approvers decide rather than the rules refusing)."""
    groups = [*res.request.on_call, *res.request.members]
    return (
        bool(groups)
        and all(g.provider in roster.snapshots for g in groups)
        and not roster.knows(email)
    )


def decide(
    res: Resource, person: str, roster: Roster, at: datetime, max_age: timedelta = ASSUME_FRESH
) -> Decision:
    """The decision a request by `person` at `at` would meet on this roster.

    Where the roster cannot vouch for the person (it does not know them, or it is out of date and
    the resource says `on_stale: manual`), the request goes to the approvers named in the policy,
    never to the person themselves, as the service routes it."""
    person = normalize_email(person)
    verdict = may_request(res, person, roster, at, max_age)
    manual = None if verdict.allowed else manual_route(res, roster, person, verdict)
    if manual:
        auto = Verdict(False, Reason.AUTO_DISABLED)
        approvers = tuple(p for p in res.approve.people if p != person)
    elif verdict.allowed:
        auto = auto_approves(res, person, roster, at, max_age)
        approvers = () if auto.allowed else tuple(approvers_now(res, person, roster, at, max_age))
    else:
        auto, approvers = Verdict(False, Reason.AUTO_DISABLED), ()
    return Decision(res, person, at, verdict, auto, approvers, manual)


def manual_route(res: Resource, roster: Roster, person: str, refused: Verdict) -> str | None:
    """Why the named approvers decide a request the roster cannot vouch for, or None when the
    refusal stands (nobody else is named, or the rules have no groups to check)."""
    groups = [*res.request.on_call, *res.request.members]
    if not groups or not [p for p in res.approve.people if p != person]:
        return None
    if refused.reason == Reason.ROSTER_STALE and res.on_stale == "manual":
        return "roster_stale"
    return "unknown_person" if unknown_to_roster(res, roster, person) else None
