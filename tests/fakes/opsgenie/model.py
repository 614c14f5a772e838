"""The fake Opsgenie account's state and its typed seeding helpers."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count


@dataclass
class User:
    id: str
    username: str
    full_name: str
    role: str = "user"


@dataclass
class Team:
    id: str
    name: str
    description: str = ""
    members: list[tuple[str, str]] = field(default_factory=list)  # (user id, role)


@dataclass
class Participant:
    type: str  # user | team | escalation | none | anything the API may add
    id: str = ""
    name: str = ""


@dataclass
class Rotation:
    id: str
    name: str
    participants: list[Participant]


@dataclass
class Schedule:
    id: str
    name: str
    rotations: list[Rotation]
    timezone: str = "Etc/UTC"
    enabled: bool = True
    owner_team: str | None = None


@dataclass
class Shift:
    schedule_id: str
    rotation_id: str
    user_id: str
    start: datetime
    end: datetime


@dataclass
class CustomRole:
    id: str
    name: str
    extended_role: str
    granted: list[str]
    disallowed: list[str]


@dataclass
class Service:
    id: str
    name: str
    team_id: str


@dataclass
class IncidentRecord:
    id: str
    tiny_id: int
    message: str
    impacted: list[str]  # service ids
    responders: list[tuple[str, str]]  # (user | team, id)
    created_at: datetime
    updated_at: datetime
    status: str = "open"  # open | resolved | closed


class OpsgenieState:
    def __init__(self) -> None:
        self.services: dict[str, Service] = {}
        self.incidents: dict[str, IncidentRecord] = {}
        self.users: dict[str, User] = {}
        self.teams: dict[str, Team] = {}
        self.schedules: dict[str, Schedule] = {}
        self.shifts: list[Shift] = []
        self.custom_roles: list[CustomRole] = []
        self._ids = count(1)

    def new_id(self) -> str:
        n = next(self._ids)
        return f"{n:08x}-{n % 65536:04x}-4{n % 4096:03x}-8000-{n * 7919:012x}"

    def add_user(self, username: str, full_name: str = "", *, role: str = "user") -> User:
        user = User(self.new_id(), username, full_name or username.split("@")[0], role)
        self.users[user.id] = user
        return user

    def add_team(self, name: str, members: list[tuple[User, str]] | None = None) -> Team:
        team = Team(self.new_id(), name, f"The {name} team", [(u.id, r) for u, r in members or ()])
        self.teams[team.id] = team
        return team

    def add_schedule(
        self,
        name: str,
        participants: list[User | Team | Participant] | None = None,
        *,
        owner: Team | None = None,
        enabled: bool = True,
    ) -> Schedule:
        """A schedule with one rotation of `participants` (users, teams or raw participants)."""
        rotation = Rotation(self.new_id(), "Rota 1", [_participant(p) for p in participants or ()])
        schedule = Schedule(self.new_id(), name, [rotation], enabled=enabled,
                            owner_team=owner.id if owner else None)  # fmt: skip
        self.schedules[schedule.id] = schedule
        return schedule

    def add_oncall(self, schedule: Schedule, user: User, start: datetime, end: datetime) -> Shift:
        """`user` is on call on the schedule's first rotation from `start` to `end`."""
        rotation = schedule.rotations[0]
        if not any(p.type == "user" and p.id == user.id for p in rotation.participants):
            rotation.participants.append(_participant(user))
        shift = Shift(schedule.id, rotation.id, user.id, start, end)
        self.shifts.append(shift)
        return shift

    def add_custom_role(
        self, name: str, extended_role: str = "user", granted: list[str] | None = None
    ) -> CustomRole:
        role = CustomRole(self.new_id(), name, extended_role, list(granted or []), [])
        self.custom_roles.append(role)
        return role

    def add_service(self, name: str, team: Team) -> Service:
        service = Service(self.new_id(), name, team.id)
        self.services[service.id] = service
        return service

    def open_incident(
        self, services: list[Service], message: str, responders: list[User | Team], at: datetime
    ) -> IncidentRecord:
        """An open incident on `services`, its responders users or teams, as the Incident API's
        create would leave it once processed."""
        incident = IncidentRecord(
            self.new_id(),
            len(self.incidents) + 1,
            message,
            [s.id for s in services],
            [_responder(r) for r in responders],
            at,
            at,
        )
        self.incidents[incident.id] = incident
        return incident

    def set_responders(
        self, incident: IncidentRecord, responders: list[User | Team], at: datetime
    ) -> None:
        """What adding and removing responders in Opsgenie amounts to."""
        incident.responders = [_responder(r) for r in responders]
        incident.updated_at = at

    def resolve_incident(
        self, incident: IncidentRecord, at: datetime, *, close: bool = False
    ) -> None:
        incident.status = "closed" if close else "resolved"
        incident.updated_at = at

    def remove_schedule(self, schedule_id: str) -> None:
        self.schedules.pop(schedule_id, None)
        self.shifts = [s for s in self.shifts if s.schedule_id != schedule_id]


def _responder(r: User | Team) -> tuple[str, str]:
    return ("user" if isinstance(r, User) else "team", r.id)


def _participant(p: User | Team | Participant) -> Participant:
    if isinstance(p, Participant):
        return p
    if isinstance(p, User):
        return Participant("user", p.id, p.username)
    return Participant("team", p.id, p.name)


def generate_org(
    state: OpsgenieState, *, users: int, schedules: int, teams: int, seed: int, now: datetime
) -> None:
    """A large account, deterministic by seed: every schedule has one on-call covering now."""
    rng = random.Random(seed)
    people = [
        state.add_user(f"user{i:05d}@example.com", f"User {i:05d}", role=rng.choice(
            ["user"] * 8 + ["admin", "observer"]))
        for i in range(users)
    ]  # fmt: skip
    for i in range(teams):
        picked = rng.sample(people, min(len(people), rng.randint(3, 20)))
        state.add_team(
            f"Team {i:03d}", [(u, rng.choice(["user", "user", "admin"])) for u in picked]
        )
    for i in range(schedules):
        first = rng.randrange(max(1, users - 8))
        crew = people[first : first + rng.randint(2, 8)]
        schedule = state.add_schedule(f"Schedule {i:04d}", list(crew))
        start = now - timedelta(minutes=rng.randint(1, 3 * 24 * 60))
        end = now + timedelta(minutes=rng.randint(1, 3 * 24 * 60))
        state.add_oncall(schedule, rng.choice(crew), start, end)
