"""The fake PagerDuty account's state and its typed seeding helpers.

On-calls are not seeded directly as API entries: a test seeds schedule shifts (`add_oncall`) and
escalation policies, and the fake computes `/oncalls` from them as PagerDuty does, so a schedule
no escalation policy uses shows up in no `/oncalls` answer, exactly like the real service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import count

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _pd_id(n: int, prefix: str = "P") -> str:
    chars = []
    for _ in range(6):
        n, rem = divmod(n, 36)
        chars.append(_ALPHABET[rem])
    return prefix + "".join(reversed(chars))


@dataclass
class User:
    id: str
    name: str
    email: str | None
    role: str = "limited_user"
    time_zone: str = "Etc/UTC"
    team_ids: list[str] = field(default_factory=list)


@dataclass
class Schedule:
    id: str
    name: str
    user_ids: list[str]
    time_zone: str = "Etc/UTC"
    v3: bool = False


@dataclass
class ScheduleShift:
    schedule_id: str
    user_id: str
    start: datetime
    end: datetime


@dataclass
class Target:
    kind: str  # "user_reference" | "schedule_reference" | "schedule_v3_reference" | anything
    id: str
    summary: str


@dataclass
class EscalationPolicy:
    id: str
    name: str
    levels: list[list[Target]]
    team_ids: list[str] = field(default_factory=list)


@dataclass
class Team:
    id: str
    name: str
    description: str = ""
    members: list[tuple[str, str]] = field(default_factory=list)  # (user id, role)


class PagerDutyState:
    """Users, schedules, shifts, escalation policies and teams of one fake account."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.schedules: dict[str, Schedule] = {}
        self.shifts: list[ScheduleShift] = []
        self.policies: dict[str, EscalationPolicy] = {}
        self.teams: dict[str, Team] = {}
        self._ids = count(1)

    def new_id(self) -> str:
        return _pd_id(next(self._ids) * 7919 + 1_000_000)

    def add_user(
        self, name: str, email: str | None, *, role: str = "limited_user", id: str | None = None
    ) -> User:
        user = User(id or self.new_id(), name, email, role)
        self.users[user.id] = user
        return user

    def add_schedule(
        self, name: str, users: list[User] | None = None, *, v3: bool = False, id: str | None = None
    ) -> Schedule:
        schedule = Schedule(id or self.new_id(), name, [u.id for u in users or ()], v3=v3)
        self.schedules[schedule.id] = schedule
        return schedule

    def add_oncall(
        self, schedule: Schedule, user: User, start: datetime, end: datetime
    ) -> ScheduleShift:
        """`user` is on call on `schedule` from `start` to `end` (the final schedule)."""
        if user.id not in schedule.user_ids:
            schedule.user_ids.append(user.id)
        shift = ScheduleShift(schedule.id, user.id, start, end)
        self.shifts.append(shift)
        return shift

    def add_escalation_policy(
        self,
        name: str,
        levels: list[list[User | Schedule | Target]],
        *,
        teams: list[Team] | None = None,
        id: str | None = None,
    ) -> EscalationPolicy:
        """`levels[i]` are the targets of escalation level i + 1."""
        policy = EscalationPolicy(
            id or self.new_id(),
            name,
            [[_target(t) for t in level] for level in levels],
            [t.id for t in teams or ()],
        )
        self.policies[policy.id] = policy
        return policy

    def add_team(
        self, name: str, members: list[tuple[User, str]] | None = None, *, id: str | None = None
    ) -> Team:
        team = Team(id or self.new_id(), name, f"The {name} team")
        self.teams[team.id] = team
        for user, role in members or ():
            self.add_team_member(team, user, role)
        return team

    def add_team_member(self, team: Team, user: User, role: str = "responder") -> None:
        team.members.append((user.id, role))
        user.team_ids.append(team.id)

    def team_role(self, team: Team, user: User) -> str | None:
        """`user`'s role on `team`, None when not a member."""
        return next((role for uid, role in team.members if uid == user.id), None)

    def set_team_role(self, team: Team, user: User, role: str | None) -> None:
        """Make `user` a member with `role` (None: remove them), as `PUT`/`DELETE` do."""
        team.members = [(uid, r) for uid, r in team.members if uid != user.id]
        if role is None:
            if team.id in user.team_ids:
                user.team_ids.remove(team.id)
        else:
            team.members.append((user.id, role))
            if team.id not in user.team_ids:
                user.team_ids.append(team.id)

    def remove_schedule(self, schedule_id: str) -> None:
        self.schedules.pop(schedule_id, None)
        self.shifts = [s for s in self.shifts if s.schedule_id != schedule_id]


def _target(target: User | Schedule | Target) -> Target:
    if isinstance(target, Target):
        return target
    if isinstance(target, User):
        return Target("user_reference", target.id, target.name)
    kind = "schedule_v3_reference" if target.v3 else "schedule_reference"
    return Target(kind, target.id, target.name)
