"""People of other organisations in Slack: in a shared channel (Slack Connect) someone of another
workspace can see an approval message and click it, and their email is whatever their own
organisation gave them. Only members of the installed workspace, and of Enterprise Grid
organisations the operator lists (ONCALL_ACCESS_SLACK_ENTERPRISE_IDS), may act; anyone else gets
one sentence and nothing changes. Every audit event from Slack names the account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from adapters.slack.constants import APPROVE
from adapters.slack.identity import OTHER_ORGANISATION
from core.requests import Status
from tests.adapters.slack.rig import ALICE, SlackRig, start_rig
from tests.conftest import FakeClock
from tests.fakes.slack import FakeSlackApi
from tests.fakes.slack.constants import TEAM_ID

CHANNEL = "CSHARED001"  # a channel shared with another organisation
GRID = "E0GRID0001"
OUTSIDER = "UOUTSIDE01"  # another company's bob@example.com, in the shared channel
SISTER = "WSISTER001"  # bob, in a sister workspace of the listed Grid organisation
STRANGER_GRID = "WSTRANGE01"  # bob, in a Grid organisation nobody listed


@pytest.fixture
async def rig(
    fake_slack: FakeSlackApi, tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> AsyncIterator[SlackRig]:
    fake_slack.add_user(ALICE, "alice@example.com", name="alice")
    fake_slack.add_user(OUTSIDER, "bob@example.com", team_id="T0OTHER001", name="outsider")
    fake_slack.add_user(
        SISTER, "bob@example.com", team_id="T0SISTER01", enterprise_id=GRID, name="bob"
    )
    fake_slack.add_user(
        STRANGER_GRID,
        "lead@example.com",
        team_id="T0STRANGE1",
        enterprise_id="E0STRANGE1",
        name="stranger",
    )
    async with start_rig(
        fake_slack,
        tmp_path,
        sqlite_url,
        clock,
        configure=lambda c: replace(c, approvals_channel=CHANNEL, enterprise_ids=frozenset({GRID})),
    ) as found:
        yield found


async def _requested(rig: SlackRig) -> tuple[str, tuple[str, str]]:
    """alice asks for prod-db; its id and the approval message in the shared channel."""
    await rig.command("request prod-db 1h INC-1", user=ALICE, name="request")
    answer = await rig.answer("request")
    assert "is waiting for approval" in answer, answer
    await rig.fake.wait_until(
        lambda: any(c == CHANNEL for c, _ in rig.approval_messages()), what="the channel copy"
    )
    key = next(k for k in rig.approval_messages() if k[0] == CHANNEL)
    return answer.split()[1], key


async def test_a_user_of_another_workspace_cannot_approve_and_nothing_changes(
    rig: SlackRig,
) -> None:
    request_id, key = await _requested(rig)

    await rig.click(APPROVE, request_id, user=OUTSIDER, message_key=key)

    assert await rig.answer("click") == OTHER_ORGANISATION
    assert (await rig.bot.service.get(request_id)).status == Status.PENDING
    events = [r.event for r in await rig.bot.audit.records() if r.request_id == request_id]
    assert events == ["request.created"]


async def test_a_user_of_another_workspace_gets_one_sentence_for_a_command(
    rig: SlackRig,
) -> None:
    await rig.command("pending", user=STRANGER_GRID, name="pending")

    assert await rig.answer("pending") == OTHER_ORGANISATION


async def test_another_workspaces_account_is_never_messaged_as_the_person(rig: SlackRig) -> None:
    await _requested(rig)

    outsider_dm = rig.fake.dm_channel_id(OUTSIDER)
    assert not [k for k in rig.approval_messages() if k[0] == outsider_dm]


async def test_a_member_of_a_listed_grid_organisation_may_approve(rig: SlackRig) -> None:
    request_id, key = await _requested(rig)

    await rig.click(APPROVE, request_id, user=SISTER, message_key=key)

    assert await rig.answer("click") == (
        f"Approved {request_id}: alice@example.com has prod-db for 1h."
    )
    records = [r for r in await rig.bot.audit.records() if r.request_id == request_id]
    named = {r.event: (r.actor, r.detail.get("chat_identity")) for r in records}
    assert named == {
        "request.created": ("alice@example.com", f"slack:{TEAM_ID}:{ALICE}"),
        "request.approved": ("bob@example.com", f"slack:T0SISTER01:{SISTER}"),
        "access.granted": ("bob@example.com", f"slack:T0SISTER01:{SISTER}"),
    }
