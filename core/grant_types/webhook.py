"""`webhook`: a signed event to the team's own automation."""

from __future__ import annotations

from ipaddress import ip_address
from urllib.parse import urlsplit

from core.grant_types import GrantType, Options
from core.yamlread import shorten

OWN_SETTINGS = ("ONCALL_ACCESS_", "SLACK_", "MICROSOFT_", "PAGERDUTY_WEBHOOK_SECRET")
"""Prefixes of the bot's own secrets and settings: a webhook signed with one of them would hand
it to whoever runs the receiver."""


def url_ok(url: str) -> bool:
    """https to a host; plain http only to loopback, where nothing on the way can read it."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme == "https":
        return bool(host)
    if parts.scheme != "http":
        return False
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def problems(options: Options) -> list[str]:
    found = []
    if not url_ok(str(options.get("url", ""))):
        found.append("a webhook grant needs `url: https://...` (plain http only to this machine)")
    secret_env = str(options.get("secret_env") or "")
    if secret_env.upper().startswith(OWN_SETTINGS):
        found.append(
            f"secret_env {shorten(secret_env)} is one of the bot's own settings; "
            "give the webhook a variable of its own"
        )
    if not secret_env:
        found.append(
            "a webhook grant needs `secret_env: NAME` (the variable holding the signing secret)"
        )
    return found


def target(options: Options) -> str:
    return f"webhook {shorten(str(options.get('url', '')))}"


GRANT_TYPE = GrantType("webhook", problems, target)
