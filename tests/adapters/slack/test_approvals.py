"""The approval journey in Slack: `/access request` → DMs with Approve / Deny to the approvers →
a click decides → every copy is updated, the requester told, the audit trail written."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from adapters.slack.constants import APPROVE, DENY
from tests.adapters.slack.rig import (
    ALICE,
    BOB,
    LEAD,
    SlackRig,
    live_buttons,
    start_rig,
    text_of,
)
from tests.conftest import FakeClock
from tests.fakes.slack import FakeSlackApi, payloads

CHANNEL = "CAPPROVALS"


async def _request_prod_db(rig: SlackRig) -> str:
    """alice asks for prod-db; returns the request id once both approvers have their DM."""
    reply = await rig.command("request prod-db 1h INC-1")
    assert reply.status == 200
    answer = await rig.answer()
    assert "is waiting for approval" in answer, answer
    request_id = answer.split()[1]
    await rig.fake.wait_until(lambda: len(rig.approval_messages()) >= 2, what="approval DMs")
    return request_id


async def test_request_approve_journey_updates_every_copy_and_audits(rig: SlackRig) -> None:
    request_id = await _request_prod_db(rig)

    bob_dm, lead_dm = rig.dm(BOB), rig.dm(LEAD)
    assert len(bob_dm) == 1 and len(lead_dm) == 1
    card = bob_dm[0]
    assert live_buttons(card) == [APPROVE, DENY]
    assert [
        e["value"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]
    ] == [
        request_id,
        request_id,
    ]
    shown = text_of(card)
    for expected in ("alice@example.com", "prod-db", "1h", "INC-1"):
        assert expected in shown
    # bob reads New York time: the shift ends 19:00 UTC.
    assert "on call for Primary SRE (roster file) until 14:00 EST" in shown
    assert "until 19:00 UTC" in text_of(lead_dm[0])  # lead's Slack zone is UTC

    bob_key = next(key for key, msg in rig.fake.messages.items() if msg is card)
    reply = await rig.click(APPROVE, request_id, user=BOB, message_key=bob_key)
    assert reply.status == 200

    await rig.fake.wait_until(
        lambda: len(rig.fake.calls("chat.update")) >= 2, what="both copies updated"
    )
    for key, message in rig.approval_messages().items():
        assert live_buttons(message) == [], key
        assert "Approved by bob@example.com" in text_of(message)
    alice_channel = rig.fake.dm_channel_id(ALICE)
    await rig.fake.wait_until(
        lambda: any("approved by bob@example.com" in m["text"] for m in rig.dm(ALICE)),
        what="alice told",
    )
    assert any(c.params["channel"] == alice_channel for c in rig.fake.calls("chat.postMessage"))
    assert f"Approved {request_id}" in await rig.answer("click")

    events = [r.event for r in await rig.bot.audit.records() if r.request_id == request_id]
    assert events[:3] == ["request.created", "request.approved", "access.granted"]


async def test_requester_clicking_approve_on_own_request_is_refused(
    fake_slack: FakeSlackApi, tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    fake_slack.add_user(ALICE, "alice@example.com", name="alice")
    fake_slack.add_user(BOB, "bob@example.com", name="bob")
    fake_slack.add_user(LEAD, "lead@example.com", name="lead")
    async with start_rig(
        fake_slack,
        tmp_path,
        sqlite_url,
        clock,
        configure=lambda c: replace(c, approvals_channel=CHANNEL),
    ) as rig:
        request_id = await _request_prod_db(rig)
        await rig.fake.wait_until(lambda: len(rig.approval_messages()) >= 3, what="channel copy")
        channel_key = next(key for key in rig.approval_messages() if key[0] == CHANNEL)
        assert "until 19:00 UTC" in text_of(rig.fake.messages[channel_key])
        before = {key: text_of(m) for key, m in rig.fake.messages.items()}

        reply = await rig.click(APPROVE, request_id, user=ALICE, message_key=channel_key)

        assert reply.status == 200
        answer = await rig.fake.next_call("response_url:click")
        assert (
            answer.params["text"] == "You cannot decide your own request; `cancel ID` withdraws it."
        )
        assert answer.params["response_type"] == "ephemeral"
        assert rig.fake.ephemerals[-1]["user"] == ALICE
        assert rig.fake.calls("chat.update") == []
        assert {key: text_of(m) for key, m in rig.fake.messages.items()} == before
        assert live_buttons(rig.fake.messages[channel_key]) == [APPROVE, DENY]
        request = await rig.bot.service.get(request_id)
        assert request.status == "pending"


async def test_second_approve_click_answers_with_the_state(rig: SlackRig) -> None:
    request_id = await _request_prod_db(rig)
    (bob_key,) = [k for k in rig.approval_messages() if k[0] == rig.fake.dm_channel_id(BOB)]
    (lead_key,) = [k for k in rig.approval_messages() if k[0] == rig.fake.dm_channel_id(LEAD)]
    await rig.click(APPROVE, request_id, user=BOB, message_key=bob_key, name="first")
    assert f"Approved {request_id}" in await rig.answer("first")
    updates = len(rig.fake.calls("chat.update"))

    await rig.click(APPROVE, request_id, user=LEAD, message_key=lead_key, name="second")

    assert await rig.answer("second") == (
        f"Request {request_id} is already approved by bob@example.com and active."
    )
    assert len(rig.fake.calls("chat.update")) == updates
    approvals = [r for r in await rig.bot.audit.records() if r.event == "request.approved"]
    assert len(approvals) == 1


async def test_deny_asks_a_reason_in_a_modal_and_tells_the_requester(rig: SlackRig) -> None:
    request_id = await _request_prod_db(rig)
    (bob_key,) = [k for k in rig.approval_messages() if k[0] == rig.fake.dm_channel_id(BOB)]

    await rig.click(DENY, request_id, user=BOB, message_key=bob_key, name="deny")
    opened = await rig.fake.next_call("views.open")
    view = rig.fake.views[opened.response["view"]["id"]]
    assert view["callback_id"] == "access.deny_form"
    assert request_id in text_of(view)
    assert rig.fake.calls("chat.update") == []  # nothing decided by opening the form

    submitted = await rig.send(
        payloads.view_submission(
            {"reason": {"value": payloads.plain_text_input("Use the read replica")}},
            view=view,
            user_id=BOB,
        )
    )

    assert submitted.status == 200
    assert submitted.text == ""  # the modal closes
    await rig.fake.wait_until(lambda: len(rig.fake.calls("chat.update")) >= 2, what="updates")
    for message in rig.approval_messages().values():
        assert live_buttons(message) == []
        assert "Denied by bob@example.com: Use the read replica" in text_of(message)
    await rig.fake.wait_until(
        lambda: any(
            "was denied by bob@example.com: Use the read replica" in m["text"]
            for m in rig.dm(ALICE)
        ),
        what="alice told",
    )
    assert f"Denied {request_id}" in await rig.answer("deny")
    request = await rig.bot.service.get(request_id)
    assert (request.status, request.decision_note) == ("denied", "Use the read replica")


async def test_deny_click_on_a_decided_request_answers_with_its_state(rig: SlackRig) -> None:
    request_id = await _request_prod_db(rig)
    (bob_key,) = [k for k in rig.approval_messages() if k[0] == rig.fake.dm_channel_id(BOB)]
    (lead_key,) = [k for k in rig.approval_messages() if k[0] == rig.fake.dm_channel_id(LEAD)]
    await rig.click(APPROVE, request_id, user=BOB, message_key=bob_key, name="first")
    await rig.answer("first")

    await rig.click(DENY, request_id, user=LEAD, message_key=lead_key, name="late")

    assert "Approved by bob@example.com" in await rig.answer("late")
    assert rig.fake.calls("views.open") == []


async def test_deny_submitted_by_someone_who_may_not_decide_shows_inline(
    rig: SlackRig,
) -> None:
    request_id = await _request_prod_db(rig)
    (bob_key,) = [k for k in rig.approval_messages() if k[0] == rig.fake.dm_channel_id(BOB)]
    await rig.click(DENY, request_id, user=BOB, message_key=bob_key, name="deny")
    opened = await rig.fake.next_call("views.open")
    view = rig.fake.views[opened.response["view"]["id"]]

    submitted = await rig.send(
        payloads.view_submission(
            {"reason": {"value": payloads.plain_text_input("mine")}}, view=view, user_id=ALICE
        )
    )

    assert submitted.json() == {
        "response_action": "errors",
        "errors": {"reason": "You cannot decide your own request; `cancel ID` withdraws it."},
    }
    assert (await rig.bot.service.get(request_id)).status == "pending"


async def test_approve_click_after_the_requesters_shift_ended_is_refused_and_both_are_told(
    rig: SlackRig, clock: FakeClock
) -> None:
    request_id = await _request_prod_db(rig)
    clock.advance(timedelta(hours=8))  # alice's shift ended; the half-hourly sync saw it
    assert (await rig.bot.syncer.sync(rig.bot.providers[0])).ok
    lead_channel = rig.fake.dm_channel_id(LEAD)
    lead_key = next(key for key in rig.approval_messages() if key[0] == lead_channel)

    reply = await rig.click(APPROVE, request_id, user=LEAD, message_key=lead_key)

    assert reply.status == 200
    answer = await rig.answer("click")
    assert "alice@example.com may no longer have prod-db" in answer and "ended at" in answer
    await rig.fake.wait_until(
        lambda: any("can no longer be approved" in m["text"] for m in rig.dm(ALICE)),
        what="alice told",
    )
    assert (await rig.bot.service.get(request_id)).status.value == "denied"
    await rig.fake.wait_until(
        lambda: all(live_buttons(m) == [] for m in rig.approval_messages().values()),
        what="no live buttons left",
    )
