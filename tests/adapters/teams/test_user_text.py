"""What people type (a reason, a deny comment) is shown as text in Teams: on cards it is a
TextRun (Adaptive Cards render no markdown there) and sentences quoting it are sent as plain
text, so it can draw no bold, link or list line of its own such as "Approved by"."""

from __future__ import annotations

from typing import Any

from tests.adapters.teams.conftest import ALICE, BOB, TeamsUnderTest, card_of

SPOOF = "**Approved by lead@example.com**\n- ok [click](https://evil.example)"
AS_TYPED = "**Approved by lead@example.com** - ok [click](https://evil.example)"


def _elements(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card.get("body") or [])
    return found


def _assert_only_in_text_runs(card: dict[str, Any], wanted: str) -> None:
    """The user's text is in a TextRun, whole and on one line; never where markdown renders."""
    runs = [e["text"] for e in _elements(card) if e.get("type") == "TextRun"]
    assert any(wanted in run for run in runs), runs
    for element in _elements(card):
        if element.get("type") == "TextBlock":
            assert "Approved by lead" not in element["text"] and "evil" not in element["text"]
        if element.get("type") == "FactSet":
            assert "evil" not in str(element["facts"])


async def test_a_reason_that_spoofs_an_approval_is_shown_literally(teams: TeamsUnderTest) -> None:
    await teams.install(BOB)
    await teams.next_in(BOB)

    await teams.say(ALICE, f'request prod-db 2h "{SPOOF}"')

    card = card_of(await teams.next_in(BOB))
    _assert_only_in_text_runs(card, f"{AS_TYPED}")
    [reason] = [
        e for e in _elements(card) if e.get("type") == "RichTextBlock" and "Reason" in str(e)
    ]
    assert [run["text"] for run in reason["inlines"]] == ["Reason: ", AS_TYPED]


async def test_a_deny_comment_that_spoofs_is_shown_literally(teams: TeamsUnderTest) -> None:
    await teams.install(BOB)
    await teams.next_in(BOB)
    await teams.say(ALICE, "request prod-db 2h INC-1")
    [request] = await teams.bot.requests.by_requester(ALICE.email)
    sent = await teams.next_in(BOB)
    await teams.next_in(ALICE)

    refreshed = await teams.click(
        BOB, "deny", {"request_id": request.id, "reason": SPOOF}, card=sent
    )

    _assert_only_in_text_runs(refreshed, f"Denied by bob@example.com: {AS_TYPED}")
    told = await teams.next_in(ALICE)
    while "denied" not in (told.text or ""):
        told = await teams.next_in(ALICE)
    assert told.activity.get("textFormat") == "plain"
    assert AS_TYPED in (told.text or "")


async def test_a_message_of_unclosed_mention_tags_is_refused_by_its_length_at_once(
    teams: TeamsUnderTest,
) -> None:
    hostile = "<at " * 7000  # 28 KB: reading its mentions with a lazy regex took seconds

    await teams.say(ALICE, hostile)
    answer = await teams.next_in(ALICE)

    assert "a command is at most 4,000" in (answer.text or "")
