"""Default identities shared by the payload builders and the fake Web API.

One workspace, one app, one bot: inbound payloads built with the defaults belong to the same
workspace the fake answers for, so a test only names what it varies.
"""

from __future__ import annotations

from typing import Final

SIGNING_SECRET: Final = "8f742231b10e8888abcd99yyyzzz85a5"
"""Signing secret of Slack's documented example; any string works, this one is recognisable."""

BOT_TOKEN: Final = "xoxb-1111-2222-fake-bot-token"
VERIFICATION_TOKEN: Final = "verification_token"
"""The deprecated per-app token Slack still puts in payloads; nothing should rely on it."""

TEAM_ID: Final = "T0FAKE0001"
TEAM_DOMAIN: Final = "oncall-fake"
TEAM_NAME: Final = "On-call Fake Workspace"
APP_ID: Final = "A0FAKE0001"
BOT_ID: Final = "B0FAKE0001"
BOT_USER_ID: Final = "U0FAKEBOT1"
BOT_USER_NAME: Final = "oncall-access"

USER_ID: Final = "U0FAKEUSR1"
USER_NAME: Final = "requester"
CHANNEL_ID: Final = "C0FAKECHN1"
CHANNEL_NAME: Final = "ops"

DEFAULT_SCOPES: Final = ("commands", "chat:write", "users:read", "users:read.email", "im:write")
"""The bot scopes this product asks for (manifest `oauth_config.scopes.bot`)."""

UNROUTABLE_RESPONSE_URL: Final = "http://127.0.0.1:9/response_url/unset"
"""Default `response_url` of built payloads: loopback discard port, so a test that forgets to
pass `fake.response_url(...)` fails fast with a connection error instead of reaching Slack."""
