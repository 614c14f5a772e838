"""Slack Web API failures are counted on `/metrics` (`oncall_access_chat_api_errors_total`),
read over HTTP from the app the Slack surface is mounted on."""

from __future__ import annotations

from adapters.slack.constants import EVENTS_PATH
from tests.adapters.slack.rig import SlackRig
from tests.scrape import scrape


async def test_a_failed_web_api_call_is_counted_as_a_slack_api_error(rig: SlackRig) -> None:
    root = rig.url.removesuffix(EVENTS_PATH)
    assert (await scrape(root)).value("oncall_access_chat_api_errors_total", surface="slack") == 0
    rig.fake.fail("chat.postMessage", "channel_not_found", times=1)

    await rig.command("request prod-db 1h INC-1")
    answer = await rig.fake.next_call("response_url:cmd", timeout=10)
    assert "is waiting for approval" in answer.params["text"]

    after = await scrape(root)
    assert after.value("oncall_access_chat_api_errors_total", surface="slack") == 1
    assert after.value("oncall_access_chat_api_errors_total", surface="teams") == 0
    assert after.value("oncall_access_requests_total", outcome="pending") == 1
