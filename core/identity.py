"""People and their identities in chat and in on-call providers.

Emails are the join key between systems and are compared case-insensitively everywhere, because
providers and chat platforms disagree on case (`Alice@Example.com` vs `alice@example.com`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Control, format (zero-width, bidi overrides), private-use, unassigned and surrogate code points,
# and line/paragraph separators: none belongs in an address, and each can make two that look the
# same differ.
_UNSEEN = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"})


def normalize_email(email: str) -> str:
    """The canonical form used for every comparison and every stored key: NFKC (full-width and
    other compatibility forms as their plain letters) and case folding, which for ASCII is
    lower-casing."""
    folded = unicodedata.normalize("NFKC", email.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)


def is_email(text: str) -> bool:
    """Shaped like an address, with no invisible or control character in it."""
    stripped = text.strip()
    if any(unicodedata.category(c) in _UNSEEN for c in stripped):
        return False
    return bool(_EMAIL.match(stripped))


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
    """Whoever typed a command or clicked a button, as the surface resolved them.

    `user_key` is the surface's own id (`slack:U123`, `teams:<aad id>`), so an admin's manual
    mapping can override the email the platform reports; `workspace` is the Slack workspace or
    Microsoft 365 tenant the platform vouched for, since a user id alone names no organisation."""

    email: str
    surface: str = "console"
    tz: str = "UTC"
    is_admin: bool = False
    user_key: str | None = None
    workspace: str | None = None
    mapped_by: str | None = None  # the admin whose mapping made this account this person

    def __post_init__(self) -> None:
        object.__setattr__(self, "email", normalize_email(self.email))

    @property
    def chat_identity(self) -> str | None:
        """The chat account itself (`slack:<team>:<user>`, `teams:<tenant>:<aad id>`), as the
        audit trail records it beside the person; None off chat."""
        if not self.user_key or not self.workspace:
            return None
        surface, _, user = self.user_key.partition(":")
        return f"{surface}:{self.workspace}:{user}"


SYSTEM = "system"


def parse_aliases(text: str) -> dict[str, str]:
    """`corp.example.com=example.com, old.example=example.com` -> {from-domain: to-domain}."""
    aliases: dict[str, str] = {}
    for pair in text.replace(";", ",").split(","):
        if not pair.strip():
            continue
        source, sep, target = pair.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise ValueError(
                f"`{pair.strip()}` is not an alias; write corp.example.com=example.com"
            )
        aliases[source.strip().lower().lstrip("@")] = target.strip().lower().lstrip("@")
    return aliases


@dataclass(frozen=True)
class IdentityMap:
    """Makes every email canonical: manual overrides by surface or provider id first, then
    domain aliases, then lower case. One instance per decision, rebuilt when overrides change."""

    aliases: dict[str, str]
    overrides: dict[str, str]  # "slack:U123" / "pagerduty:PABC123" / "email:x@y" -> email
    mappers: dict[str, str] = field(default_factory=dict)  # key -> the admin who mapped it

    def mapped_by(self, email: str, key: str | None = None) -> str | None:
        """The admin whose mapping decides who this account is, or None when no mapping does."""
        if key and key in self.overrides:
            return self.mappers.get(key)
        return self.mappers.get(f"email:{normalize_email(email)}")

    def email(self, email: str, key: str | None = None) -> str:
        if key and key in self.overrides:
            return normalize_email(self.overrides[key])
        plain = normalize_email(email)
        if f"email:{plain}" in self.overrides:
            return normalize_email(self.overrides[f"email:{plain}"])
        local, _, domain = plain.partition("@")
        return f"{local}@{self.aliases[domain]}" if domain in self.aliases else plain

    def addresses_of(self, email: str) -> list[str]:
        """Every address the mappings turn into `email`: itself, the old addresses of
        `email:OLD` mappings to it, and its name at each domain aliased to its domain; how a
        surface that looks people up by email finds a person it knows by another address."""
        wanted = normalize_email(email)
        local, _, domain = wanted.partition("@")
        found = [wanted]
        found += sorted(
            key.removeprefix("email:")
            for key, target in self.overrides.items()
            if key.startswith("email:") and normalize_email(target) == wanted
        )
        found += [f"{local}@{src}" for src, dst in sorted(self.aliases.items()) if dst == domain]
        return list(dict.fromkeys(normalize_email(address) for address in found))

    def ids_of(self, email: str, surface: str) -> list[str]:
        """The ids on `surface` an admin mapped to `email` (`teams:<aad id>` -> `<aad id>`)."""
        wanted, prefix = normalize_email(email), f"{surface}:"
        return sorted(
            key.removeprefix(prefix)
            for key, target in self.overrides.items()
            if key.startswith(prefix) and normalize_email(target) == wanted
        )

    def actor(self, actor: Actor) -> Actor:
        canonical = self.email(actor.email, actor.user_key)
        if canonical == actor.email:
            return actor
        return Actor(
            canonical, actor.surface, actor.tz, actor.is_admin, actor.user_key, actor.workspace
        )
