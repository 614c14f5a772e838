"""JSM operations objects → roster groups, people and shifts (pure: no I/O).

The same meaning as the Opsgenie mapping, so a team that switches keeps its policies' meaning:

- `schedule/NAME`: members are the users in the schedule's rotations (a team participant
  contributes its members); shifts are the current on-call users, whose windows come from the
  schedule timeline's `finalTimeline`, since the on-call answer carries none. An on-call team
  or escalation counts its users, as Opsgenie's `flat=true` answer does.
- `team/NAME`: members are the team's members.

Unlike Opsgenie, JSM names people by Atlassian account id; `accounts` carries what the Jira user
API said about each (see `people`). An account without a visible e-mail cannot be matched to a
requester, so it is left out of every group and reported once, naming the groups it misses.

`timeline_periods` and `shift_for` follow `adapters/opsgenie/mapping.py` (the timeline shapes
are the same apart from account ids); they are repeated here because adapters do not import
each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adapters.jsm.people import Account
from adapters.providerhttp.builder import RosterBuilder, parse_time
from adapters.providerhttp.timeline import Period, raw_periods, shift_for, user_id
from core.groups import GroupKind, GroupRef

Obj = dict[str, Any]
SKIPPED_PARTICIPANTS = {"escalation", "none"}  # resolved elsewhere, or nobody


@dataclass
class RawOrg:
    schedules: list[Obj] = field(default_factory=list)
    teams: list[Obj] = field(default_factory=list)  # {"id", "name"}, see `team_ref`
    team_members: dict[str, list[str]] = field(default_factory=dict)  # only teams read fully
    oncalls: dict[str, Obj] = field(default_factory=dict)  # schedule id → on-calls answer
    timelines: dict[str, Obj] = field(default_factory=dict)

    def account_ids(self) -> set[str]:
        """Every account id the mapping will need an e-mail for."""
        found: set[str] = set()
        for members in self.team_members.values():
            found.update(members)
        for schedule in self.schedules:
            for rotation in _list(schedule.get("rotations")):
                for participant in _list(rotation.get("participants")):
                    if participant.get("type") == "user" and participant.get("id"):
                        found.add(str(participant["id"]))
        for body in self.oncalls.values():
            found.update(oncall_accounts(body, self.team_members)[0])
        for timeline in self.timelines.values():
            found.update(a for a, _, _ in _raw_periods(timeline) if a)
        return found


@dataclass(frozen=True)
class Directory:
    """What a sync learned that a live check needs: ids by name, who is in which team."""

    schedule_ids: Mapping[str, str] = field(default_factory=dict)
    team_ids: Mapping[str, str] = field(default_factory=dict)
    team_members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def team_ref(team: Obj) -> tuple[str, str]:
    """(id, name) of a team as `/v1/teams` lists it (`teamId`/`teamName`; `id`/`name` too)."""
    tid = team.get("teamId") or team.get("id") or ""
    name = team.get("teamName") or team.get("name") or team.get("displayName") or ""
    return str(tid), name.strip() if isinstance(name, str) else ""


def build(
    org: RawOrg, accounts: Mapping[str, Account], b: RosterBuilder, now: datetime
) -> Directory:
    m = _Mapper(accounts, b)
    team_ids = m.teams(org)
    schedule_ids = m.schedules(org, now)
    m.report()
    return Directory(
        schedule_ids=schedule_ids,
        team_ids=team_ids,
        team_members={tid: tuple(ids) for tid, ids in org.team_members.items()},
    )


class _Mapper:
    def __init__(self, accounts: Mapping[str, Account], b: RosterBuilder) -> None:
        self.accounts = accounts
        self.b = b
        self.left_out: dict[str, list[str]] = {}

    def email(self, account_id: str, ref: GroupRef) -> str | None:
        """The account's e-mail; otherwise remember which group it is missing from."""
        account = self.accounts.get(account_id)
        if account is not None and account.email:
            self.b.person(account.email, account.name)
            return account.email
        missed = self.left_out.setdefault(account_id, [])
        if str(ref) not in missed:
            missed.append(str(ref))
        return None

    def teams(self, org: RawOrg) -> dict[str, str]:
        ids: dict[str, str] = {}
        for team in org.teams:
            tid, name = team_ref(team)
            if not tid or not name:
                self.b.warn(f"A JSM team without an id or name ({tid or '?'}) was skipped.")
                continue
            ref = self.b.group(GroupKind.TEAM, name, tid)
            ids[ref.name] = tid
            for account_id in org.team_members.get(tid, ()):
                email = self.email(account_id, ref)
                if email:
                    self.b.member(ref, email)
        return ids

    def schedules(self, org: RawOrg, now: datetime) -> dict[str, str]:
        ids: dict[str, str] = {}
        names = {team_ref(t)[0]: team_ref(t)[1] for t in org.teams}
        for schedule in org.schedules:
            sid, name = str(schedule.get("id") or ""), schedule.get("name")
            if not sid or not isinstance(name, str) or not name.strip():
                self.b.warn(f"A JSM schedule without an id or name ({sid or '?'}) was skipped.")
                continue
            ref = self.b.group(GroupKind.SCHEDULE, name, sid)
            ids[ref.name] = sid
            for rotation in _list(schedule.get("rotations")):
                for participant in _list(rotation.get("participants")):
                    self.participant(participant, ref, org, names)
            if sid in org.oncalls:
                self.shifts(sid, ref, org, names, now)
        return ids

    def participant(
        self, participant: Obj, ref: GroupRef, org: RawOrg, names: dict[str, str]
    ) -> None:
        kind, pid = participant.get("type"), str(participant.get("id") or "")
        if kind == "user" and pid:
            email = self.email(pid, ref)
            if email:
                self.b.member(ref, email)
        elif kind == "team":
            if pid not in org.team_members:
                self.b.warn(
                    f"JSM schedule '{ref.name}' has team '{names.get(pid) or pid}' in a rotation, "
                    "whose members could not be read; they are not counted as its members."
                )
            for account_id in org.team_members.get(pid, ()):
                email = self.email(account_id, ref)
                if email:
                    self.b.member(ref, email)
        elif kind not in SKIPPED_PARTICIPANTS:
            self.b.warn(
                f"JSM schedule '{ref.name}' has a participant of unknown type '{kind}'; skipped."
            )

    def shifts(
        self, sid: str, ref: GroupRef, org: RawOrg, names: dict[str, str], now: datetime
    ) -> None:
        timeline = org.timelines.get(sid)
        if timeline is None:
            self.b.warn(
                f"JSM schedule '{ref.name}' has no timeline; its on-call shifts were skipped."
            )
            return
        emails = {a: x.email for a, x in self.accounts.items() if x.email}
        periods = timeline_periods(timeline, emails)
        window_end = _time(timeline.get("endDate"))
        on_call, unexpanded = oncall_accounts(org.oncalls[sid], org.team_members)
        for tid in unexpanded:
            self.b.warn(
                f"JSM schedule '{ref.name}' has team '{names.get(tid) or tid}' on call, whose "
                "members could not be read; nobody from it counts as on call."
            )
        for account_id in on_call:
            email = self.email(account_id, ref)
            if email:
                self.b.member(ref, email)
                self.b.shift(ref, shift_for(email, periods, now, window_end))

    def report(self) -> None:
        for account_id, groups in self.left_out.items():
            account = self.accounts.get(account_id) or Account(account_id, found=False)
            where = ", ".join(groups)
            if account.found:
                self.b.warn(
                    f"JSM user {account.label} hides their e-mail address (Atlassian profile "
                    f"visibility), so they are left out of {where}; an admin can map "
                    f"jsm:{account_id} to their e-mail by hand."
                )
            else:
                self.b.warn(
                    f"JSM {account.label} is unknown to the site (deleted, or not visible to the "
                    f"connected account), so it is left out of {where}."
                )


def oncall_accounts(
    body: Obj, team_members: Mapping[str, list[str]]
) -> tuple[list[str], list[str]]:
    """(account ids on call, ids of on-call teams whose members are unknown).

    The answer nests: an escalation or a team may carry its own `onCallParticipants`, and a
    user reached through a forwarding rule carries `forwardedFrom` (the on-call one is `id`).
    """
    accounts: list[str] = []
    unexpanded: list[str] = []

    def walk(participants: object) -> None:
        for p in _list(participants):
            kind, pid = p.get("type"), str(p.get("id") or "")
            nested = p.get("onCallParticipants")
            if kind == "user" and pid:
                accounts.append(pid)
            elif isinstance(nested, list) and nested:
                walk(nested)
            elif kind == "team" and pid:
                if pid in team_members:
                    accounts.extend(team_members[pid])
                else:
                    unexpanded.append(pid)

    walk(body.get("onCallParticipants") if isinstance(body, dict) else None)
    return list(dict.fromkeys(accounts)), list(dict.fromkeys(unexpanded))


def _raw_periods(timeline: Obj) -> list[Period]:
    """(recipient account id or None, start, end) of every final-timeline period."""
    return [(user_id(recipient), start, end) for recipient, start, end in raw_periods(timeline)]


def timeline_periods(timeline: Obj, emails: Mapping[str, str]) -> list[Period]:
    """(recipient e-mail or None, start, end) of every final-timeline period."""
    return [(emails.get(a) if a else None, s, e) for a, s, e in _raw_periods(timeline)]


def _time(value: object) -> datetime | None:
    try:
        return parse_time(value)
    except ValueError:
        return None


def _list(value: object) -> list[Obj]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
