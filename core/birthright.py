"""Birthright access: whoever is on call for a rule's groups holds the resource for exactly as
long as the shift lasts. Reconciled on every scheduler tick and after every sync, so a shift that
starts, ends, is overridden, swapped or removed changes the grants within seconds.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from core.evidence import Evidence, Rule
from core.granting import GRANT_GRACE
from core.identity import SYSTEM, Actor
from core.policy import Policy
from core.requests import AccessRequest, Kind, Status
from core.roster import Roster
from core.rules import Reason, Verdict
from core.service import AccessService

log = logging.getLogger(__name__)
OPEN_SHIFT_HORIZON = timedelta(days=7)  # an open-ended shift is re-extended while it lasts


def birthright_holders(
    policy: Policy, roster: Roster, resource: str, now: datetime
) -> dict[str, tuple[datetime, Evidence]]:
    """Who should hold `resource` by birthright at `now`, until when, and on what evidence."""
    wanted: dict[str, tuple[datetime, Evidence]] = {}
    for rule in policy.birthright:
        if rule.resource != resource:
            continue
        for group in rule.on_call:
            for shift in roster.on_call_now(group, now):
                end = shift.end or now + OPEN_SHIFT_HORIZON
                evidence = Evidence(
                    Rule.BIRTHRIGHT,
                    group=group,
                    shift_start=shift.start,
                    shift_end=shift.end,
                    snapshot_at=roster.taken_at(group) or now,
                )
                if shift.email not in wanted or end > wanted[shift.email][0]:
                    wanted[shift.email] = (end, evidence)
    return wanted


async def reconcile_birthright(service: AccessService) -> dict[str, int]:
    """Grant, adjust and end birthright grants to match the roster; returns counts."""
    s = service
    now = s.clock.now()
    roster = await s.roster.current()
    counts = {"granted": 0, "adjusted": 0, "ended": 0}
    held = await s.store.of_kind(Kind.BIRTHRIGHT, Status.PENDING, Status.APPROVED, Status.ACTIVE)
    for resource in sorted({rule.resource for rule in s.policy.birthright}):
        if resource not in s.policy.resources:
            continue
        rules = [r for r in s.policy.birthright if r.resource == resource]
        groups = [g for r in rules for g in r.on_call]
        if not all(roster.is_fresh(g, now, s.settings.roster_max_age) for g in groups):
            continue  # a stale roster neither grants nor cuts short; grants still end at shift end
        wanted = birthright_holders(s.policy, roster, resource, now)
        mine = {r.requester: r for r in held if r.resource == resource}
        for email, (end, evidence) in wanted.items():
            current = mine.get(email)
            if current is None:
                await _grant(s, resource, email, end, evidence)
                counts["granted"] += 1
                continue
            moved = current.status == Status.ACTIVE and current.expires_at != end
            if moved and await _set_end(s, current, end, "birthright.adjusted"):
                counts["adjusted"] += 1
        for email, current in mine.items():
            still_running = current.expires_at is not None and current.expires_at > now
            gone = email not in wanted and current.status == Status.ACTIVE and still_running
            if gone and await _set_end(s, current, now, "birthright.ended"):
                counts["ended"] += 1
    return counts


async def _grant(
    s: AccessService, resource: str, email: str, end: datetime, evidence: Evidence
) -> AccessRequest:
    now = s.clock.now()
    res = s.resource(resource)
    actor = Actor(email, surface="birthright")
    request = s.workflow.new_request(
        actor,
        res,
        end - now,
        "on call",
        Verdict(True, Reason.ON_CALL, evidence),
        kind=Kind.BIRTHRIGHT,
    )
    await s.store.create(request, s.event("request.created", request, SYSTEM, {"birthright": True}))
    approved = await s.store.transition(
        request.id,
        Status.PENDING,
        Status.APPROVED,
        {
            "decided_by": SYSTEM,
            "decided_at": now,
            "decision_note": "birthright",
            "next_attempt_at": now + GRANT_GRACE,
        },
        s.event(
            "request.approved",
            request,
            SYSTEM,
            {"birthright": True, "evidence": evidence.to_dict()},
        ),
    )
    assert approved is not None
    return await s.activate(approved, SYSTEM)


async def _set_end(s: AccessService, request: AccessRequest, end: datetime, event: str) -> bool:
    """Move a birthright grant's end to the shift's (earlier: the expiry job revokes it now)."""
    assert request.granted_at is not None
    changed = await s.store.update_if(
        request.id,
        {"status": Status.ACTIVE, "expires_at": request.expires_at},
        {"expires_at": end, "duration": max(end - request.granted_at, timedelta(0))},
        s.event(event, request, SYSTEM, {"new_end": end.isoformat()}),
    )
    return changed is not None
