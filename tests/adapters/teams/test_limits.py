"""Every Teams message, card and dialog stays within what Teams accepts, on worst-case data:
120 resources, 400 on-call groups, 45 requests pending with 2,000-character reasons, long
names, emoji and CJK. Teams measures a message as its JSON encoded in UTF-16 and refuses one
over 100 KB (the fake connector answers 413 as Teams does); Microsoft advises staying within
80 KB, which is what is asserted here. Each card validates against the Adaptive Cards 1.5
schema, and a list too long for one card ends with the reply's own tail."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft6Validator

from core.identity import Actor
from tests.adapters.teams.conftest import (
    ALICE,
    LEAD,
    TeamsUnderTest,
    card_of,
    card_text,
    running_teams,
)
from tests.conftest import FakeClock
from tests.fakes.teams import activities
from tests.fakes.teams.connector import FakeConnector, SentActivity, utf16_size
from tests.fakes.teams.identity import FakeIdentityProvider
from tests.reference_files import REFERENCE
from tests.worst_case import (
    GROUPS,
    PENDING,
    REASON,
    RESOURCES,
    policy_yaml,
    resource_name,
    roster_yaml,
)

ADVISED = 80 * 1024
SCHEMA = REFERENCE / "teams" / "adaptive-card.schema.1.5.0.json"


@pytest.fixture(scope="module")
def validator() -> Draft6Validator:
    return Draft6Validator(json.loads(SCHEMA.read_text()))


@pytest.fixture
async def worst(
    identity: FakeIdentityProvider,
    connector: FakeConnector,
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
) -> AsyncIterator[TeamsUnderTest]:
    async with running_teams(
        identity,
        connector,
        tmp_path,
        sqlite_url,
        clock,
        policy=policy_yaml(),
        roster=roster_yaml(clock.now()),
    ) as teams:
        await teams.install(LEAD)
        alice = Actor(ALICE.email, surface="teams")
        for i in range(PENDING):
            reply = await teams.bot.dispatcher.handle(
                alice, f"request {resource_name(i)} 1h {REASON}"
            )
            assert reply.ok, reply.text
        yield teams


def _checked(sent: SentActivity, validator: Draft6Validator) -> dict[str, Any]:
    assert utf16_size(sent.activity) <= ADVISED
    content = card_of(sent)
    assert [e.message for e in validator.iter_errors(content)] == []
    return content


def _lines_and_tail(content: dict[str, Any]) -> tuple[list[str], str]:
    """The listed lines (after the reply's sentence) and the subtle closing tail, if any."""
    texts = card_text(content).split("\n")[1:]
    if texts and texts[-1].startswith("and ") and " more" in texts[-1]:
        return texts[:-1], texts[-1]
    return texts, ""


async def _reply_to(teams: TeamsUnderTest, person: Any, text: str) -> SentActivity:
    """The bot's answer to `text`, after whatever it had already sent to this person."""
    earlier = [a for a in teams.connector.activities if a.conversation_id == person.chat]
    for _ in earlier:
        await teams.next_in(person)
    await teams.say(person, text)
    return await teams.next_in(person)


async def test_oncall_over_400_groups_fits_one_card_and_counts_the_rest(
    worst: TeamsUnderTest, validator: Draft6Validator
) -> None:
    content = _checked(await _reply_to(worst, ALICE, "oncall"), validator)

    lines, tail = _lines_and_tail(content)
    assert tail.endswith("more: narrow it with `oncall GROUP`"), tail
    assert len(lines) + int(tail.split()[1]) == GROUPS
    assert len(lines) > 100


async def test_pending_with_long_reasons_fits_one_card(
    worst: TeamsUnderTest, validator: Draft6Validator
) -> None:
    content = _checked(await _reply_to(worst, LEAD, "pending"), validator)

    lines, tail = _lines_and_tail(content)
    shown = len(lines)
    assert shown + (int(tail.split()[1]) if tail else 0) == PENDING
    assert all(len(line.encode("utf-16-le")) // 2 <= 700 for line in lines)


async def test_list_of_120_resources_fits_one_card(
    worst: TeamsUnderTest, validator: Draft6Validator
) -> None:
    content = _checked(await _reply_to(worst, ALICE, "list"), validator)

    lines, tail = _lines_and_tail(content)
    assert len(lines) + (int(tail.split()[1]) if tail else 0) == RESOURCES


async def test_approval_cards_carry_the_whole_long_reason(
    worst: TeamsUnderTest, validator: Draft6Validator, connector: FakeConnector
) -> None:
    cards = [a for a in connector.activities if a.conversation_id == LEAD.chat and a.attachments]
    assert len(cards) == PENDING  # none refused with 413
    content = _checked(cards[0], validator)
    assert REASON.split()[0] in card_text(content)


async def test_request_dialog_offers_all_120_resources_within_the_limit(
    worst: TeamsUnderTest, validator: Draft6Validator
) -> None:
    status, body = await worst.post(
        activities.task_fetch(
            {"msteams": {"type": "task/fetch"}, "form": "request"},
            **ALICE.envelope(worst.service_url),
        )
    )

    assert status == 200 and utf16_size(body) <= ADVISED
    content = body["task"]["value"]["card"]["content"]
    assert [e.message for e in validator.iter_errors(content)] == []
    [choices] = [e["choices"] for e in content["body"] if e.get("id") == "resource"]
    assert len(choices) == RESOURCES
    assert all(len(c["title"].encode("utf-16-le")) // 2 <= 80 for c in choices)
