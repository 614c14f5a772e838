"""Large fake PagerDuty organisations, deterministic by seed, for scale tests and the bench."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.fakes.pagerduty.model import PagerDutyState, Schedule, User

ROLES = ["limited_user"] * 6 + ["user"] * 2 + ["admin", "observer", "read_only_user"]
TEAM_ROLES = ["responder", "responder", "manager", "observer"]


@dataclass(frozen=True)
class OrgShape:
    users: int
    schedules: int
    escalation_policies: int
    teams: int
    oncall_entries: int
    unused_schedules: int


def generate_org(
    state: PagerDutyState,
    *,
    users: int,
    schedules: int,
    escalation_policies: int,
    teams: int | None = None,
    seed: int = 1,
    now: datetime,
    levels: int = 3,
) -> OrgShape:
    """Seed `state`: every schedule has 2–8 users and one shift covering `now`; escalation
    policy i targets schedules 3i..3i+2 (so some schedules are used by no policy), and one in
    ten also pages a user directly at level 1."""
    rng = random.Random(seed)
    people: list[User] = [
        state.add_user(f"User {i:05d}", f"user{i:05d}@example.com", role=rng.choice(ROLES))
        for i in range(users)
    ]
    rotas: list[Schedule] = []
    for i in range(schedules):
        size = rng.randint(2, 8)
        first = rng.randrange(max(1, users - size))
        rota = state.add_schedule(f"Rotation {i:04d}", people[first : first + size])
        on = people[first + rng.randrange(size)]
        start = now - timedelta(minutes=rng.randint(1, 7 * 24 * 60))
        state.add_oncall(rota, on, start, now + timedelta(minutes=rng.randint(1, 7 * 24 * 60)))
        rotas.append(rota)
    used: set[str] = set()
    entries = 0
    for i in range(escalation_policies):
        plan: list[list[User | Schedule]] = []
        for level in range(levels):
            index = i * levels + level
            if index < len(rotas):
                plan.append([rotas[index]])
                used.add(rotas[index].id)
                entries += 1
        if i % 10 == 0 and people:
            plan.insert(0, [people[rng.randrange(users)]])
            entries += 1
        if plan:
            state.add_escalation_policy(f"Policy {i:04d}", plan)
    team_count = max(1, escalation_policies // 3) if teams is None else teams
    for i in range(team_count):
        team = state.add_team(f"Team {i:03d}")
        for user in rng.sample(people, min(len(people), rng.randint(5, 30))):
            state.add_team_member(team, user, rng.choice(TEAM_ROLES))
    return OrgShape(
        users=users,
        schedules=schedules,
        escalation_policies=escalation_policies,
        teams=team_count,
        oncall_entries=entries,
        unused_schedules=schedules - len(used),
    )
