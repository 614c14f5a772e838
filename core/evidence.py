"""What a decision rests on, typed: the rule that applied, the group and shift behind it, how
fresh the roster was, or why nobody could check. Requests keep it, approvals record it, every
message explains it; the store and the audit trail keep it as the JSON object `to_dict` writes,
and `from_dict` reads rows written before it was typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from core.groups import GroupRef, Provider
from core.incidents import Incident, IncidentStatus


class Basis(StrEnum):
    """How someone qualified, whichever rule said so."""

    NONE = "none"  # nothing was checked (a refusal, an old row without evidence)
    NAMED = "named"
    OPEN = "open"
    ON_CALL = "on_call"
    MEMBER = "member"
    FALLBACK = "fallback"  # the roster could not vouch; named approvers decide
    INCIDENT = "incident"  # assigned to an open incident on the resource's services


class Rule(StrEnum):
    """The policy key a verdict came from, as the audit trail has always named it."""

    NONE = ""
    REQUEST_PEOPLE = "request.people"
    REQUEST_OPEN = "request.open"
    REQUEST_ON_CALL = "request.on_call"
    REQUEST_MEMBERS = "request.members"
    APPROVE_PEOPLE = "approve.people"
    APPROVE_ON_CALL = "approve.on_call"
    APPROVE_ESCALATE_TO = "approve.escalate_to"
    AUTO_IF_ON_CALL = "approve.auto_if_on_call"
    REQUEST_INCIDENT = "request.incident"
    AUTO_IF_INCIDENT = "approve.auto_if_incident"
    BIRTHRIGHT = "birthright"
    FALLBACK_PROVIDER_DISCONNECTED = "fallback.provider_disconnected"
    FALLBACK_ROSTER_STALE = "fallback.roster_stale"
    FALLBACK_UNKNOWN_PERSON = "fallback.unknown_person"

    @property
    def basis(self) -> Basis:
        return _BASIS[self]


_BASIS = {
    Rule.NONE: Basis.NONE,
    Rule.REQUEST_PEOPLE: Basis.NAMED,
    Rule.REQUEST_OPEN: Basis.OPEN,
    Rule.REQUEST_ON_CALL: Basis.ON_CALL,
    Rule.REQUEST_MEMBERS: Basis.MEMBER,
    Rule.APPROVE_PEOPLE: Basis.NAMED,
    Rule.APPROVE_ON_CALL: Basis.ON_CALL,
    Rule.APPROVE_ESCALATE_TO: Basis.ON_CALL,
    Rule.AUTO_IF_ON_CALL: Basis.ON_CALL,
    Rule.REQUEST_INCIDENT: Basis.INCIDENT,
    Rule.AUTO_IF_INCIDENT: Basis.INCIDENT,
    Rule.BIRTHRIGHT: Basis.ON_CALL,
    Rule.FALLBACK_PROVIDER_DISCONNECTED: Basis.FALLBACK,
    Rule.FALLBACK_ROSTER_STALE: Basis.FALLBACK,
    Rule.FALLBACK_UNKNOWN_PERSON: Basis.FALLBACK,
}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One decision's grounds. Fields a rule does not use stay None (or empty)."""

    rule: Rule = Rule.NONE
    group: GroupRef | None = None
    groups: tuple[GroupRef, ...] = ()  # a fallback: the groups nobody could check
    snapshot_at: datetime | None = None
    roster_age_s: int | None = None
    live_confirm: bool | None = None  # None: not a roster decision
    confirmed_at: datetime | None = None
    shift_start: datetime | None = None
    shift_end: datetime | None = None
    level: int | None = None
    note: str | None = None  # a fallback's sentence for the requester
    extends: str | None = None  # an extension's original request
    incident: Incident | None = None  # the incident the requester was assigned to

    @property
    def basis(self) -> Basis:
        return self.rule.basis

    @property
    def provider(self) -> Provider | None:
        return self.group.provider if self.group else None

    @property
    def on_call(self) -> bool:
        return self.basis is Basis.ON_CALL and self.group is not None

    @property
    def is_fallback(self) -> bool:
        return self.basis is Basis.FALLBACK

    def __bool__(self) -> bool:
        return self.rule is not Rule.NONE or self.extends is not None

    def extending(self, request_id: str) -> Evidence:
        return replace(self, extends=request_id)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object the store and the audit trail keep (the keys they always had)."""
        out: dict[str, Any] = {}
        if self.rule is not Rule.NONE:
            out["rule"] = self.rule.value
        if self.group is not None:
            out["group"] = str(self.group)
            out["provider"] = self.group.provider.value
        if self.groups:
            out["groups"] = [str(g) for g in self.groups]
        if self.snapshot_at is not None or self.roster_age_s is not None:
            out["snapshot_at"] = _iso(self.snapshot_at)
            out["roster_age_s"] = self.roster_age_s
        if self.live_confirm is not None:
            out["live_confirm"] = self.live_confirm
        if self.confirmed_at is not None:
            out["confirmed_at"] = _iso(self.confirmed_at)
        if self.on_call:
            out["shift_start"] = _iso(self.shift_start)
            out["shift_end"] = _iso(self.shift_end)
        if self.level is not None:
            out["level"] = self.level
        if self.note is not None:
            out["note"] = self.note
        if self.extends is not None:
            out["extends"] = self.extends
        if self.incident is not None:
            out["incident"] = _incident_dict(self.incident)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Evidence:
        """Read what `to_dict` wrote, and rows stored before evidence was typed; a value that
        does not read (a group the grammar no longer accepts, a rule since renamed) is left
        out rather than making the request unreadable."""
        if not data:
            return cls()
        try:
            rule = Rule(str(data.get("rule") or ""))
        except ValueError:
            rule = Rule.NONE
        level = data.get("level")
        age = data.get("roster_age_s")
        live = data.get("live_confirm")
        note = data.get("note")
        extends = data.get("extends")
        return cls(
            rule=rule,
            group=_group(data.get("group")),
            groups=tuple(g for g in map(_group, data.get("groups") or ()) if g is not None),
            snapshot_at=_time(data.get("snapshot_at")),
            roster_age_s=age if isinstance(age, int) and not isinstance(age, bool) else None,
            live_confirm=live if isinstance(live, bool) else None,
            confirmed_at=_time(data.get("confirmed_at")),
            shift_start=_time(data.get("shift_start")),
            shift_end=_time(data.get("shift_end")),
            level=level if isinstance(level, int) and not isinstance(level, bool) else None,
            note=note if isinstance(note, str) else None,
            extends=extends if isinstance(extends, str) else None,
            incident=_incident(data.get("incident")),
        )


NO_EVIDENCE = Evidence()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _incident_dict(incident: Incident) -> dict[str, Any]:
    return {
        "provider": incident.provider.value,
        "id": incident.id,
        "number": incident.number,
        "title": incident.title,
        "url": incident.url,
        "status": incident.status.value,
        "service": str(incident.service),
        "assignees": sorted(incident.assignees),
    }


def _incident(value: Any) -> Incident | None:
    if not isinstance(value, Mapping):
        return None
    service = _group(value.get("service"))
    try:
        provider = Provider(str(value.get("provider")))
        status = IncidentStatus(str(value.get("status")))
    except ValueError:
        return None
    number = value.get("number")
    assignees = value.get("assignees")
    if service is None or not isinstance(value.get("id"), str):
        return None
    return Incident(
        provider=provider,
        id=value["id"],
        number=number if isinstance(number, int) and not isinstance(number, bool) else None,
        title=str(value.get("title") or ""),
        url=str(value.get("url") or ""),
        status=status,
        service=service,
        assignees=frozenset(a for a in assignees if isinstance(a, str))
        if isinstance(assignees, list)
        else frozenset(),
    )


def _group(value: Any) -> GroupRef | None:
    if not isinstance(value, str):
        return None
    try:
        return GroupRef.parse(value)
    except ValueError:
        return None
