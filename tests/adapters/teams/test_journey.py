"""A request's whole way through Teams, over HTTP: typed by the requester, a card to the on-call
approver's personal chat, Approve pressed there, every copy refreshed, the requester told, and
the audit trail written."""

from __future__ import annotations

from core.requests import Status
from tests.adapters.teams.conftest import (
    ALICE,
    BOB,
    LEAD,
    TeamsUnderTest,
    buttons,
    card_of,
    card_text,
)


async def _request_id(teams: TeamsUnderTest) -> str:
    [request] = await teams.bot.requests.by_requester(ALICE.email)
    return request.id


async def test_request_is_approved_from_the_on_call_approvers_card(teams: TeamsUnderTest) -> None:
    await teams.install(BOB)
    welcome = await teams.next_in(BOB)
    assert "help" in (welcome.text or "")

    await teams.say(ALICE, 'request prod-db 2h "INC-4411 failover"')

    rid = await _request_id(teams)
    to_alice = [await teams.next_in(ALICE), await teams.next_in(ALICE)]
    texts = [a.text or card_text(card_of(a)) for a in to_alice]
    assert any(f"Request {rid} for prod-db (2h) is waiting for approval." in t for t in texts)
    # lead@example.com may approve too but never installed the app: alice learns that.
    assert any(f"{LEAD.email} was not reached in any chat app" in t and rid in t for t in texts)

    sent = await teams.next_in(BOB)
    card = card_of(sent)
    assert card["version"] == "1.5"
    shown = card_text(card)
    for expected in (
        f"Access request {rid}",
        "Requester: alice@example.com",
        "Resource: prod-db",
        "Duration: 2h",
        "Reason: INC-4411 failover",
        "On-call evidence: on call for Primary SRE (roster file) until 19:00 UTC",
        "Waiting for approval.",
    ):
        assert expected in shown
    assert buttons(card) == [("Action.Execute", "approve"), ("Action.Execute", "deny")]
    assert [a["fallback"]["type"] for a in card["actions"]] == ["Action.Submit"] * 2
    assert card["refresh"]["userIds"] == [BOB.member.id]

    refreshed = await teams.click(BOB, "approve", {"request_id": rid}, card=sent)

    assert "Approved by bob@example.com: access granted until" in card_text(refreshed)
    assert buttons(refreshed) == []
    update = await teams.connector.next_update(BOB.chat)
    assert update.activity_id == sent.activity_id
    assert card_text(card_of(update.activity)) == card_text(refreshed)
    told = await teams.next_in(ALICE)
    assert told.text == (
        f"Your request {rid} for prod-db was approved by bob@example.com; access for 2h."
    )
    request = await teams.bot.service.get(rid)
    assert request.status == Status.ACTIVE
    assert await teams.audit_events(rid) == [
        "request.created",
        "request.approved",
        "access.granted",
    ]
