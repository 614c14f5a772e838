"""PagerDuty API objects → roster groups, people and shifts (pure: no I/O).

Groups, by their PagerDuty display names:
- `schedule/NAME`: members are the schedule's users; shifts are the exact `/oncalls` windows
  (or, for a schedule no escalation policy uses, its rendered final schedule).
- `escalation_policy/NAME`: members are the users it targets directly or through its
  schedules; shifts carry `level` = the on-call's `escalation_level`.
- `team/NAME`: members are the team's members; their team roles are kept in the Directory.
- `service/NAME`: no members and no shifts (incidents happen on a service, read live); listed
  so that a policy naming a service the account lacks is reported like any missing group.
Shift-based (v3) schedules are listed by `/v3/schedules` (references only) and appear in
`/oncalls` and escalation rules as `schedule_v3_reference`; one no escalation policy uses is read
from its computed shift assignments, which name users by id only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adapters.pagerduty.roles import role_display
from adapters.providerhttp.builder import RosterBuilder, parse_time
from core.groups import GroupKind, GroupRef
from core.roster import Shift

SCHEDULE_TYPES = {"schedule", "schedule_reference"}
V3_SCHEDULE_TYPES = {"schedule_v3", "schedule_v3_reference"}
USER_TYPES = {"user", "user_reference"}

Obj = dict[str, Any]


@dataclass
class RawOrg:
    """Everything one sync read, as the API returned it."""

    users: list[Obj] = field(default_factory=list)
    schedules: list[Obj] = field(default_factory=list)
    escalation_policies: list[Obj] = field(default_factory=list)
    oncalls: list[Obj] = field(default_factory=list)
    teams: list[tuple[Obj, list[Obj]]] = field(default_factory=list)
    schedule_details: dict[str, Obj] = field(default_factory=dict)
    v3_schedules: list[Obj] = field(default_factory=list)
    services: list[Obj] = field(default_factory=list)


@dataclass(frozen=True)
class Directory:
    """Ids and roles behind the snapshot's names, for live checks and role-aware messages."""

    user_ids: Mapping[str, str] = field(default_factory=dict)
    schedule_ids: Mapping[str, str] = field(default_factory=dict)
    policy_ids: Mapping[str, str] = field(default_factory=dict)
    roles: Mapping[str, str] = field(default_factory=dict)
    team_roles: Mapping[tuple[str, str], str] = field(default_factory=dict)
    service_ids: Mapping[str, str] = field(default_factory=dict)


def unused_schedule_ids(org: RawOrg) -> list[str]:
    """Schedules no escalation policy targets: `/oncalls` never shows their on-call people."""
    targeted = _targeted(org)
    return [
        str(s["id"])
        for s in org.schedules
        if s.get("id") and str(s["id"]) not in targeted and not _list(s.get("escalation_policies"))
    ]


def _targeted(org: RawOrg) -> set[str]:
    return {
        str(t.get("id"))
        for ep in org.escalation_policies
        for rule in _list(ep.get("escalation_rules"))
        for t in _list(rule.get("targets"))
    }


def unused_v3_schedule_ids(org: RawOrg) -> list[str]:
    """Shift-based schedules no escalation policy targets (`/oncalls` never shows them)."""
    targeted = _targeted(org)
    return [str(s["id"]) for s in org.v3_schedules if s.get("id") and str(s["id"]) not in targeted]


def listed_final_schedules(
    org: RawOrg, ids: list[str], now: datetime, since: datetime, until: datetime
) -> tuple[dict[str, Obj], list[str]]:
    """The final schedules the `/schedules` pages carried (`include[]=final_schedule` over
    [since, until]) for `ids`, cut to the entries covering `now`; and the ids whose entry there
    was cut at the window's edge (or missing), whose exact shifts need the schedule itself."""
    found: dict[str, Obj] = {}
    wanted = set(ids)
    for schedule in org.schedules:
        sid = str(schedule.get("id"))
        if sid not in wanted:
            continue
        final = schedule.get("final_schedule")
        if not isinstance(final, dict) or not isinstance(
            final.get("rendered_schedule_entries"), list
        ):
            continue
        current = []
        for entry in _list(final.get("rendered_schedule_entries")):
            try:
                start, end = parse_time(entry.get("start")), parse_time(entry.get("end"))
            except ValueError:
                current.append(entry)  # let the mapping warn about it
                continue
            if (start is None or start <= now) and (end is None or now < end):
                if start == since or end == until:  # cut by the window: not the real bounds
                    break
                current.append(entry)
        else:
            found[sid] = {"final_schedule": {"rendered_schedule_entries": current}}
    return found, [sid for sid in ids if sid not in found]


def on_call_user_ids(org: RawOrg) -> list[str]:
    """Users the final schedules name by reference only (no e-mail): on call now on a schedule
    no policy uses. `/oncalls` and team members come with the user's e-mail already."""
    ids: list[str] = []
    for detail in org.schedule_details.values():
        final = _obj(detail.get("final_schedule"))
        for entry in _list(final.get("rendered_schedule_entries")):
            user = _obj(entry.get("user"))
            if user.get("id") and not user.get("email"):
                ids.append(str(user["id"]))
        for entry in _list(final.get("computed_shift_assignments")):
            member = _obj(entry.get("member"))
            if member.get("type") == "user_member" and member.get("user_id"):
                ids.append(str(member["user_id"]))
    return ids


def build(org: RawOrg, b: RosterBuilder) -> Directory:
    emails: dict[str, str] = {}
    roles: dict[str, str] = {}
    for user in org.users:
        email = _user_email(user, b)
        if email:
            emails[str(user.get("id"))] = email
            roles[email] = role_display(user.get("role"))
    schedules = _schedules(org, b, emails)
    policies = _policies(org, b, emails, schedules)
    _oncalls(org, b, emails, schedules, policies)
    _details(org, b, emails, schedules)
    team_roles = _teams(org, b, emails)
    service_ids = {}
    for service in org.services:
        sid, name = str(service.get("id") or ""), service.get("name") or service.get("summary")
        if sid and isinstance(name, str) and name.strip():
            service_ids[b.group(GroupKind.SERVICE, name, sid).name] = sid
    return Directory(
        user_ids={email: uid for uid, email in emails.items()},
        schedule_ids={ref.name: sid for sid, ref in schedules.items()},
        policy_ids={ref.name: pid for pid, ref in policies.items()},
        roles=roles,
        team_roles=team_roles,
        service_ids=service_ids,
    )


def _user_email(user: Obj, b: RosterBuilder) -> str | None:
    email = b.email(user.get("email"))
    name = str(user.get("name") or user.get("summary") or "")
    if email is None:
        b.warn(f"PagerDuty user '{name or '?'}' ({user.get('id')}) has no e-mail address; skipped.")
        return None
    b.person(email, name)
    return email


def _schedules(org: RawOrg, b: RosterBuilder, emails: dict[str, str]) -> dict[str, GroupRef]:
    refs: dict[str, GroupRef] = {}
    for schedule in org.schedules:
        sid, name = str(schedule.get("id") or ""), schedule.get("name") or schedule.get("summary")
        if not sid or not isinstance(name, str) or not name.strip():
            b.warn(f"A PagerDuty schedule without an id or name ({sid or '?'}) was skipped.")
            continue
        ref = refs[sid] = b.group(GroupKind.SCHEDULE, name, sid)
        for user in _list(schedule.get("users")):
            email = emails.get(str(user.get("id")))
            if email:
                b.member(ref, email)
    for schedule in org.v3_schedules:  # references: an id and a summary, the name
        sid, name = str(schedule.get("id") or ""), schedule.get("summary")
        if not sid or not isinstance(name, str) or not name.strip():
            b.warn(f"A PagerDuty shift-based schedule without an id or name ({sid or '?'}) was "
                   "skipped.")  # fmt: skip
            continue
        refs[sid] = b.group(GroupKind.SCHEDULE, name, sid)
    return refs


def _policies(
    org: RawOrg, b: RosterBuilder, emails: dict[str, str], schedules: dict[str, GroupRef]
) -> dict[str, GroupRef]:
    members_of: dict[str, set[str]] = {}
    for schedule in org.schedules:
        sid = str(schedule.get("id"))
        members_of[sid] = {emails[u] for u in _ids(schedule.get("users")) if u in emails}
    refs: dict[str, GroupRef] = {}
    for policy in org.escalation_policies:
        pid, name = str(policy.get("id") or ""), policy.get("name") or policy.get("summary")
        if not pid or not isinstance(name, str) or not name.strip():
            b.warn(
                f"A PagerDuty escalation policy without an id or name ({pid or '?'}) was skipped."
            )
            continue
        ref = refs[pid] = b.group(GroupKind.ESCALATION_POLICY, name, pid)
        for rule in _list(policy.get("escalation_rules")):
            for target in _list(rule.get("targets")):
                kind, tid = target.get("type"), str(target.get("id"))
                if kind in USER_TYPES:
                    if tid in emails:
                        b.member(ref, emails[tid])
                elif kind in SCHEDULE_TYPES:
                    for email in members_of.get(tid, ()):
                        b.member(ref, email)
                elif kind in V3_SCHEDULE_TYPES:
                    pass  # shift-based schedule: its people arrive through /oncalls
                else:
                    b.warn(
                        f"PagerDuty escalation policy '{name}' has a target of unknown type "
                        f"'{kind}' ({tid}); skipped it."
                    )
    return refs


def _oncalls(
    org: RawOrg,
    b: RosterBuilder,
    emails: dict[str, str],
    schedules: dict[str, GroupRef],
    policies: dict[str, GroupRef],
) -> None:
    for oncall in org.oncalls:
        user = _obj(oncall.get("user"))
        email = b.email(user.get("email")) or emails.get(str(user.get("id")))
        who = user.get("summary") or user.get("name") or user.get("id") or "?"
        if email is None:
            b.warn(f"PagerDuty on-call user '{who}' has no e-mail address; skipped.")
            continue
        b.person(email, str(user.get("name") or user.get("summary") or ""))
        try:
            start, end = parse_time(oncall.get("start")), parse_time(oncall.get("end"))
        except ValueError:
            b.warn(f"A PagerDuty on-call entry of '{who}' has unreadable times; skipped.")
            continue
        level = oncall.get("escalation_level")
        level = level if isinstance(level, int) else None
        policy = _obj(oncall.get("escalation_policy"))
        pref = policies.get(str(policy.get("id")))
        if pref is None and isinstance(policy.get("summary"), str):
            pref = b.group(GroupKind.ESCALATION_POLICY, policy["summary"], str(policy.get("id")))
        if pref is not None:
            b.member(pref, email)
            b.shift(pref, Shift(email, start, end, level))
        sref = _schedule_ref(oncall.get("schedule"), b, schedules)
        if sref is not None:
            b.member(sref, email)
            b.shift(sref, Shift(email, start, end))


def _schedule_ref(
    schedule: object, b: RosterBuilder, schedules: dict[str, GroupRef]
) -> GroupRef | None:
    if not isinstance(schedule, dict):
        return None  # a direct user target: no schedule involved
    sid, kind, summary = str(schedule.get("id")), schedule.get("type"), schedule.get("summary")
    if sid in schedules:
        return schedules[sid]
    if kind in SCHEDULE_TYPES | V3_SCHEDULE_TYPES and isinstance(summary, str) and summary:
        ref = schedules[sid] = b.group(GroupKind.SCHEDULE, summary, sid)
        return ref
    b.warn(f"A PagerDuty on-call names a schedule of unknown type '{kind}' ({sid}); skipped it.")
    return None


def _details(
    org: RawOrg, b: RosterBuilder, emails: dict[str, str], schedules: dict[str, GroupRef]
) -> None:
    for sid, detail in org.schedule_details.items():
        ref = schedules.get(sid)
        final = detail.get("final_schedule") if isinstance(detail, dict) else None
        if ref is None or not isinstance(final, dict):
            continue
        if detail.get("type") == "schedule_v3":
            _v3_assignments(ref, final, b, emails)
            continue
        for entry in _list(final.get("rendered_schedule_entries")):
            user = _obj(entry.get("user"))
            email = b.email(user.get("email")) or emails.get(str(user.get("id")))
            if email is None:
                b.warn(f"PagerDuty schedule '{ref.name}' has an entry without a known user.")
                continue
            try:
                shift = Shift(email, parse_time(entry.get("start")), parse_time(entry.get("end")))
            except ValueError:
                b.warn(f"PagerDuty schedule '{ref.name}' has an entry with unreadable times.")
                continue
            b.member(ref, email)
            b.shift(ref, shift)


def _v3_assignments(ref: GroupRef, final: Obj, b: RosterBuilder, emails: dict[str, str]) -> None:
    for entry in _list(final.get("computed_shift_assignments")):
        member = _obj(entry.get("member"))
        if member.get("type") != "user_member":
            continue  # an intentionally empty slot: nobody is on call
        email = emails.get(str(member.get("user_id")))
        if email is None:
            b.warn(f"PagerDuty schedule '{ref.name}' has a shift of a user not in the directory "
                   f"({member.get('user_id')}).")  # fmt: skip
            continue
        try:
            start, end = parse_time(entry.get("start_time")), parse_time(entry.get("end_time"))
        except ValueError:
            b.warn(f"PagerDuty schedule '{ref.name}' has a shift with unreadable times.")
            continue
        b.member(ref, email)
        b.shift(ref, Shift(email, start, end))


def _teams(org: RawOrg, b: RosterBuilder, emails: dict[str, str]) -> dict[tuple[str, str], str]:
    roles: dict[tuple[str, str], str] = {}
    for team, members in org.teams:
        tid, name = str(team.get("id") or ""), team.get("name") or team.get("summary")
        if not isinstance(name, str) or not name.strip():
            b.warn(f"A PagerDuty team without a name ({tid or '?'}) was skipped.")
            continue
        ref = b.group(GroupKind.TEAM, name, tid)
        for member in members:
            user = _obj(member.get("user"))
            email = b.email(user.get("email")) or emails.get(str(user.get("id")))
            if email is None:
                who = user.get("summary") or user.get("name") or user.get("id") or "?"
                b.warn(f"PagerDuty team '{name}' member '{who}' has no e-mail address; skipped.")
                continue
            b.member(ref, email)
            roles[(ref.name, email)] = str(member.get("role") or "")
    return roles


def _obj(value: object) -> Obj:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Obj]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _ids(value: object) -> Iterable[str]:
    return (str(item.get("id")) for item in _list(value))
