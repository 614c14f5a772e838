"""What people type (a reason, a deny comment) is shown as text on every Slack message: it can
draw no bold, quote, link or line of its own that would pass for the bot's, e.g. "Approved by"."""

from __future__ import annotations

import html
from typing import Any

from adapters.slack.constants import DENY
from tests.adapters.slack.rig import ALICE, BOB, SlackRig
from tests.fakes.slack import payloads

SPOOF = "*Approved by lead@example.com*\n> ok <https://evil|click>"
AS_TYPED = "*Approved by lead@example.com* > ok <https://evil|click>"  # on one line


def _objects(message: dict[str, Any], kind: str) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == kind and isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks") or [])
    return found


def _shown_as_text(message: dict[str, Any]) -> list[str]:
    """plain_text as a person reads it (Slack decodes its three entities and nothing else)."""
    return [html.unescape(t) for t in _objects(message, "plain_text")]


def _assert_no_markup_from_user(message: dict[str, Any]) -> None:
    """No mrkdwn of the message (nor its notification text) can bold, quote or link the spoof."""
    for text in [*_objects(message, "mrkdwn"), str(message.get("text", ""))]:
        assert "*Approved" not in text and "lead@example.com*" not in text, text
        assert "<https://evil" not in text, text
        assert not any(line.lstrip().startswith(("&gt;", ">")) for line in text.split("\n")), text


async def test_a_reason_that_spoofs_an_approval_is_shown_literally(rig: SlackRig) -> None:
    await rig.command(f"request prod-db 1h {SPOOF}")
    assert "is waiting for approval" in await rig.answer()
    await rig.fake.wait_until(lambda: len(rig.approval_messages()) >= 2, what="approval DMs")

    for message in rig.approval_messages().values():
        assert f"Reason: {AS_TYPED}" in _shown_as_text(message)
        _assert_no_markup_from_user(message)


async def test_a_deny_comment_that_spoofs_is_shown_literally_to_approvers_and_requester(
    rig: SlackRig,
) -> None:
    await rig.command("request prod-db 1h INC-1")
    answer = await rig.answer()
    request_id = answer.split()[1]
    await rig.fake.wait_until(lambda: len(rig.approval_messages()) >= 2, what="approval DMs")
    (bob_key,) = [k for k in rig.approval_messages() if k[0] == rig.fake.dm_channel_id(BOB)]
    await rig.click(DENY, request_id, user=BOB, message_key=bob_key, name="deny")
    opened = await rig.fake.next_call("views.open")
    view = rig.fake.views[opened.response["view"]["id"]]

    await rig.send(
        payloads.view_submission(
            {"reason": {"value": payloads.plain_text_input(SPOOF)}}, view=view, user_id=BOB
        )
    )

    await rig.fake.wait_until(lambda: len(rig.fake.calls("chat.update")) >= 2, what="updates")
    for message in rig.approval_messages().values():
        _assert_no_markup_from_user(message)
        # The comment stays on the one "Denied by" line, its marks unable to pair.
        [state] = [t for t in _objects(message, "mrkdwn") if "Denied by bob@example.com" in t]
        assert "\n" not in state and "ok &lt;https://evil|click&gt;" in state
    await rig.fake.wait_until(
        lambda: any("was denied" in m["text"] for m in rig.dm(ALICE)), what="alice told"
    )
    [told] = [m for m in rig.dm(ALICE) if "was denied" in m["text"]]
    assert any(AS_TYPED in t for t in _shown_as_text(told))
    _assert_no_markup_from_user(told)
