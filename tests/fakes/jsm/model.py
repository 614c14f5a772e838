"""The fake JSM site's state (operations data, Jira users, platform teams) and seeding helpers."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count


@dataclass
class User:
    account_id: str
    name: str
    email: str
    email_visible: bool = True  # Atlassian profile visibility: "only you and admins" hides it


@dataclass
class Team:
    id: str
    name: str
    members: list[str] = field(default_factory=list)  # account ids


@dataclass
class Participant:
    type: str  # user | team | escalation | none | anything the API may add
    id: str = ""


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
    team_id: str | None = None
    timezone: str = "Etc/UTC"
    enabled: bool = True


@dataclass
class OnCall:
    """Who the schedule puts on call from `start` to `end`: a user, a team (answered without
    its members, as in the published sample) or an escalation with users nested under it."""

    schedule_id: str
    rotation_id: str
    type: str
    id: str
    start: datetime
    end: datetime
    nested: list[str] = field(default_factory=list)  # account ids under an escalation


@dataclass
class Alert:
    """An operations alert as `GET /v1/alerts/{id}` describes it: responders are `(type, id)`
    with account ids for users; `owner` as the API writes it (an account id here)."""

    id: str
    tiny_id: int
    message: str
    responders: list[tuple[str, str]]
    created_at: datetime
    updated_at: datetime
    owner: str = ""
    status: str = "open"  # open | closed
    acknowledged: bool = False
    priority: str = "P3"


@dataclass
class Credential:
    token: str
    rights: set[str]  # ops (JSM operations), browse_users (Jira user API), teams (Teams API)


ALL_RIGHTS = {"ops", "browse_users", "teams"}


class JsmState:
    def __init__(self) -> None:
        self.cloud_id = str(uuid.UUID(int=0xC10D))
        self.org_id = str(uuid.UUID(int=0x0A6))
        self.users: dict[str, User] = {}
        self.teams: dict[str, Team] = {}
        self.schedules: dict[str, Schedule] = {}
        self.oncalls: list[OnCall] = []
        self.alerts: dict[str, Alert] = {}
        self._ids = count(1)

    def new_id(self) -> str:
        return str(uuid.UUID(int=next(self._ids) * 7919 + (1 << 100)))

    def new_account_id(self) -> str:
        """Atlassian account ids look like `712020:<uuid>` (or 24 hex digits for old ones)."""
        return f"712020:{self.new_id()}"

    def add_user(self, email: str, name: str = "", *, email_visible: bool = True) -> User:
        user = User(self.new_account_id(), name or email.split("@")[0], email, email_visible)
        self.users[user.account_id] = user
        return user

    def add_team(self, name: str, members: list[User] | None = None) -> Team:
        team = Team(self.new_id(), name, [u.account_id for u in members or ()])
        self.teams[team.id] = team
        return team

    def add_schedule(
        self,
        name: str,
        participants: list[User | Team | Participant] | None = None,
        *,
        team: Team | None = None,
    ) -> Schedule:
        rotation = Rotation(self.new_id(), "Rota 1", [_participant(p) for p in participants or ()])
        schedule = Schedule(self.new_id(), name, [rotation], team.id if team else None)
        self.schedules[schedule.id] = schedule
        return schedule

    def add_oncall(
        self, schedule: Schedule, who: User | Team, start: datetime, end: datetime
    ) -> OnCall:
        """`who` is on call on the schedule's first rotation from `start` to `end`."""
        rotation = schedule.rotations[0]
        p = _participant(who)
        if not any(x.type == p.type and x.id == p.id for x in rotation.participants):
            rotation.participants.append(p)
        entry = OnCall(schedule.id, rotation.id, p.type, p.id, start, end)
        self.oncalls.append(entry)
        return entry

    def add_escalation_oncall(
        self, schedule: Schedule, users: list[User], start: datetime, end: datetime
    ) -> OnCall:
        """An escalation in the rotation, answered with its users nested under it."""
        entry = OnCall(schedule.id, schedule.rotations[0].id, "escalation", self.new_id(),
                       start, end, [u.account_id for u in users])  # fmt: skip
        self.oncalls.append(entry)
        return entry

    def open_alert(
        self,
        message: str,
        responders: list[User | Team | Participant],
        at: datetime,
        *,
        owner: User | None = None,
    ) -> Alert:
        """An open alert paging `responders`, as the alert API's create leaves it once processed
        (ids end in the creation time in milliseconds, as Atlassian's samples do)."""
        stamp = int(at.timestamp() * 1000)
        alert = Alert(
            f"{self.new_id()}-{stamp}",
            len(self.alerts) + 1,
            message,
            [_responder(r) for r in responders],
            at,
            at,
            owner.account_id if owner else "",
        )
        self.alerts[alert.id] = alert
        return alert

    def set_alert_responders(
        self, alert: Alert, responders: list[User | Team | Participant], at: datetime
    ) -> None:
        """What adding and removing responders amounts to."""
        alert.responders = [_responder(r) for r in responders]
        alert.updated_at = at

    def acknowledge_alert(self, alert: Alert, at: datetime) -> None:
        alert.acknowledged = True
        alert.updated_at = at

    def assign_alert(self, alert: Alert, user: User, at: datetime) -> None:
        """`POST /v1/alerts/{id}/assign` with the user's `accountId`: the alert's owner."""
        alert.owner = user.account_id
        alert.updated_at = at

    def close_alert(self, alert: Alert, at: datetime) -> None:
        alert.status = "closed"
        alert.updated_at = at

    def remove_schedule(self, schedule_id: str) -> None:
        self.schedules.pop(schedule_id, None)
        self.oncalls = [o for o in self.oncalls if o.schedule_id != schedule_id]


def _participant(p: User | Team | Participant) -> Participant:
    if isinstance(p, Participant):
        return p
    if isinstance(p, User):
        return Participant("user", p.account_id)
    return Participant("team", p.id)


def _responder(r: User | Team | Participant) -> tuple[str, str]:
    p = _participant(r)
    return (p.type, p.id)


def generate_org(
    state: JsmState, *, users: int, schedules: int, teams: int, seed: int, now: datetime
) -> None:
    """A large site, deterministic by seed: every schedule has one on-call covering now."""
    rng = random.Random(seed)
    people = [state.add_user(f"user{i:05d}@example.com", f"User {i:05d}") for i in range(users)]
    for i in range(teams):
        state.add_team(f"Team {i:03d}", rng.sample(people, min(len(people), rng.randint(3, 20))))
    for i in range(schedules):
        first = rng.randrange(max(1, users - 8))
        crew = people[first : first + rng.randint(2, 8)]
        schedule = state.add_schedule(f"Schedule {i:04d}", list(crew))
        start = now - timedelta(minutes=rng.randint(1, 3 * 24 * 60))
        end = now + timedelta(minutes=rng.randint(1, 3 * 24 * 60))
        state.add_oncall(schedule, rng.choice(crew), start, end)
