"""Assembling a RosterSnapshot from what a provider returned, tolerant of partial data.

Shared by the provider adapters so that one odd record (a user without an e-mail, a reference of
an unknown type, an object deleted mid-sync) is skipped with a warning naming it, the same way
for every provider, instead of failing the whole sync.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from core.groups import GroupKind, GroupRef, Provider
from core.identity import Person, is_email, normalize_email
from core.roster import Group, RosterSnapshot, Shift


class RosterBuilder:
    def __init__(self, provider: Provider, taken_at: datetime) -> None:
        self.provider = provider
        self.taken_at = taken_at
        self.people: dict[str, Person] = {}
        self.warnings: list[str] = []
        self.unlisted = 0  # directory entries the provider's listing could not reach
        self._members: dict[GroupRef, set[str]] = defaultdict(set)
        self._shifts: dict[GroupRef, dict[tuple[str, datetime | None, datetime | None], Shift]] = (
            defaultdict(dict)
        )
        self._owners: dict[GroupRef, str] = {}
        self._seen_warnings: set[str] = set()

    def warn(self, text: str) -> None:
        """Record a warning once (the same problem on many pages is one problem)."""
        if text not in self._seen_warnings:
            self._seen_warnings.add(text)
            self.warnings.append(text)

    def email(self, value: object) -> str | None:
        """A normalised e-mail, or None when the value is not one."""
        if isinstance(value, str) and is_email(value):
            return normalize_email(value)
        return None

    def person(self, email: str, name: str = "") -> None:
        if email not in self.people or (name and not self.people[email].name):
            self.people[email] = Person(email, name)

    def group(self, kind: GroupKind, name: str, owner: str = "") -> GroupRef:
        """Declare a group by display name; two provider objects with one name are merged."""
        ref = GroupRef(self.provider, kind, name.strip())
        known = self._owners.get(ref)
        if known is not None and owner and known != owner:
            self.warn(
                f"{self.provider.display} has more than one {kind.value.replace('_', ' ')} named "
                f"'{ref.name}'; their members and shifts are merged under that name."
            )
        elif known is None:
            self._owners[ref] = owner
            self._members.setdefault(ref, set())
        return ref

    def member(self, ref: GroupRef, email: str) -> None:
        self._members[ref].add(email)

    def shift(self, ref: GroupRef, shift: Shift) -> None:
        key = (shift.email, shift.start, shift.end)
        known = self._shifts[ref].get(key)
        if known is None or (known.level or 99) > (shift.level or 99):
            self._shifts[ref][key] = shift
        self._members.setdefault(ref, set())

    def build(self) -> RosterSnapshot:
        groups = {
            ref: Group(
                ref=ref,
                members=frozenset(members),
                shifts=tuple(
                    sorted(self._shifts.get(ref, {}).values(), key=lambda s: (s.email, _key(s)))
                ),
            )
            for ref, members in self._members.items()
        }
        return RosterSnapshot(
            provider=self.provider,
            taken_at=self.taken_at,
            groups=groups,
            people=dict(self.people),
            warnings=tuple(self.warnings),
            unlisted=self.unlisted,
        )


def _key(shift: Shift) -> datetime:
    return shift.start or datetime.min.replace(tzinfo=UTC)


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime; raises ValueError on anything else."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
