"""Small builders for rosters and policies, so each test reads as the situation it describes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from core.groups import GroupRef, Provider
from core.identity import Person
from core.policy import Policy, parse_policy
from core.roster import Group, Roster, RosterSnapshot, Shift

PRIMARY = GroupRef.parse("pagerduty:schedule/Primary SRE")
SECONDARY = GroupRef.parse("pagerduty:schedule/Secondary SRE")
PLATFORM = GroupRef.parse("opsgenie:team/Platform")


def utc(day: int, hour: int, minute: int = 0, *, month: int = 11, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def shift(
    email: str, start: datetime | None, end: datetime | None, level: int | None = None
) -> Shift:
    return Shift(email, start, end, level)


def group(ref: GroupRef, members: Iterable[str] = (), shifts: Iterable[Shift] = ()) -> Group:
    return Group(ref, frozenset(members), tuple(shifts))


def snapshot(
    taken_at: datetime,
    *groups: Group,
    provider: Provider | None = None,
    people: Iterable[Person] = (),
    warnings: tuple[str, ...] = (),
) -> RosterSnapshot:
    chosen = provider or groups[0].ref.provider
    return RosterSnapshot(
        chosen,
        taken_at,
        {g.ref: g for g in groups},
        {p.email: p for p in people},
        warnings,
    )


def roster(*snapshots: RosterSnapshot) -> Roster:
    return Roster.of(snapshots)


def policy(text: str) -> Policy:
    return parse_policy(text, "policy.yaml")
