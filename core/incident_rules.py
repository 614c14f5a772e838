"""Pure decisions on incidents read live: is this requester working an incident on the
resource's services, and does that approve them at once. The I/O is `core.incidents`."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from core.evidence import Basis, Evidence, Rule
from core.identity import normalize_email
from core.incidents import Incident
from core.policy import Resource
from core.rules import Reason, Verdict


def assigned_verdict(
    resource: Resource, email: str, incidents: list[Incident], now: datetime
) -> Verdict:
    """Allowed when `email` is assigned to an open incident on one of `request.incident`."""
    email = normalize_email(email)
    wanted = {(g.provider, g.name.casefold()) for g in resource.request.incident}
    for incident in incidents:
        on_service = (incident.provider, incident.service.name.casefold()) in wanted
        if on_service and incident.is_open and incident.assigned_to(email):
            evidence = Evidence(
                Rule.REQUEST_INCIDENT, group=incident.service, confirmed_at=now, incident=incident
            )
            return Verdict(True, Reason.INCIDENT, evidence, incident.service)
    group = resource.request.incident[0] if resource.request.incident else None
    return Verdict(False, Reason.NOT_ASSIGNED, group=group)


def unchecked(resource: Resource) -> Verdict:
    group = resource.request.incident[0] if resource.request.incident else None
    return Verdict(False, Reason.INCIDENT_UNCHECKED, group=group)


def auto_if_incident(resource: Resource, verdict: Verdict) -> Verdict:
    """Approved at once when the requester qualified by an incident and the policy says so."""
    if not resource.approve.auto_if_incident:
        return Verdict(False, Reason.AUTO_DISABLED)
    if not verdict.allowed or verdict.evidence.basis is not Basis.INCIDENT:
        return Verdict(False, Reason.NOT_ASSIGNED, group=verdict.group)
    evidence = replace(verdict.evidence, rule=Rule.AUTO_IF_INCIDENT)
    return Verdict(True, Reason.INCIDENT, evidence, verdict.group)
