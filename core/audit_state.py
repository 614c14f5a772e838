"""What the audit trail says the database should hold, and where the database differs from it.

Each event that changes a request, an identity mapping or an audited setting carries, in
`detail.state`, that thing as stored after the change (the store writes it in the same
transaction). Replaying the trail therefore rebuilds the last recorded state of each, and a row
edited behind the trail's back (a requester, an expiry, a mapping, where approvals are posted)
shows up as a named difference. Events written before states were recorded still vouch for a
request's requester and resource, and for identity mappings (their key and email).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.audit import AuditEvent, AuditRecord, format_time
from core.requests import AccessRequest

STATE = "state"


def _time(at: datetime | None) -> str | None:
    return format_time(at) if at else None


def request_state(request: AccessRequest) -> dict[str, Any]:
    """The fields of a request that the trail vouches for. Bookkeeping that changes without an
    event (message references, retry counters, reminder times) is left out."""
    return {
        "resource": request.resource,
        "requester": request.requester,
        "kind": request.kind.value,
        "extends": request.extends,
        "status": request.status.value,
        "duration_seconds": int(request.duration.total_seconds()),
        "reason": request.reason,
        "created_at": _time(request.created_at),
        "approvals": sorted(request.approvals),
        "decided_by": request.decided_by,
        "decided_at": _time(request.decided_at),
        "decision_note": request.decision_note,
        "granted_at": _time(request.granted_at),
        "expires_at": _time(request.expires_at),
        "ended_at": _time(request.ended_at),
        "review": request.review.value if request.review else None,
        "review_note": request.review_note,
    }


def identity_state(key: str, email: str | None) -> dict[str, Any]:
    return {"identity": key, "email": email}


def setting_state(key: str, value: Any) -> dict[str, Any]:
    return {"setting": key, "value": value}


def with_state(event: AuditEvent, state: dict[str, Any]) -> AuditEvent:
    return AuditEvent(
        event=event.event,
        at=event.at,
        actor=event.actor,
        request_id=event.request_id,
        resource=event.resource,
        subject=event.subject,
        detail={**event.detail, STATE: state},
    )


@dataclass
class TrailState:
    """The last recorded state of everything the trail covers."""

    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Request id -> its state; only `resource` and `requester` for requests whose events all
    predate recorded states."""
    partial: set[str] = field(default_factory=set)
    identities: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "partial": sorted(self.partial),
            "identities": self.identities,
            "settings": self.settings,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrailState:
        return cls(
            requests={str(k): dict(v) for k, v in dict(data.get("requests") or {}).items()},
            partial={str(p) for p in data.get("partial") or []},
            identities={str(k): str(v) for k, v in dict(data.get("identities") or {}).items()},
            settings=dict(data.get("settings") or {}),
        )


def replay(records: Iterable[AuditRecord], initial: TrailState | None = None) -> TrailState:
    """The last recorded state of everything, replaying `records` on top of `initial` (what the
    events removed by a retention cut had established)."""
    trail = TrailState.from_json(initial.to_json()) if initial else TrailState()
    for record in records:
        state = record.detail.get(STATE) if isinstance(record.detail, dict) else None
        if isinstance(state, dict) and "identity" in state:
            _put(trail.identities, str(state["identity"]), state.get("email"))
        elif isinstance(state, dict) and "setting" in state:
            _put(trail.settings, str(state["setting"]), state.get("value"))
        elif record.request_id and isinstance(state, dict):
            trail.requests[record.request_id] = dict(state)
            trail.partial.discard(record.request_id)
        elif record.request_id:
            known = trail.requests.setdefault(record.request_id, {})
            if not known or record.request_id in trail.partial:
                trail.partial.add(record.request_id)
                known.update(resource=record.resource, requester=record.subject)
        elif record.event in ("identity.mapped", "identity.unmapped"):
            key = str(record.detail.get("key", ""))
            _put(trail.identities, key, record.detail.get("email"))
    return trail


def _put(into: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        into.pop(key, None)
    else:
        into[key] = value


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return value or '""'
    return str(value)


def differences(
    trail: TrailState,
    requests: Iterable[AccessRequest],
    identities: Mapping[str, str],
    settings: Mapping[str, Any],
) -> list[str]:
    """Every way the database differs from the trail, one sentence each, in a stable order."""
    found: list[str] = []
    stored = {r.id: request_state(r) for r in requests}
    for request_id in sorted(stored.keys() | trail.requests.keys()):
        now, then = stored.get(request_id), trail.requests.get(request_id)
        if then is None:
            found.append(f"request {request_id}: in the database but not in the trail")
        elif now is None:
            found.append(f"request {request_id}: in the trail but missing from the database")
        else:
            for name in then:
                if now.get(name) != then[name]:
                    found.append(
                        f"request {request_id}: {name} in the database {_show(now.get(name))} "
                        f"differs from the trail's {_show(then[name])}"
                    )
    found += _compare("identity mapping", identities, trail.identities)
    found += _compare("setting", settings, trail.settings)
    return found


def _compare(what: str, now: Mapping[str, Any], then: Mapping[str, Any]) -> list[str]:
    found = []
    for key in sorted(now.keys() | then.keys()):
        if key not in then:
            found.append(f"{what} {key}: in the database but not in the trail")
        elif key not in now:
            found.append(f"{what} {key}: in the trail but missing from the database")
        elif now[key] != then[key]:
            if isinstance(now[key], dict) and isinstance(then[key], dict):
                found += _compare(f"{what} {key} field", _flat(now[key]), _flat(then[key]))
            else:
                found.append(
                    f"{what} {key}: in the database {_show(now[key])} "
                    f"differs from the trail's {_show(then[key])}"
                )
    return found


def _flat(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}`, so a difference in a nested setting names its field."""
    flat: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict) and item:
            flat.update(_flat(item, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = item
    return flat
