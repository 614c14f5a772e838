"""Roster snapshots: who is on call for which group, with exact shift windows.

A snapshot is what one sync of one provider saw. On-call status is always decided on the shift
windows in it (start <= now < end, end may be open), so a shift ending between two syncs is not
honoured after its end, and one not yet started is not honoured before its start.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.groups import GroupRef, Provider
from core.identity import Person, normalize_email


@dataclass(frozen=True, slots=True)
class Shift:
    """One person on call for one group from `start` until `end` (None: open on that side)."""

    email: str
    start: datetime | None = None
    end: datetime | None = None
    level: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "email", normalize_email(self.email))

    def covers(self, now: datetime) -> bool:
        return (self.start is None or self.start <= now) and (self.end is None or now < self.end)


@dataclass(frozen=True, slots=True)
class Group:
    ref: GroupRef
    members: frozenset[str] = frozenset()
    shifts: tuple[Shift, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", frozenset(normalize_email(m) for m in self.members))


@dataclass(frozen=True)
class RosterSnapshot:
    """Everything one provider said at `taken_at`, indexed by (person, group) for O(1) lookups."""

    provider: Provider
    taken_at: datetime
    groups: Mapping[GroupRef, Group]
    people: Mapping[str, Person] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    ids: Mapping[str, str] = field(default_factory=dict)  # provider user id -> email, for mapping
    unlisted: int = 0  # directory entries the provider would not list (a listing cap)
    _shifts: dict[tuple[str, GroupRef], list[Shift]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _groups_of: dict[str, set[GroupRef]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        shifts: dict[tuple[str, GroupRef], list[Shift]] = defaultdict(list)
        groups_of: dict[str, set[GroupRef]] = defaultdict(set)
        for group in self.groups.values():
            for shift in group.shifts:
                shifts[(shift.email, group.ref)].append(shift)
                groups_of[shift.email].add(group.ref)
            for member in group.members:
                groups_of[member].add(group.ref)
        object.__setattr__(self, "_shifts", dict(shifts))
        object.__setattr__(self, "_groups_of", dict(groups_of))

    def shifts_of(self, email: str, group: GroupRef) -> list[Shift]:
        found = self._shifts.get((normalize_email(email), group.base), [])
        return found if group.levels is None else [s for s in found if group.admits(s.level)]

    def groups_of(self, email: str) -> set[GroupRef]:
        return self._groups_of.get(normalize_email(email), set())

    def is_member(self, email: str, group: GroupRef) -> bool:
        found = self.groups.get(group.base)
        email = normalize_email(email)
        return found is not None and (email in found.members or bool(self.shifts_of(email, group)))

    def remapped(self, canonical: Callable[[str, str | None], str]) -> RosterSnapshot:
        """The same snapshot with every email made canonical (aliases, manual mappings)."""
        key_of = {email: f"{self.provider.value}:{pid}" for pid, email in self.ids.items()}

        def f(email: str) -> str:
            return canonical(email, key_of.get(email))

        groups = {
            ref: Group(
                ref,
                frozenset(f(m) for m in g.members),
                tuple(Shift(f(s.email), s.start, s.end, s.level) for s in g.shifts),
            )
            for ref, g in self.groups.items()
        }
        people = {f(e): Person(f(e), p.name) for e, p in self.people.items()}
        ids = {pid: f(email) for pid, email in self.ids.items()}
        return RosterSnapshot(
            self.provider, self.taken_at, groups, people, self.warnings, ids, self.unlisted
        )

    @property
    def counts(self) -> dict[str, int]:
        counts = {
            "groups": len(self.groups),
            "people": len(self.people),
            "shifts": sum(len(g.shifts) for g in self.groups.values()),
        }
        if self.unlisted:
            counts["unlisted"] = self.unlisted
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider.value,
            "taken_at": _iso(self.taken_at),
            "people": [{"email": p.email, "name": p.name} for p in self.people.values()],
            "groups": [
                {
                    "ref": str(g.ref),
                    "members": sorted(g.members),
                    "shifts": [
                        {
                            "email": s.email,
                            "start": _iso(s.start),
                            "end": _iso(s.end),
                            "level": s.level,
                        }
                        for s in g.shifts
                    ],
                }
                for g in self.groups.values()
            ],
            "warnings": list(self.warnings),
            "ids": dict(self.ids),
            "unlisted": self.unlisted,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RosterSnapshot:
        groups = {}
        for g in data["groups"]:
            ref = GroupRef.parse(g["ref"])
            groups[ref] = Group(
                ref=ref,
                members=frozenset(g.get("members", ())),
                shifts=tuple(
                    Shift(s["email"], _parse(s.get("start")), _parse(s.get("end")), s.get("level"))
                    for s in g.get("shifts", ())
                ),
            )
        people = {
            normalize_email(p["email"]): Person(p["email"], p.get("name", ""))
            for p in data["people"]
        }
        taken_at = _parse(data["taken_at"])
        assert taken_at is not None
        return cls(
            Provider(data["provider"]),
            taken_at,
            groups,
            people,
            tuple(data.get("warnings", ())),
            dict(data.get("ids", {})),
            int(data.get("unlisted", 0)),
        )


@dataclass(frozen=True)
class Roster:
    """The latest snapshot of every connected provider, read as one."""

    snapshots: Mapping[Provider, RosterSnapshot] = field(default_factory=dict)

    @classmethod
    def of(cls, snapshots: Iterable[RosterSnapshot]) -> Roster:
        return cls({s.provider: s for s in snapshots})

    def snapshot_for(self, group: GroupRef) -> RosterSnapshot | None:
        return self.snapshots.get(group.provider)

    def has_group(self, group: GroupRef) -> bool:
        snap = self.snapshot_for(group)
        return snap is not None and group.base in snap.groups

    def shifts_of(self, email: str, group: GroupRef) -> list[Shift]:
        snap = self.snapshot_for(group)
        return snap.shifts_of(email, group) if snap else []

    def on_call(self, email: str, group: GroupRef, now: datetime) -> Shift | None:
        """The shift covering `now` with the latest end (an open end is the latest)."""
        covering = [s for s in self.shifts_of(email, group) if s.covers(now)]
        if not covering:
            return None
        return max(covering, key=lambda s: s.end or datetime.max.replace(tzinfo=UTC))

    def is_member(self, email: str, group: GroupRef) -> bool:
        snap = self.snapshot_for(group)
        return snap is not None and snap.is_member(email, group)

    def on_call_now(self, group: GroupRef, now: datetime) -> list[Shift]:
        snap = self.snapshot_for(group)
        found = snap.groups.get(group.base) if snap else None
        if not found:
            return []
        return [s for s in found.shifts if s.covers(now) and group.admits(s.level)]

    def levels_of(self, group: GroupRef) -> set[int]:
        """The escalation levels seen in a group's shifts (to explain a level it does not have)."""
        snap = self.snapshot_for(group)
        found = snap.groups.get(group.base) if snap else None
        return {s.level for s in found.shifts if s.level is not None} if found else set()

    def taken_at(self, group: GroupRef) -> datetime | None:
        snap = self.snapshot_for(group)
        return snap.taken_at if snap else None

    def is_fresh(self, group: GroupRef, now: datetime, max_age: timedelta) -> bool:
        taken = self.taken_at(group)
        return taken is not None and now - taken <= max_age

    def all_groups(self) -> list[GroupRef]:
        return sorted(ref for snap in self.snapshots.values() for ref in snap.groups)

    def knows(self, email: str) -> bool:
        """Whether any provider lists this person at all (as a person, member or on-call)."""
        email = normalize_email(email)
        return any(
            email in snap.people or snap.groups_of(email) for snap in self.snapshots.values()
        )

    def person(self, email: str) -> Person | None:
        email = normalize_email(email)
        for snap in self.snapshots.values():
            if email in snap.people:
                return snap.people[email]
        return None


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
