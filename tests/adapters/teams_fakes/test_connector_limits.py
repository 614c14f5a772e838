"""The fake connector refuses what Teams refuses, so a message it takes is one Teams would take:
over 100 KB counted in UTF-16 is 413 MessageSizeTooBig; a card against the Adaptive Cards 1.5
schema is refused too. (It serves without a token here: the check under test is the body's.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.teams.connector import CARD_TYPE, FakeConnector
from tests.fakes.teams.identity import FakeIdentityProvider


@pytest.fixture
async def open_connector(identity: FakeIdentityProvider) -> AsyncIterator[FakeConnector]:
    async with FakeConnector(identity, accept_anonymous=True) as fake:
        yield fake


def _card_message(*texts: str) -> dict[str, Any]:
    body = [{"type": "TextBlock", "text": text} for text in texts]
    card = {"type": "AdaptiveCard", "version": "1.5", "body": body}
    return {"type": "message", "attachments": [{"contentType": CARD_TYPE, "content": card}]}


async def _post(connector: FakeConnector, activity: dict[str, Any]) -> tuple[int, Any]:
    url = connector.service_url + "v3/conversations/a:1/activities"
    async with aiohttp.ClientSession() as session, session.post(url, json=activity) as response:
        return response.status, await response.json()


async def test_a_message_over_100_kb_in_utf16_is_refused(open_connector: FakeConnector) -> None:
    # 26,000 CJK characters: 26 KB as JSON escapes would count them ASCII, 52 KB in UTF-16.
    within = await _post(open_connector, _card_message("数" * 26_000))
    over = await _post(open_connector, _card_message("数" * 26_000, "🚨" * 13_000))

    assert within[0] == 201
    assert over == (
        413,
        {"error": {"code": "MessageSizeTooBig", "message": "Message size too large."}},
    )
    assert len(open_connector.activities) == 1


async def test_a_card_breaking_the_schema_is_refused(open_connector: FakeConnector) -> None:
    broken = _card_message("x")
    broken["attachments"][0]["content"]["body"][0]["type"] = "TextBox"

    status, body = await _post(open_connector, broken)

    assert status == 400 and body["error"]["code"] == "BadArgument"
    assert open_connector.activities == []
