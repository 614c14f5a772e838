"""Slack accounts whose profile email is not the roster's: a domain alias
(ONCALL_ACCESS_EMAIL_ALIASES) or an admin's `identity map slack:U… EMAIL` makes them the roster's
person on every Slack path (slash command, Approve button, deny modal, request modal), with the
decision the console and Teams give the same person."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.constants import APPROVE, DENY
from tests.adapters.slack.rig import ALICE, LEAD, SlackRig, live_buttons, start_rig, text_of
from tests.conftest import FakeClock
from tests.fakes.slack import FakeSlackApi, payloads

OWN_REQUEST = "You cannot decide your own request; `cancel ID` withdraws it."
CHANNEL = "CAPPROVALS"
BOB_CORP = "UBOBCORP01"  # bob, whose Slack profile says bob@corp.example.com
ALICE_CORP = "UALICECRP1"  # alice's second account, alice@corp.example.com
ROBERT = "UROBERT001"  # bob's account as robert@contractor.example, once an admin maps it


@pytest.fixture
async def rig(
    fake_slack: FakeSlackApi, tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> AsyncIterator[SlackRig]:
    """corp.example.com is an alias of example.com; approval messages also go to #approvals."""
    fake_slack.add_user(ALICE, "alice@example.com", name="alice")
    fake_slack.add_user(ALICE_CORP, "alice@corp.example.com", name="alice.corp")
    fake_slack.add_user(BOB_CORP, "bob@corp.example.com", tz="America/New_York", name="bob")
    fake_slack.add_user(LEAD, "lead@example.com", name="lead")
    async with start_rig(
        fake_slack,
        tmp_path,
        sqlite_url,
        clock,
        aliases="corp.example.com=example.com",
        configure=lambda c: replace(c, approvals_channel=CHANNEL),
    ) as found:
        yield found


async def _requested(rig: SlackRig) -> str:
    """alice types `/access request prod-db …`; the id, once the channel copy is posted."""
    await rig.command("request prod-db 1h INC-1", user=ALICE, name="request")
    answer = await rig.answer("request")
    assert "is waiting for approval" in answer, answer
    await rig.fake.wait_until(lambda: _copy(rig, CHANNEL) is not None, what="the channel copy")
    return answer.split()[1]


def _copy(rig: SlackRig, channel: str) -> tuple[str, str] | None:
    return next((key for key in rig.approval_messages() if key[0] == channel), None)


async def _actors(rig: SlackRig, request_id: str, event: str) -> list[str]:
    return [
        r.actor
        for r in await rig.bot.audit.records()
        if r.request_id == request_id and r.event == event
    ]


async def _deny_form(rig: SlackRig, request_id: str, user: str, key: tuple[str, str]) -> Any:
    await rig.click(DENY, request_id, user=user, message_key=key, name="deny")
    opened = await rig.fake.next_call("views.open")
    return rig.fake.views[opened.response["view"]["id"]]


async def test_aliased_approver_gets_the_dm_and_his_approve_click_counts(rig: SlackRig) -> None:
    request_id = await _requested(rig)
    bob_dm = rig.fake.dm_channel_id(BOB_CORP)
    await rig.fake.wait_until(lambda: _copy(rig, bob_dm) is not None, what="bob's DM")
    bob_key = _copy(rig, bob_dm)
    assert bob_key is not None

    await rig.click(APPROVE, request_id, user=BOB_CORP, message_key=bob_key)

    assert await rig.answer("click") == (
        f"Approved {request_id}: alice@example.com has prod-db for 1h."
    )
    await rig.fake.wait_until(
        lambda: all(live_buttons(m) == [] for m in rig.approval_messages().values()),
        what="every copy decided",
    )
    assert "Approved by bob@example.com" in text_of(rig.fake.messages[bob_key])
    assert await _actors(rig, request_id, "request.approved") == ["bob@example.com"]


async def test_mapped_approver_denies_in_the_modal_as_his_roster_email(rig: SlackRig) -> None:
    rig.fake.add_user(ROBERT, "robert@contractor.example", name="robert")
    await rig.command(f"identity map slack:{ROBERT} bob@example.com", user=LEAD, name="map")
    assert await rig.answer("map") == f"Mapped slack:{ROBERT} to bob@example.com."
    request_id = await _requested(rig)
    robert_dm = rig.fake.dm_channel_id(ROBERT)
    await rig.fake.wait_until(lambda: _copy(rig, robert_dm) is not None, what="robert's DM")
    robert_key = _copy(rig, robert_dm)
    assert robert_key is not None
    view = await _deny_form(rig, request_id, ROBERT, robert_key)

    submitted = await rig.send(
        payloads.view_submission(
            {"reason": {"value": payloads.plain_text_input("use the replica")}},
            view=view,
            user_id=ROBERT,
        )
    )

    assert (submitted.status, submitted.text) == (200, "")  # the modal closes
    assert await rig.answer("deny") == f"Denied {request_id} (prod-db for alice@example.com)."
    await rig.fake.wait_until(
        lambda: (
            "Denied by bob@example.com: use the replica" in text_of(rig.fake.messages[robert_key])
        ),
        what="robert's copy updated",
    )
    assert await _actors(rig, request_id, "request.denied") == ["bob@example.com"]


async def test_requester_cannot_decide_her_modal_request_from_her_other_account(
    rig: SlackRig,
) -> None:
    # alice files from her corp account through the request modal ...
    await rig.command("", user=ALICE_CORP, name="form")
    opened = await rig.fake.next_call("views.open")
    await rig.fake.next_call("views.update")
    filed = await rig.send(
        payloads.view_submission(
            {
                "resource": {"value": payloads.static_select("prod-db")},
                "duration": {"value": payloads.plain_text_input("1h")},
                "reason": {"value": payloads.plain_text_input("INC-1")},
            },
            view=rig.fake.views[opened.response["view"]["id"]],
            user_id=ALICE_CORP,
        )
    )
    assert (filed.status, filed.text) == (200, "")
    assert "is waiting for approval" in await rig.answer("form")
    [request] = await rig.requests()
    assert request.requester == "alice@example.com"
    await rig.fake.wait_until(lambda: _copy(rig, CHANNEL) is not None, what="the channel copy")
    channel_key = _copy(rig, CHANNEL)
    assert channel_key is not None
    before = {key: text_of(m) for key, m in rig.fake.messages.items()}

    # ... and tries to decide it from her example.com account: button, typed command, modal.
    await rig.click(APPROVE, request.id, user=ALICE, message_key=channel_key, name="click")
    await rig.command(f"approve {request.id}", user=ALICE, name="typed")
    view = await _deny_form(rig, request.id, ALICE, channel_key)
    denied = await rig.send(
        payloads.view_submission(
            {"reason": {"value": payloads.plain_text_input("mine")}}, view=view, user_id=ALICE
        )
    )

    assert await rig.answer("click") == OWN_REQUEST
    assert await rig.answer("typed") == OWN_REQUEST
    assert denied.json() == {"response_action": "errors", "errors": {"reason": OWN_REQUEST}}
    assert (await rig.bot.service.get(request.id)).status == "pending"
    assert rig.fake.calls("chat.update") == []
    assert {key: text_of(m) for key, m in rig.fake.messages.items()} == before
    events = [r.event for r in await rig.bot.audit.records() if r.request_id == request.id]
    assert events == ["request.created"]
