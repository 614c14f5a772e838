"""The Slack app manifest, built from the names the code handles (command, events, scopes,
route), so what Slack is told to send is exactly what the bot answers.

`manifest/slack/manifest.yaml` is this function's output with a placeholder URL; a test keeps
the two identical, and `oncall-access manifest slack --base-url URL` renders the real one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from adapters.slack import constants as k

PLACEHOLDER_URL = "https://oncall-access.example.com"

LONG_DESCRIPTION = (
    "Ask for production access with /access request RESOURCE DURATION REASON. The bot checks "
    "who holds the pager right now in PagerDuty, Opsgenie or Jira Service Management, asks the "
    "on-call approvers with Approve / Deny buttons (or approves at once where your policy lets "
    "on-call people self-serve), grants the access for a bounded time, takes it back when the "
    "time is up, and records every step in a hash-chained audit trail."
)


def request_url(base_url: str) -> str:
    """`BASE/slack/events`; raises ValueError for anything but an http(s) URL with a host."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{base_url!r} is not a URL like https://access.example.com")
    return base_url.strip().rstrip("/") + k.EVENTS_PATH


def slack_manifest(
    base_url: str | None = PLACEHOLDER_URL, *, socket_mode: bool = False
) -> dict[str, Any]:
    """The manifest for HTTP (every request URL is `BASE/slack/events`) or for Socket Mode
    (no URLs: events arrive over the bot's own WebSocket)."""
    url = None if socket_mode else request_url(base_url or PLACEHOLDER_URL)
    command: dict[str, Any] = {
        "command": k.COMMAND,
        "description": "Request on-call-aware access; approve, list, give back",
        "usage_hint": 'request prod-db 2h "INC-4411 failover" | list | mine | help',
        "should_escape": False,
    }
    events: dict[str, Any] = {"bot_events": list(k.EVENTS)}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if url:
        command["url"] = url
        events = {"request_url": url, **events}
        interactivity["request_url"] = url
        # The request form's resource menu past 100 resources loads its options from here.
        interactivity["message_menu_options_url"] = url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": "On-call Access",
            "description": "Just-in-time access for whoever holds the pager.",
            "long_description": LONG_DESCRIPTION,
            "background_color": "#1d3557",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": True,
            },
            "bot_user": {"display_name": "oncall-access", "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": list(k.BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }
