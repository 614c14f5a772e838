"""Rendering the fake's state in PagerDuty REST API v2 response shapes (see the OpenAPI spec)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.fakes.pagerduty.model import (
    EscalationPolicy,
    PagerDutyState,
    Schedule,
    ScheduleShift,
    Team,
    User,
)

API = "https://api.pagerduty.com"
WEB = "https://fake.pagerduty.com"
PATHS = {
    "user": "users",
    "schedule": "schedules",
    "schedule_v3": "v3/schedules",
    "escalation_policy": "escalation_policies",
    "team": "teams",
}

Obj = dict[str, Any]


def ts(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def ref(kind: str, id: str, summary: str) -> Obj:
    path = PATHS[kind]
    return {
        "id": id,
        "type": f"{kind}_reference",
        "summary": summary,
        "self": f"{API}/{path}/{id}",
        "html_url": f"{WEB}/{path.removeprefix('v3/')}/{id}",
    }


def user_ref(user: User) -> Obj:
    return ref("user", user.id, user.name)


def user(state: PagerDutyState, u: User) -> Obj:
    body: Obj = {
        "id": u.id,
        "type": "user",
        "summary": u.name,
        "self": f"{API}/users/{u.id}",
        "html_url": f"{WEB}/users/{u.id}",
        "name": u.name,
        "time_zone": u.time_zone,
        "color": "green",
        "role": u.role,
        "avatar_url": "https://pd-static-assets.pagerduty.com/users/blank-avatar.png",
        "description": None,
        "invitation_sent": False,
        "job_title": "Engineer",
        "created_via_sso": False,
        "teams": [team_ref(state.teams[t]) for t in u.team_ids if t in state.teams],
        "contact_methods": [],
        "notification_rules": [],
    }
    if u.email is not None:
        body["email"] = u.email
    return body


def team_ref(team: Team) -> Obj:
    return ref("team", team.id, team.name)


def team(t: Team) -> Obj:
    return {
        **ref("team", t.id, t.name),
        "type": "team",
        "name": t.name,
        "description": t.description,
        "default_role": "manager",
    }


def policy_index(state: PagerDutyState) -> dict[str, list[EscalationPolicy]]:
    """Schedule id → the escalation policies that target it."""
    index: dict[str, list[EscalationPolicy]] = {}
    for p in state.policies.values():
        for target in {t.id for level in p.levels for t in level}:
            index.setdefault(target, []).append(p)
    return index


def schedule(
    state: PagerDutyState,
    s: Schedule,
    entries: list[Obj] | None = None,
    index: dict[str, list[EscalationPolicy]] | None = None,
) -> Obj:
    body: Obj = {
        **ref("schedule", s.id, s.name),
        "type": "schedule",
        "name": s.name,
        "time_zone": s.time_zone,
        "description": f"Rotation for {s.name}",
        "escalation_policies": [
            ref("escalation_policy", p.id, p.name)
            for p in (index if index is not None else policy_index(state)).get(s.id, [])
        ],
        "users": [user_ref(state.users[u]) for u in s.user_ids if u in state.users],
        "teams": [],
    }
    if entries is not None:
        body["final_schedule"] = {"name": "Final Schedule", "rendered_schedule_entries": entries}
    return body


def schedule_detail(state: PagerDutyState, s: Schedule, entries: list[Obj]) -> Obj:
    body = schedule(state, s, entries)
    body["schedule_layers"] = [
        {
            "id": "L" + s.id[1:],
            "name": "Layer 1",
            "start": "2020-01-01T00:00:00Z",
            "rotation_virtual_start": "2020-01-01T00:00:00Z",
            "rotation_turn_length_seconds": 604800,
            "users": [{"user": user_ref(state.users[u])} for u in s.user_ids if u in state.users],
            "restrictions": [],
        }
    ]
    body["overrides_subschedule"] = {"name": "Overrides", "rendered_schedule_entries": []}
    return body


def entries(
    state: PagerDutyState,
    s: Schedule,
    since: datetime,
    until: datetime,
    overflow: bool,
    shifts: list[ScheduleShift] | None = None,
) -> list[Obj]:
    """The final schedule's entries overlapping [since, until], truncated unless overflow
    (`shifts`: the schedule's own, when the caller has them indexed)."""
    found = []
    for shift in state.shifts if shifts is None else shifts:
        if shift.schedule_id != s.id or shift.user_id not in state.users:
            continue
        if shift.start <= until and shift.end > since:
            start = shift.start if overflow else max(shift.start, since)
            end = shift.end if overflow else min(shift.end, until)
            found.append(
                {"start": ts(start), "end": ts(end), "user": user_ref(state.users[shift.user_id])}
            )
    return sorted(found, key=lambda e: e["start"])


def schedule_v3(state: PagerDutyState, s: Schedule, entries: list[Obj] | None) -> Obj:
    """`GET /v3/schedules/{id}`: the final schedule as computed shift assignments by user id."""
    body: Obj = {
        "id": s.id,
        "type": "schedule_v3",
        "name": s.name,
        "time_zone": s.time_zone,
        "description": f"Shifts for {s.name}",
        "escalation_policies": [
            ref("escalation_policy", p.id, p.name) for p in policy_index(state).get(s.id, [])
        ],
        "self": f"{API}/v3/schedules/{s.id}",
        "html_url": f"{WEB}/schedules/{s.id}",
    }
    if entries is not None:
        body["final_schedule"] = {
            "type": "final_schedule",
            "rendered_coverage_percentage": 100 if entries else 0,
            "computed_shift_assignments": [
                {
                    "type": "computed_shift_assignment",
                    "start_time": e["start"],
                    "end_time": e["end"],
                    "member": {"type": "user_member", "user_id": e["user"]["id"]},
                    "source": {"type": "schedule_rotation", "rotation_id": "R" + s.id},
                }
                for e in entries
            ],
        }
    return body


def policy(state: PagerDutyState, p: EscalationPolicy) -> Obj:
    return {
        **ref("escalation_policy", p.id, p.name),
        "type": "escalation_policy",
        "name": p.name,
        "description": "",
        "num_loops": 0,
        "on_call_handoff_notifications": "if_has_services",
        "escalation_rules": [
            {
                "id": f"R{p.id[1:]}{level}",
                "escalation_delay_in_minutes": 30,
                "targets": [_target(t.kind, t.id, t.summary) for t in targets],
            }
            for level, targets in enumerate(p.levels, start=1)
        ],
        "services": [],
        "teams": [team_ref(state.teams[t]) for t in p.team_ids if t in state.teams],
    }


def _target(kind: str, id: str, summary: str) -> Obj:
    base = kind.removesuffix("_reference")
    if base in PATHS:
        return {**ref(base, id, summary), "type": kind}
    return {"id": id, "type": kind, "summary": summary}


@dataclass(frozen=True, slots=True)
class OnCall:
    user_id: str
    schedule: Schedule | None
    policy: EscalationPolicy
    level: int
    start: datetime | None
    end: datetime | None


def oncalls(state: PagerDutyState, since: datetime, until: datetime) -> list[OnCall]:
    """Per escalation policy × level × user, as PagerDuty computes them."""
    shifts_of: dict[str, list[ScheduleShift]] = {}
    for shift in state.shifts:
        shifts_of.setdefault(shift.schedule_id, []).append(shift)
    found: list[OnCall] = []
    for p in sorted(state.policies.values(), key=lambda p: p.id):
        for level, targets in enumerate(p.levels, start=1):
            for target in targets:
                if target.kind in ("user_reference", "user"):
                    if target.id in state.users:
                        found.append(OnCall(target.id, None, p, level, None, None))
                    continue
                s = state.schedules.get(target.id)
                for shift in shifts_of.get(target.id, ()) if s else ():
                    if shift.start <= until and shift.end > since and shift.user_id in state.users:
                        found.append(OnCall(shift.user_id, s, p, level, shift.start, shift.end))
    return found


def oncall(state: PagerDutyState, o: OnCall, include_users: bool) -> Obj:
    u = state.users[o.user_id]
    s = o.schedule
    return {
        "escalation_policy": ref("escalation_policy", o.policy.id, o.policy.name),
        "escalation_level": o.level,
        "schedule": ref("schedule_v3" if s.v3 else "schedule", s.id, s.name) if s else None,
        "user": user(state, u) if include_users else user_ref(u),
        "start": ts(o.start),
        "end": ts(o.end),
    }
