"""Slack Web API failures and answers Slack does not take are counted on `/metrics` (`oncall_access_chat_api_errors_total`),
read over HTTP from the app the Slack surface is mounted on."""

from __future__ import annotations

from adapters.slack.constants import EVENTS_PATH
from tests.adapters.slack.rig import ALICE, SlackRig
from tests.bot.serving import eventually
from tests.fakes.slack import payloads
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


async def test_an_answer_slack_does_not_take_is_counted_as_a_slack_api_error(
    rig: SlackRig,
) -> None:
    root = rig.url.removesuffix(EVENTS_PATH)

    # the response_url of this command leads nowhere: the answer cannot be delivered
    reply = await rig.send(payloads.slash_command("help", user_id=ALICE))
    assert reply.status == 200

    async def counted() -> bool:
        found = await scrape(root)
        return found.value("oncall_access_chat_api_errors_total", surface="slack") == 1

    await eventually(counted, within=5, what="the failed answer counted")
