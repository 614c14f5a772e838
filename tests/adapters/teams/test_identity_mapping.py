"""Teams accounts whose email is not the roster's: a domain alias (ONCALL_ACCESS_EMAIL_ALIASES)
or an admin's `identity map teams:<Entra object id> EMAIL` makes them the roster's person on
every Teams path (typed message, Action.Execute buttons, the request dialog) and for the cards
sent to them later, with the decision the console and Slack give the same person."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.requests import Status
from tests.adapters.teams.conftest import (
    ALICE,
    LEAD,
    Person,
    TeamsUnderTest,
    buttons,
    card_of,
    card_text,
    person,
    running_teams,
)
from tests.conftest import FakeClock
from tests.fakes.teams import activities
from tests.fakes.teams.connector import FakeConnector, SentActivity
from tests.fakes.teams.identity import FakeIdentityProvider

OWN_REQUEST = "You cannot decide your own request; `cancel ID` withdraws it."

BOB_CORP = person("bobcorp", "Bob Ray", "bob@corp.example.com")  # an alias of bob@example.com
ROBERT = person("robert", "Robert Ray", "robert@contractor.example")  # bob, once mapped
ANG = person("ang", "Alice Ng", "ang@contoso.example")  # alice's other account, once mapped


@pytest.fixture
async def teams(
    identity: FakeIdentityProvider,
    connector: FakeConnector,
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
) -> AsyncIterator[TeamsUnderTest]:
    """corp.example.com is an alias of example.com."""
    async with running_teams(
        identity, connector, tmp_path, sqlite_url, clock, aliases="corp.example.com=example.com"
    ) as under_test:
        for account in (BOB_CORP, ROBERT, ANG):
            connector.add_member(account.member)
        yield under_test


async def _map(teams: TeamsUnderTest, account: Person, email: str) -> None:
    """lead, an admin, maps `account` in his personal chat with the bot."""
    key = f"teams:{account.member.aad_object_id}"
    await teams.say(LEAD, f"identity map {key} {email}")
    assert (await _text_in(teams, LEAD)) == f"Mapped {key} to {email}."


async def _text_in(teams: TeamsUnderTest, account: Person) -> str:
    """The next plain text message in the account's personal chat."""
    while True:
        sent = await teams.next_in(account)
        if not sent.attachments:
            return sent.text or ""


async def _card_in(teams: TeamsUnderTest, account: Person) -> SentActivity:
    while True:
        sent = await teams.next_in(account)
        if sent.attachments:
            return sent


async def _requested(teams: TeamsUnderTest) -> str:
    """alice types a request for prod-db in her personal chat; its id."""
    await teams.say(ALICE, 'request prod-db 1h "INC-1"')
    [request] = await teams.bot.requests.by_requester(ALICE.email)
    return request.id


async def _actors(teams: TeamsUnderTest, request_id: str, event: str) -> list[str]:
    records = await teams.bot.audit.records()
    return [r.actor for r in records if r.request_id == request_id and r.event == event]


async def test_aliased_approver_gets_the_card_and_his_approve_click_counts(
    teams: TeamsUnderTest,
) -> None:
    await teams.install(BOB_CORP)
    request_id = await _requested(teams)
    sent = await _card_in(teams, BOB_CORP)
    assert f"Access request {request_id}" in card_text(card_of(sent))

    card = await teams.click(BOB_CORP, "approve", {"request_id": request_id}, card=sent)

    assert "Approved by bob@example.com" in card_text(card)
    assert buttons(card) == []
    assert (await teams.bot.service.get(request_id)).status == Status.ACTIVE
    assert await _actors(teams, request_id, "request.approved") == ["bob@example.com"]


async def test_approver_mapped_after_installing_gets_the_next_card_and_may_approve(
    teams: TeamsUnderTest,
) -> None:
    await teams.install(ROBERT)  # known only as robert@contractor.example so far
    await _map(teams, ROBERT, "bob@example.com")

    request_id = await _requested(teams)
    sent = await _card_in(teams, ROBERT)
    card = await teams.click(ROBERT, "approve", {"request_id": request_id}, card=sent)

    assert "Approved by bob@example.com" in card_text(card)
    assert await _actors(teams, request_id, "request.approved") == ["bob@example.com"]


async def test_requester_cannot_decide_her_dialog_request_under_her_other_address(
    teams: TeamsUnderTest,
) -> None:
    await _map(teams, ANG, "alice@example.com")
    status, body = await teams.post(
        activities.task_submit(
            {"form": "request", "resource": "prod-db", "duration": "1h", "reason": "INC-1"},
            **ANG.envelope(teams.service_url),
        )
    )
    assert status == 200, body
    [request] = await teams.bot.requests.by_requester("alice@example.com")
    assert body["task"] == {
        "type": "message",
        "value": f"Request {request.id} for prod-db (1h) is waiting for approval.",
    }
    data = {"request_id": request.id}

    approved = await teams.click(ALICE, "approve", data)
    await teams.say(ALICE, f"approve {request.id}")
    typed = await _text_in(teams, ALICE)
    denied = await teams.click(ANG, "deny", {**data, "reason": "mine"})

    assert card_text(approved).startswith(OWN_REQUEST)
    assert typed == OWN_REQUEST
    assert card_text(denied).startswith(OWN_REQUEST)
    assert (await teams.bot.service.get(request.id)).status == Status.PENDING
    assert await teams.audit_events(request.id) == ["request.created"]
    assert teams.connector.updates == []
