"""Group references: `PROVIDER:KIND/NAME`, e.g. `pagerduty:schedule/Primary SRE`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Provider(StrEnum):
    PAGERDUTY = "pagerduty"
    OPSGENIE = "opsgenie"
    JSM = "jsm"
    FILE = "file"

    @property
    def display(self) -> str:
        return {
            "pagerduty": "PagerDuty",
            "opsgenie": "Opsgenie",
            "jsm": "JSM",
            "file": "roster file",
        }[self.value]


class GroupKind(StrEnum):
    SCHEDULE = "schedule"
    TEAM = "team"
    ESCALATION_POLICY = "escalation_policy"
    SERVICE = "service"  # incidents happen on it; nobody is on call for it as such


@dataclass(frozen=True, slots=True, order=True)
class GroupRef:
    """`PROVIDER:KIND/NAME`, optionally `@1` or `@1-2`: only those escalation levels count."""

    provider: Provider
    kind: GroupKind
    name: str
    levels: tuple[int, int] | None = None

    @property
    def base(self) -> GroupRef:
        """The group itself, without a level scope (how rosters key it)."""
        return GroupRef(self.provider, self.kind, self.name) if self.levels else self

    def admits(self, level: int | None) -> bool:
        """Whether a shift at `level` counts for this reference."""
        if self.levels is None:
            return True
        return level is not None and self.levels[0] <= level <= self.levels[1]

    @classmethod
    def parse(cls, text: str) -> GroupRef:
        """Parse `PROVIDER:KIND/NAME[@N[-M]]`; raise ValueError with a sentence saying what is wrong."""
        provider, sep, rest = text.partition(":")
        if not sep:
            raise ValueError(f"`{text}` is not a group; write PROVIDER:KIND/NAME")
        kind, sep, name = rest.partition("/")
        if not sep or not name.strip():
            raise ValueError(f"`{text}` is not a group; write PROVIDER:KIND/NAME")
        try:
            prov = Provider(provider.strip().lower())
        except ValueError:
            known = ", ".join(p.value for p in Provider)
            raise ValueError(f"`{provider}` is not a provider (one of {known})") from None
        try:
            knd = GroupKind(kind.strip().lower())
        except ValueError:
            known = ", ".join(k.value for k in GroupKind)
            raise ValueError(f"`{kind}` is not a group kind (one of {known})") from None
        name, levels = _levels(name.strip(), text)
        if levels and knd != GroupKind.ESCALATION_POLICY:
            raise ValueError(f"`{text}`: only escalation policies have levels")
        return cls(prov, knd, name, levels)

    @classmethod
    def local(cls, provider: Provider, key: str) -> GroupRef:
        """A reference from a provider-local key `KIND/NAME` (the roster file's group keys)."""
        return cls.parse(f"{provider.value}:{key}")

    def __str__(self) -> str:
        return f"{self.provider.value}:{self.kind.value}/{self.name}{self._level_suffix}"

    @property
    def _level_suffix(self) -> str:
        if self.levels is None:
            return ""
        low, high = self.levels
        return f"@{low}" if low == high else f"@{low}-{high}"

    @property
    def display(self) -> str:
        """How people see it: `Primary SRE (PagerDuty)`, `Platform level 1 (PagerDuty)`."""
        if self.levels is None:
            return f"{self.name} ({self.provider.display})"
        low, high = self.levels
        which = f"level {low}" if low == high else f"levels {low}-{high}"
        return f"{self.name} {which} ({self.provider.display})"


_LEVELS = re.compile(r"^(?P<name>.+?)@(?P<low>\d+)(?:-(?P<high>\d+))?$")


def _levels(name: str, text: str) -> tuple[str, tuple[int, int] | None]:
    match = _LEVELS.match(name)
    if not match:
        return name, None
    low = int(match["low"])
    high = int(match["high"] or low)
    if low < 1 or high < low:
        raise ValueError(f"`{text}`: levels are written @1 or @1-2 (from 1, low to high)")
    return match["name"].strip(), (low, high)
