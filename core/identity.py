"""People and their identities in chat and in on-call providers.

Emails are the join key between systems and are compared case-insensitively everywhere, because
providers and chat platforms disagree on case (`Alice@Example.com` vs `alice@example.com`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    """The canonical form used for every comparison and every stored key."""
    return email.strip().lower()


def is_email(text: str) -> bool:
    return bool(_EMAIL.match(text.strip()))


@dataclass(frozen=True, slots=True)
class Person:
    email: str
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "email", normalize_email(self.email))

    @property
    def label(self) -> str:
        return self.name or self.email


@dataclass(frozen=True, slots=True)
class Actor:
    """Whoever typed a command or clicked a button, as the surface resolved them."""

    email: str
    surface: str = "console"
    tz: str = "UTC"
    is_admin: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "email", normalize_email(self.email))


SYSTEM = "system"
