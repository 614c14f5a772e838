"""Every Slack message, modal and Home tab stays within what Slack accepts, on worst-case data:
120 resources, 400 on-call groups, 45 requests pending with 2,000-character reasons, long
names, emoji and CJK. The fake Web API refuses what Slack refuses (tests/fakes/slack/limits.py:
slack_sdk's block models, 50 blocks, ~12,000 characters of block text), and a list too long
for one message ends with the reply's own tail saying how many lines were left out and how to
reach them."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.constants import DENY
from core.identity import Actor
from tests.adapters.slack.rig import ALICE, LEAD, SlackRig, start_rig
from tests.conftest import FakeClock
from tests.fakes.slack import FakeSlackApi, limits
from tests.worst_case import (
    GROUPS,
    PENDING,
    REASON,
    RESOURCES,
    policy_yaml,
    resource_name,
    roster_yaml,
)


@pytest.fixture
async def worst(
    fake_slack: FakeSlackApi, tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> AsyncIterator[SlackRig]:
    fake_slack.add_user(ALICE, "alice@example.com", tz="Asia/Tokyo")
    fake_slack.add_user(LEAD, "lead@example.com")
    async with start_rig(
        fake_slack,
        tmp_path,
        sqlite_url,
        clock,
        policy=policy_yaml(),
        roster=roster_yaml(clock.now()),
    ) as rig:
        alice = Actor("alice@example.com", surface="slack")
        for i in range(PENDING):
            reply = await rig.bot.dispatcher.handle(
                alice, f"request {resource_name(i)} 1h {REASON}"
            )
            assert reply.ok, reply.text
        yield rig


async def _answer(rig: SlackRig, text: str, user: str) -> dict[str, Any]:
    await rig.command(text, user=user, name=text)
    call = await rig.fake.next_call(f"response_url:{text}", timeout=10)
    assert call.status == 200, call.response  # the fake answers as Slack does to a bad message
    assert limits.message_problem(call.params) is None
    return call.params


def _lines_and_tail(message: dict[str, Any]) -> tuple[list[str], str]:
    """The listed lines (the plain-text sections after the head) and the closing context."""
    blocks = message["blocks"]
    listed = [b["text"]["text"] for b in blocks[1:] if b["type"] == "section"]
    lines = [line for text in listed for line in text.split("\n")]
    tail = blocks[-1]["elements"][0]["text"] if blocks[-1]["type"] == "context" else ""
    return lines, tail


def _left_out(tail: str) -> int:
    return int(tail.split()[1])


async def test_oncall_over_400_groups_fits_one_message_and_counts_the_rest(
    worst: SlackRig,
) -> None:
    message = await _answer(worst, "oncall", ALICE)

    lines, tail = _lines_and_tail(message)
    assert tail.endswith("more: narrow it with `oncall GROUP`")
    assert len(lines) + _left_out(tail) == GROUPS
    assert lines[0].startswith("Primary SRE")
    assert len(lines) > 40  # as much as fits, not a token few


async def test_pending_with_long_reasons_fits_one_message(worst: SlackRig) -> None:
    message = await _answer(worst, "pending", LEAD)

    lines, tail = _lines_and_tail(message)
    assert len(lines) + _left_out(tail) == PENDING
    assert tail.endswith("more: decide these, then `pending` lists the next ones")
    assert all(len(html.unescape(line)) <= 700 for line in lines)  # as typed: cut in a list
    assert "🔥🚨" in lines[0] and "主数据库故障" in lines[0]


async def test_list_of_120_resources_fits_one_message(worst: SlackRig) -> None:
    message = await _answer(worst, "list", ALICE)

    lines, tail = _lines_and_tail(message)
    assert len(lines) + (_left_out(tail) if tail else 0) == RESOURCES


async def test_approval_messages_home_tab_and_deny_form_take_the_long_reasons(
    worst: SlackRig,
) -> None:
    approvals = worst.dm(LEAD)
    assert len(approvals) == PENDING  # every one was accepted by the fake's checks
    assert REASON.split("<b>")[0].strip() in str(approvals[0]["blocks"])

    await worst.surface.handlers.publish_home(LEAD)
    home = worst.fake.home_views[LEAD]
    assert limits.view_problem(home) is None
    assert "The first 15 of 45; decide these, and the next ones show here." in str(home)

    key = next(k for k, m in worst.fake.messages.items() if m is approvals[0])
    request_id = next(
        e["value"]
        for b in approvals[0]["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == DENY
    )
    await worst.click(DENY, request_id, user=LEAD, message_key=key)
    opened = await worst.fake.next_call("views.open")
    assert opened.status == 200, opened.response
    assert limits.view_problem(opened.params["view"]) is None
