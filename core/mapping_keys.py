"""The keys of an admin's identity mappings (`identity map KEY EMAIL`), normalised and checked,
so a mapping matches the id the surface or provider really reports, or is refused in one
sentence naming what is wrong; a key that can never match would be a silent no-op.
"""

from __future__ import annotations

import re

from core.errors import DomainError
from core.identity import is_email, normalize_email

PREFIXES = ("slack", "teams", "email", "pagerduty", "opsgenie", "jsm", "github")

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")  # Slack's own schema (defs_user_id)
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_GITHUB_LOGIN = re.compile(r"^(?=.{1,39}$)[A-Za-z0-9](?:-?[A-Za-z0-9])*$")
_PROVIDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_.-]*$")


def mapping_key(text: str) -> str:
    """`slack:U…`, `teams:<Entra object id>`, `email:ADDRESS`, `pagerduty:ID`, `opsgenie:ID`,
    `jsm:ACCOUNT_ID` or `github:LOGIN`, in the form the surface or provider reports it."""
    raw = text.strip()
    prefix, sep, value = raw.partition(":")
    prefix, value = prefix.strip().lower(), value.strip()
    if not sep or prefix not in PREFIXES:
        raise DomainError(
            f"`{raw[:80]}` is not a mapping key: write one of "
            + ", ".join(f"`{p}:…`" for p in PREFIXES)
            + "."
        )
    if not value:
        raise DomainError(f"`{raw[:80]}` names no id after `{prefix}:`.")
    if prefix == "slack":
        user = value.removeprefix("<@").removesuffix(">").split("|")[0].upper()
        if not _SLACK_USER.match(user):
            raise DomainError(
                f"`{value[:80]}` is not a Slack user id: they look like U012AB3CD or W012AB3CD "
                "(the member id in the person's Slack profile)."
            )
        return f"slack:{user}"
    if prefix == "teams":
        guid = value.lower()
        if not _GUID.match(guid):
            raise DomainError(
                f"`{value[:80]}` is not a Microsoft Entra object id: they look like "
                "00000000-0000-0000-0000-000000000000."
            )
        return f"teams:{guid}"
    if prefix == "email":
        if not is_email(value):
            raise DomainError(f"`{value[:80]}` is not an email address.")
        return f"email:{normalize_email(value)}"
    if prefix == "github":
        if not _GITHUB_LOGIN.match(value):
            raise DomainError(
                f"`{value[:80]}` is not a GitHub login: up to 39 letters, digits and single "
                "hyphens, not starting or ending with one."
            )
        return f"github:{value.lower()}"  # GitHub logins are case-insensitive
    if len(value) > 128 or not _PROVIDER_ID.match(value):
        raise DomainError(f"`{value[:80]}` is not a {prefix} user id.")
    # PagerDuty ids are upper case (PABC123), Opsgenie's are lower-case UUIDs; JSM account ids
    # are kept as typed.
    if prefix == "pagerduty":
        value = value.upper()
    elif prefix == "opsgenie":
        value = value.lower()
    return f"{prefix}:{value}"
