"""Group references: `PROVIDER:KIND/NAME`, e.g. `pagerduty:schedule/Primary SRE`."""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True, order=True)
class GroupRef:
    provider: Provider
    kind: GroupKind
    name: str

    @classmethod
    def parse(cls, text: str) -> GroupRef:
        """Parse `PROVIDER:KIND/NAME`; raise ValueError with a sentence saying what is wrong."""
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
        return cls(prov, knd, name.strip())

    @classmethod
    def local(cls, provider: Provider, key: str) -> GroupRef:
        """A reference from a provider-local key `KIND/NAME` (the roster file's group keys)."""
        return cls.parse(f"{provider.value}:{key}")

    def __str__(self) -> str:
        return f"{self.provider.value}:{self.kind.value}/{self.name}"

    @property
    def display(self) -> str:
        """How people see it: `Primary SRE (PagerDuty)`."""
        return f"{self.name} ({self.provider.display})"
