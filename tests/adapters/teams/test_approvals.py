"""Approval cards: who may press what (the core decides), stale cards, every copy updated, the
``Action.Submit`` fallback, the approvals channel, and the notices that follow a decision."""

from __future__ import annotations

from datetime import timedelta

from core.identity import Actor
from core.lifecycle import Lifecycle
from core.requests import Status
from tests.adapters.teams.conftest import (
    ALICE,
    BOB,
    CAROL,
    LEAD,
    TeamsUnderTest,
    buttons,
    card_of,
    card_text,
)
from tests.fakes.teams import activities
from tests.fakes.teams.activities import DEFAULT_CHANNEL_ID
from tests.fakes.teams.connector import SentActivity


async def _requested(teams: TeamsUnderTest) -> str:
    """alice asks for prod-db in her personal chat; returns the request id."""
    await teams.say(ALICE, 'request prod-db 2h "INC-4411 failover"')
    [request] = await teams.bot.requests.by_requester(ALICE.email)
    return request.id


async def _card_to(teams: TeamsUnderTest, conversation: str) -> SentActivity:
    while True:
        sent = await teams.next_in(conversation)
        if sent.attachments:
            return sent


async def test_requesters_own_approval_is_refused_and_nothing_changes(
    teams: TeamsUnderTest,
) -> None:
    await teams.install(BOB)
    rid = await _requested(teams)
    sent = await _card_to(teams, BOB.chat)

    card = await teams.click(ALICE, "approve", {"request_id": rid})

    shown = card_text(card)
    assert shown.startswith("You cannot decide your own request; `cancel ID` withdraws it.")
    assert card["body"][0]["inlines"][0]["color"] == "attention"
    assert "Waiting for approval." in shown
    assert buttons(card) == [("Action.Execute", "approve"), ("Action.Execute", "deny")]
    assert (await teams.bot.service.get(rid)).status == Status.PENDING
    assert await teams.audit_events(rid) == ["request.created"]
    assert teams.connector.updates == []
    assert sent.activity_id  # bob's card is untouched and still live


async def test_someone_who_may_not_approve_is_told_why(teams: TeamsUnderTest) -> None:
    rid = await _requested(teams)

    card = await teams.click(CAROL, "approve", {"request_id": rid})

    assert card_text(card).startswith("You may not approve this: you are not on call for")
    assert (await teams.bot.service.get(rid)).status == Status.PENDING


async def test_stale_card_answers_with_the_current_state(teams: TeamsUnderTest) -> None:
    await teams.install(BOB)
    await teams.install(LEAD)
    rid = await _requested(teams)
    bob_card = await _card_to(teams, BOB.chat)
    lead_card = await _card_to(teams, LEAD.chat)
    await teams.click(BOB, "approve", {"request_id": rid}, card=bob_card)
    events = await teams.audit_events(rid)

    card = await teams.click(
        LEAD, "deny", {"request_id": rid, "reason": "too late"}, card=lead_card
    )

    shown = card_text(card)
    assert shown.startswith(f"Request {rid} is already approved by bob@example.com and active.")
    assert "Approved by bob@example.com: access granted until" in shown
    assert buttons(card) == []
    assert await teams.audit_events(rid) == events
    assert (await teams.bot.service.get(rid)).status == Status.ACTIVE


async def test_refresh_shows_the_current_state_to_whoever_opens_the_card(
    teams: TeamsUnderTest,
) -> None:
    await teams.install(BOB)
    rid = await _requested(teams)
    await teams.bot.service.deny(Actor(LEAD.email), rid, "freeze")

    card = await teams.click(BOB, "refresh", {"request_id": rid})

    assert "Denied by lead@example.com: freeze" in card_text(card)
    assert buttons(card) == []


async def test_deny_with_a_reason_updates_every_copy_and_tells_the_requester(
    teams: TeamsUnderTest,
) -> None:
    await teams.install(BOB)
    await teams.install(LEAD)
    await teams.mention(LEAD, "approvals here")
    rid = await _requested(teams)
    bob_card = await _card_to(teams, BOB.chat)
    lead_card = await _card_to(teams, LEAD.chat)
    channel_card = await _card_to(teams, DEFAULT_CHANNEL_ID)

    card = await teams.click(
        BOB, "deny", {"request_id": rid, "reason": "not during the freeze"}, card=bob_card
    )

    assert "Denied by bob@example.com: not during the freeze" in card_text(card)
    updated = {
        (u.conversation_id, u.activity_id)
        for u in [await teams.connector.next_update() for _ in range(3)]
    }
    assert updated == {
        (c.conversation_id, c.activity_id) for c in (bob_card, lead_card, channel_card)
    }
    told = await teams.next_in(ALICE)
    while told.attachments or "denied" not in (told.text or ""):
        told = await teams.next_in(ALICE)
    assert told.text == (
        f"Your request {rid} for prod-db was denied by bob@example.com: not during the freeze"
    )
    assert await teams.audit_events(rid) == ["request.created", "request.denied"]


async def test_submit_fallback_decides_and_shows_the_outcome_on_the_clicked_card(
    teams: TeamsUnderTest,
) -> None:
    await teams.install(BOB)
    rid = await _requested(teams)
    sent = await _card_to(teams, BOB.chat)

    activity = activities.card_submit(
        {"verb": "approve", "request_id": rid, "reason": ""},
        reply_to_id=sent.activity_id,
        **BOB.envelope(teams.service_url),
    )
    status, _ = await teams.post(activity)

    assert status == 201
    assert (await teams.bot.service.get(rid)).status == Status.ACTIVE
    update = await teams.connector.next_update(BOB.chat)
    assert update.activity_id == sent.activity_id
    assert "Approved by bob@example.com" in card_text(card_of(update.activity))


async def test_approvals_channel_is_chosen_by_an_admin_typing_in_it(
    teams: TeamsUnderTest,
) -> None:
    mention = await teams.mention(BOB, "access approvals here")
    refusal = await teams.next_in(mention["conversation"]["id"])
    assert refusal.text == "Only admins can choose the approvals channel (ONCALL_ACCESS_ADMINS)."

    mention = await teams.mention(LEAD, "access approvals here")
    done = await teams.next_in(mention["conversation"]["id"])
    assert done.text == "Done: approval cards and admin alerts will be posted in this channel."

    rid = await _requested(teams)
    posted = await _card_to(teams, DEFAULT_CHANNEL_ID)
    assert posted.reply_to_id is None  # a new post, not a reply in the thread above
    assert f"Access request {rid}" in card_text(card_of(posted))

    card = await teams.click(BOB, "approve", {"request_id": rid}, card=posted, in_channel=True)

    assert "Approved by bob@example.com" in card_text(card)
    update = await teams.connector.next_update(DEFAULT_CHANNEL_ID)
    assert update.activity_id == posted.activity_id


async def test_approvals_here_outside_a_channel_says_where_to_type_it(
    teams: TeamsUnderTest,
) -> None:
    await teams.say(LEAD, "approvals here")

    reply = await teams.next_in(LEAD)
    assert "Type this in the team channel" in (reply.text or "")


async def test_nobody_with_the_app_means_the_requester_learns_who_was_not_asked(
    teams: TeamsUnderTest,
) -> None:
    rid = await _requested(teams)

    texts = [(await teams.next_in(ALICE)) for _ in range(2)]
    [notice] = [t.text for t in texts if t.text and "not reached" in t.text]
    assert notice == (
        "bob@example.com, lead@example.com were not reached in any chat app (not installed, or "
        f"not found by email), so they did not get the approval message for {rid}."
    )


async def test_expiry_updates_the_card_and_tells_the_requester(teams: TeamsUnderTest) -> None:
    await teams.install(BOB)
    rid = await _requested(teams)
    sent = await _card_to(teams, BOB.chat)
    await teams.click(BOB, "approve", {"request_id": rid}, card=sent)
    await teams.connector.next_update(BOB.chat)

    teams.clock.advance(timedelta(hours=2, minutes=1))
    assert await Lifecycle(teams.bot.service).expire_due_grants() == 1

    update = await teams.connector.next_update(BOB.chat)
    assert "the access has expired" in card_text(card_of(update.activity))
    told = [a.text for a in teams.connector.activities if a.conversation_id == ALICE.chat]
    assert f"Your access to prod-db ({rid}) has expired." in told


async def test_admin_alerts_go_to_the_approvals_channel_else_to_admins(
    teams: TeamsUnderTest,
) -> None:
    await teams.install(LEAD)
    await teams.next_in(LEAD)  # welcome

    await teams.bot.notifier.alert_admins("PagerDuty sync failed 3 times in a row.")
    assert (await teams.next_in(LEAD)).text == "PagerDuty sync failed 3 times in a row."

    mention = await teams.mention(LEAD, "approvals here")
    await teams.next_in(mention["conversation"]["id"])
    await teams.bot.notifier.alert_admins("Opsgenie sync failed.")
    posted = await teams.next_in(DEFAULT_CHANNEL_ID)
    assert posted.text == "Opsgenie sync failed."


async def test_approval_after_the_requesters_shift_ended_is_refused_and_the_requester_told(
    teams: TeamsUnderTest,
) -> None:
    await teams.install(ALICE)
    rid = await _requested(teams)
    teams.clock.advance(timedelta(hours=8))  # alice's shift ended; the next sync saw it
    assert (await teams.bot.syncer.sync(teams.bot.providers[0])).ok

    card = await teams.click(LEAD, "approve", {"request_id": rid})

    assert card_text(card).startswith("alice@example.com may no longer have prod-db")
    assert "ended at" in card_text(card)
    assert (await teams.bot.service.get(rid)).status == Status.DENIED
    while True:
        told = await teams.next_in(ALICE.chat)
        if "can no longer be approved" in (told.text or ""):
            break


async def test_auto_approvals_are_announced_in_the_approvals_channel(
    teams: TeamsUnderTest,
) -> None:
    mention = await teams.mention(LEAD, "approvals here")
    await teams.next_in(mention["conversation"]["id"])

    await teams.say(ALICE, "request grafana-admin 30m")
    assert "approved automatically" in ((await teams.next_in(ALICE)).text or "")
    line = await teams.next_in(DEFAULT_CHANNEL_ID)
    assert (line.text or "").startswith(
        "auto-approved: alice@example.com has grafana-admin for 30m"
    )
