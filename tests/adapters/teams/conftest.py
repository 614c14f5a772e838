"""The real bot (``make_bot`` + ``bot/teams_wiring.py``) behind ``POST /api/messages`` over HTTP,
trusting the fake identity provider and answering through the fake connector.

People: alice (on call for Primary SRE, requests), bob (on call for Secondary SRE, approves),
lead (a named approver and the admin). Each has a personal chat with the bot; a channel of one
team is where an admin may send approval cards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.teams.app import build_teams_surface
from bot.http import make_app
from bot.slack_wiring import mount_slack
from bot.teams_wiring import mount_teams
from bot.wiring import Bot
from core.dispatcher import Dispatcher
from core.ports import ProviderAdmin
from tests.adapters.teams_fakes import conftest as teams_fakes
from tests.adapters.teams_fakes.conftest import APP_ID, APP_PASSWORD
from tests.builders import make_bot
from tests.conftest import FakeClock
from tests.fakes.teams import activities
from tests.fakes.teams.activities import DEFAULT_CHANNEL_ID, DEFAULT_TEAM_ID, DEFAULT_TENANT_ID
from tests.fakes.teams.connector import FakeConnector, SentActivity, TeamsMember, card_validator
from tests.fakes.teams.identity import FakeIdentityProvider

TENANT = DEFAULT_TENANT_ID

# The fakes' fixtures, shared: the network guard (autouse), the identity provider, the connector.
no_outside_network = teams_fakes.no_outside_network
identity = teams_fakes.identity
connector = teams_fakes.connector


@dataclass(frozen=True)
class Person:
    member: TeamsMember
    chat: str  # the id of their personal chat with the bot

    @property
    def email(self) -> str:
        return self.member.email or ""

    def envelope(self, service_url: str, **extra: Any) -> dict[str, Any]:
        return {
            "service_url": service_url,
            "user_id": self.member.id,
            "user_name": self.member.name,
            "aad_object_id": self.member.aad_object_id,
            "tenant_id": TENANT,
            "conversation_id": self.chat,
            **extra,
        }


def _member(key: str, name: str, email: str | None, upn: str | None = None) -> TeamsMember:
    return TeamsMember(
        id=f"29:{key}-teams-id",
        name=name,
        aad_object_id=f"00000000-0000-4000-8000-{sum(map(ord, key)):012d}",
        email=email,
        user_principal_name=upn if upn is not None else email,
        tenant_id=TENANT,
    )


def person(key: str, name: str, email: str | None) -> Person:
    """One more Teams account with a personal chat; add ``.member`` to the connector."""
    return Person(_member(key, name, email), f"a:{key}-chat")


ALICE = Person(_member("alice", "Alice Ng", "alice@example.com"), "a:alice-chat")
BOB = Person(_member("bob", "Bob Ray", "Bob@Example.com"), "a:bob-chat")
LEAD = Person(_member("lead", "Lee Lead", "lead@example.com"), "a:lead-chat")
CAROL = Person(_member("carol", "Carol Fox", "carol@example.com"), "a:carol-chat")  # no role
GUEST = Person(_member("guest", "A Guest", None, upn=""), "a:guest-chat")


@dataclass
class TeamsUnderTest:
    client: TestClient  # type: ignore[type-arg]
    bot: Bot
    identity: FakeIdentityProvider
    connector: FakeConnector
    clock: FakeClock

    @property
    def service_url(self) -> str:
        return self.connector.service_url

    async def post(
        self, activity: dict[str, Any], *, authorization: str | None = None
    ) -> tuple[int, Any]:
        """POST ``activity``; without ``authorization`` a valid channel token is attached."""
        if authorization is None:
            token = self.identity.mint_channel_token(APP_ID, activity["serviceUrl"])
            authorization = f"Bearer {token}"
        headers = {"Authorization": authorization} if authorization else {}
        async with self.client.post("/api/messages", json=activity, headers=headers) as response:
            body = await response.json() if response.content_type == "application/json" else None
        for content in _cards_in(body):  # a dialog or a card answered in the invoke response
            assert [e.message for e in card_validator().iter_errors(content)] == [], content
        return response.status, body

    # -- what people do --------------------------------------------------------------------------

    async def install(self, person: Person) -> None:
        status, _ = await self.post(
            activities.installation_update(**person.envelope(self.service_url))
        )
        assert status == 201

    async def say(self, person: Person, text: str) -> None:
        status, _ = await self.post(
            activities.personal_message(text, **person.envelope(self.service_url))
        )
        assert status == 201

    async def mention(self, person: Person, text: str) -> dict[str, Any]:
        activity = activities.channel_mention_message(text, **self._in_channel(person))
        status, _ = await self.post(activity)
        assert status == 201
        return activity

    async def click(
        self,
        person: Person,
        verb: str,
        data: dict[str, Any],
        *,
        card: SentActivity | None = None,
        in_channel: bool = False,
    ) -> dict[str, Any]:
        """``Action.Execute`` on a card; returns the card the invoke response carries."""
        envelope = self._in_channel(person) if in_channel else person.envelope(self.service_url)
        activity = activities.adaptive_card_action(
            verb, data, reply_to_id=card.activity_id if card else None, **envelope
        )
        if in_channel:
            activity["conversation"] = {
                "isGroup": True,
                "conversationType": "channel",
                "tenantId": TENANT,
                "id": card.conversation_id if card else DEFAULT_CHANNEL_ID,
            }
        status, body = await self.post(activity)
        assert status == 200, body
        assert body["statusCode"] == 200
        assert body["type"] == "application/vnd.microsoft.card.adaptive"
        content: dict[str, Any] = body["value"]
        return content

    def _in_channel(self, person: Person) -> dict[str, Any]:
        envelope = person.envelope(self.service_url)
        del envelope["conversation_id"]
        return {**envelope, "team_id": DEFAULT_TEAM_ID, "channel_id": DEFAULT_CHANNEL_ID}

    # -- what people see -------------------------------------------------------------------------

    async def next_in(self, person_or_conversation: Person | str) -> SentActivity:
        conversation = (
            person_or_conversation.chat
            if isinstance(person_or_conversation, Person)
            else person_or_conversation
        )
        return await self.connector.next_activity(conversation)

    async def audit_events(self, request_id: str) -> list[str]:
        records = await self.bot.audit.records()
        return [r.event for r in records if r.request_id == request_id]


def _cards_in(body: Any) -> list[Any]:
    """The Adaptive Cards an invoke response carries: a dialog's, or a card action's."""
    if not isinstance(body, dict):
        return []
    if body.get("type") == "application/vnd.microsoft.card.adaptive":
        return [body.get("value")]
    task = body.get("task")
    if isinstance(task, dict) and isinstance(task.get("value"), dict):
        card = task["value"].get("card")
        if isinstance(card, dict):
            return [card.get("content")]
    return []


def card_of(activity: SentActivity | dict[str, Any]) -> dict[str, Any]:
    attachments = (
        activity.attachments
        if isinstance(activity, SentActivity)
        else activity.get("attachments") or []
    )
    [attachment] = attachments
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content: dict[str, Any] = attachment["content"]
    return content


def card_text(content: dict[str, Any]) -> str:
    """Everything a person reads on a card, one element a line (facts as `title: value`)."""
    lines: list[str] = []

    def walk(element: Any) -> None:
        if isinstance(element, dict):
            if element.get("type") == "TextBlock":
                lines.append(element["text"])
            elif element.get("type") == "RichTextBlock":
                lines.append("".join(run["text"] for run in element["inlines"]))
            elif element.get("type") == "FactSet":
                lines.extend(f"{f['title']}: {f['value']}" for f in element["facts"])
            for key in ("body", "items", "columns"):
                for child in element.get(key) or []:
                    walk(child)

    walk(content)
    return "\n".join(lines)


def buttons(content: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["type"], a.get("verb") or a["title"]) for a in content.get("actions") or []]


@asynccontextmanager
async def running_teams(
    identity: FakeIdentityProvider,
    connector: FakeConnector,
    tmp_path: Path,
    database_url: str,
    clock: FakeClock,
    admin: ProviderAdmin | None = None,
    aliases: str = "",
    policy: str | None = None,
    roster: str | None = None,
    **settings: Any,
) -> AsyncIterator[TeamsUnderTest]:
    """The app as ``serve`` composes it (Slack too, when ``settings`` configure it).

    ``admin`` replaces the provider admin the dialogs use (to connect without a provider);
    ``aliases`` is ONCALL_ACCESS_EMAIL_ALIASES (``corp.example.com=example.com``); ``policy``
    and ``roster`` replace the builders' policy and roster (YAML text).
    """
    # No console surface: every reply a test reads comes through the fake connector.
    given: dict[str, Any] = {"policy": policy} if policy is not None else {}
    if roster is not None:
        given["roster"] = roster
    fields = {
        "microsoft_app_id": APP_ID,
        "microsoft_app_password": APP_PASSWORD,
        "microsoft_app_tenant_id": TENANT,
        "microsoft_openid_metadata_url": identity.openid_metadata_url,
        "microsoft_token_issuer": identity.token_issuer,
        "microsoft_login_url": identity.login_url,
        **settings,
    }
    bot = await make_bot(
        tmp_path, database_url, clock, console=False, aliases=aliases, fields=fields, **given
    )
    if admin is not None:  # the front door reaches this provider admin instead
        assert bot.teams is not None
        bot.dispatcher = Dispatcher(
            bot.service, bot.syncer, connections=admin, identities=bot.identities
        )
        bot.teams = build_teams_surface(bot.teams.outbound, dispatcher=bot.dispatcher)
    for person in (ALICE, BOB, LEAD, CAROL, GUEST):
        connector.add_member(person.member)
    try:
        app = make_app(bot)
        mount_slack(bot, app)
        mount_teams(app, bot)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield TeamsUnderTest(client, bot, identity, connector, clock)
    finally:
        await bot.close()


@pytest.fixture
async def teams(
    identity: FakeIdentityProvider,
    connector: FakeConnector,
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
) -> AsyncIterator[TeamsUnderTest]:
    async with running_teams(identity, connector, tmp_path, sqlite_url, clock) as under_test:
        yield under_test
