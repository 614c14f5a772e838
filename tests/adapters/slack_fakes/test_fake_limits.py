"""The fake Web API refuses what Slack refuses, so a test passing against it means Slack would
take the message: too many blocks, a section over 3,000 characters, blocks holding more than
about 12,000 characters of text, a modal over 100 blocks."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack import FakeSlackApi


def _section(text: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest.mark.parametrize(
    ("blocks", "error"),
    [
        ([_section("x")] * 51, "invalid_blocks"),
        ([_section("x" * 3001)], "invalid_blocks"),
        ([_section("数" * 2900)] * 5, "msg_blocks_too_long"),
    ],
    ids=["51 blocks", "section over 3000", "12000 characters of text"],
)
async def test_post_message_refuses_what_slack_refuses(
    fake_slack: FakeSlackApi, slack_client: AsyncWebClient, blocks: list[object], error: str
) -> None:
    with pytest.raises(SlackApiError) as refused:
        await slack_client.chat_postMessage(channel="C0FAKECHN1", text="t", blocks=blocks)

    assert refused.value.response["error"] == error
    assert fake_slack.messages == {}


async def test_post_message_takes_a_message_just_within_the_limits(
    fake_slack: FakeSlackApi, slack_client: AsyncWebClient
) -> None:
    blocks = [_section("数" * 2900)] * 4 + [_section("x")] * 45
    await slack_client.chat_postMessage(channel="C0FAKECHN1", text="t", blocks=blocks)

    assert len(fake_slack.messages) == 1


async def test_views_refuse_more_than_100_blocks(
    fake_slack: FakeSlackApi, slack_client: AsyncWebClient
) -> None:
    fake_slack.add_user("UALICE0001", "alice@example.com")
    view = {"type": "home", "blocks": [_section("x")] * 101}

    with pytest.raises(SlackApiError) as refused:
        await slack_client.views_publish(user_id="UALICE0001", view=view)

    assert refused.value.response["error"] == "invalid_arguments"
