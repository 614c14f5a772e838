"""Opsgenie API objects → roster groups, people and shifts (pure: no I/O).

- `schedule/NAME`: members are the users in the schedule's rotations (a team participant
  contributes its members); shifts are the current on-call recipients (`flat=true`), whose
  windows come from the schedule timeline's `finalTimeline`, since who-is-on-call gives none.
- `team/NAME`: members are the team's members; their team roles are kept in the Directory.
- `service/NAME`: no members and no shifts (incidents happen on a service, read live); listed
  so that a policy naming a service the account lacks is reported like any missing group.
Usernames are e-mail addresses in Opsgenie, so they are the join key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adapters.providerhttp.builder import RosterBuilder, parse_time
from adapters.providerhttp.timeline import Period, raw_periods, shift_for, user_id
from core.groups import GroupKind, GroupRef

Obj = dict[str, Any]
SKIPPED_PARTICIPANTS = {"escalation", "none"}  # resolved elsewhere, or nobody


@dataclass
class RawOrg:
    users: list[Obj] = field(default_factory=list)
    custom_roles: list[Obj] = field(default_factory=list)
    teams: list[Obj] = field(default_factory=list)
    schedules: list[Obj] = field(default_factory=list)
    oncalls: dict[str, list[str]] = field(default_factory=dict)
    timelines: dict[str, Obj] = field(default_factory=dict)
    services: list[Obj] = field(default_factory=list)


@dataclass(frozen=True)
class Directory:
    user_ids: Mapping[str, str] = field(default_factory=dict)
    schedule_ids: Mapping[str, str] = field(default_factory=dict)
    service_ids: Mapping[str, str] = field(default_factory=dict)  # service name -> id
    team_members: Mapping[str, frozenset[str]] = field(default_factory=dict)  # team id -> emails
    roles: Mapping[str, str] = field(default_factory=dict)
    team_roles: Mapping[tuple[str, str], str] = field(default_factory=dict)
    custom_roles: tuple[str, ...] = ()


def build(org: RawOrg, b: RosterBuilder, now: datetime) -> Directory:
    emails: dict[str, str] = {}
    roles: dict[str, str] = {}
    for user in org.users:
        email = b.email(user.get("username"))
        if email is None:
            b.warn(
                f"Opsgenie user '{user.get('fullName') or '?'}' ({user.get('id')}) has no "
                "e-mail username; skipped."
            )
            continue
        emails[str(user.get("id"))] = email
        b.person(email, str(user.get("fullName") or ""))
        role = user.get("role")
        roles[email] = str(role.get("name")) if isinstance(role, dict) else str(role or "")
    team_members, team_roles = _teams(org, b, emails)
    schedule_ids = _schedules(org, b, emails, team_members, now)
    service_ids: dict[str, str] = {}
    for service in org.services:
        sid, name = str(service.get("id") or ""), service.get("name")
        if sid and isinstance(name, str) and name.strip():
            service_ids[b.group(GroupKind.SERVICE, name, sid).name] = sid
    return Directory(
        user_ids={email: uid for uid, email in emails.items()},
        schedule_ids=schedule_ids,
        service_ids=service_ids,
        team_members={
            str(t.get("id")): frozenset(team_members.get(str(t.get("id")), ()))
            for t in org.teams
            if t.get("id")
        },
        roles=roles,
        team_roles=team_roles,
        custom_roles=tuple(str(r.get("name")) for r in org.custom_roles if r.get("name")),
    )


def _teams(
    org: RawOrg, b: RosterBuilder, emails: dict[str, str]
) -> tuple[dict[str, set[str]], dict[tuple[str, str], str]]:
    members_of: dict[str, set[str]] = {}
    roles: dict[tuple[str, str], str] = {}
    for team in org.teams:
        tid, name = str(team.get("id") or ""), team.get("name")
        if not isinstance(name, str) or not name.strip():
            b.warn(f"An Opsgenie team without a name ({tid or '?'}) was skipped.")
            continue
        ref = b.group(GroupKind.TEAM, name, tid)
        found = members_of.setdefault(tid, set())
        members_of[name] = found
        for member in _list(team.get("members")):
            user = _obj(member.get("user"))
            email = b.email(user.get("username")) or emails.get(str(user.get("id")))
            if email is None:
                b.warn(f"Opsgenie team '{name}' has a member without an e-mail username; skipped.")
                continue
            b.member(ref, email)
            found.add(email)
            roles[(ref.name, email)] = str(member.get("role") or "user")
    return members_of, roles


def _schedules(
    org: RawOrg,
    b: RosterBuilder,
    emails: dict[str, str],
    team_members: dict[str, set[str]],
    now: datetime,
) -> dict[str, str]:
    ids: dict[str, str] = {}
    for schedule in org.schedules:
        sid, name = str(schedule.get("id") or ""), schedule.get("name")
        if not sid or not isinstance(name, str) or not name.strip():
            b.warn(f"An Opsgenie schedule without an id or name ({sid or '?'}) was skipped.")
            continue
        ref = b.group(GroupKind.SCHEDULE, name, sid)
        ids[ref.name] = sid
        for rotation in _list(schedule.get("rotations")):
            for participant in _list(rotation.get("participants")):
                _participant(participant, ref, b, emails, team_members)
        if sid in org.oncalls:
            _shifts(sid, ref, org, b, emails, now)
    return ids


def _participant(
    participant: Obj,
    ref: GroupRef,
    b: RosterBuilder,
    emails: dict[str, str],
    team_members: dict[str, set[str]],
) -> None:
    kind = participant.get("type")
    if kind == "user":
        email = b.email(participant.get("username")) or emails.get(str(participant.get("id")))
        if email:
            b.member(ref, email)
    elif kind == "team":
        team = team_members.get(str(participant.get("id"))) or team_members.get(
            str(participant.get("name"))
        )
        for email in team or ():
            b.member(ref, email)
    elif kind not in SKIPPED_PARTICIPANTS:
        b.warn(
            f"Opsgenie schedule '{ref.name}' has a participant of unknown type '{kind}'; skipped."
        )


def _shifts(
    sid: str, ref: GroupRef, org: RawOrg, b: RosterBuilder, emails: dict[str, str], now: datetime
) -> None:
    timeline = org.timelines.get(sid)
    if timeline is None:
        b.warn(f"Opsgenie schedule '{ref.name}' has no timeline; its on-call shifts were skipped.")
        return
    periods = timeline_periods(timeline, emails)
    window_end = _time(timeline.get("endDate"))
    for recipient in org.oncalls[sid]:
        email = b.email(recipient)
        if email is None:
            b.warn(
                f"Opsgenie schedule '{ref.name}' has an on-call '{recipient}' without an e-mail."
            )
            continue
        b.member(ref, email)
        b.shift(ref, shift_for(email, periods, now, window_end))


def timeline_periods(timeline: Obj, emails: dict[str, str]) -> list[Period]:
    """(recipient e-mail or None, start, end) of every final-timeline period; a user id we do
    not know falls back to a recipient name that is an e-mail address."""
    found: list[Period] = []
    for recipient, start, end in raw_periods(timeline):
        email = None
        uid = user_id(recipient)
        if uid is not None:
            name = recipient.get("name")
            email = emails.get(uid) or (
                name.strip().lower() if isinstance(name, str) and "@" in name else None
            )
        found.append((email, start, end))
    return found


def _time(value: object) -> datetime | None:
    try:
        return parse_time(value)
    except ValueError:
        return None


def _obj(value: object) -> Obj:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Obj]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


__all__ = ["Directory", "Period", "RawOrg", "build", "shift_for", "timeline_periods"]
