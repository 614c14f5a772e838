"""Names shared by the code, the Block Kit it sends and the app manifest, so they cannot drift:
a test checks the manifest's command and event subscriptions against these."""

from __future__ import annotations

from typing import Final

SURFACE: Final = "slack"
COMMAND: Final = "/access"
EVENTS_PATH: Final = "/slack/events"
"""One Request URL for slash commands, interactivity and events."""

EVENTS: Final = ("app_home_opened",)
"""Bot events the app subscribes to and handles."""

BOT_SCOPES: Final = ("commands", "chat:write", "im:write", "users:read", "users:read.email")

# Button action ids (block_actions).
APPROVE: Final = "access.approve"
DENY: Final = "access.deny"
GIVE_BACK: Final = "access.give_back"
WITHDRAW: Final = "access.withdraw"
OPEN_REQUEST_FORM: Final = "access.open_request"
DISCONNECT: Final = "access.disconnect"
OPEN_LINK: Final = "access.open_link"
"""A link button (the PagerDuty sign-in): Slack opens the URL and still tells the app."""
CONNECT_PROVIDER: Final = "access.connect_provider"
"""The connect form's provider menu: choosing one redraws the modal with that provider's fields."""
ACTIONS: Final = (
    APPROVE, DENY, GIVE_BACK, WITHDRAW, OPEN_REQUEST_FORM, DISCONNECT, OPEN_LINK, CONNECT_PROVIDER
)  # fmt: skip

RESOURCE_MENU: Final = "access.resource"
"""action_id of the request form's resource menu when its options load from the app (more
resources than a static menu's 100): block_suggestion requests carry it."""

# Modal callback ids (view_submission).
REQUEST_FORM: Final = "access.request_form"
DENY_FORM: Final = "access.deny_form"
CONNECT_FORM: Final = "access.connect_form"
LOADING: Final = "access.loading"
NOTICE: Final = "access.notice"
VIEWS: Final = (REQUEST_FORM, DENY_FORM, CONNECT_FORM)

DECISION_BLOCK: Final = "decision"
"""block_id of the Approve / Deny buttons on an approval message."""
