"""A signed Slack request replayed within its five minutes runs once, and so does an Events API
event that Slack retries (signed afresh, same `event_id`): the delivery is remembered in the
database, so it holds across replicas too."""

from __future__ import annotations

import time

from tests.adapters.slack.rig import ALICE, SlackRig
from tests.fakes.slack import payloads
from tests.fakes.slack.constants import SIGNING_SECRET
from tests.fakes.slack.server import post_raw
from tests.fakes.slack.signing import signed_headers


async def test_a_replayed_slash_command_runs_once(rig: SlackRig) -> None:
    url = rig.fake.response_url("cmd", channel="C0FAKECHN1", user=ALICE)
    body, content_type = payloads.slash_command(
        "request prod-db 1h INC-1", user_id=ALICE, response_url=url
    )
    headers = signed_headers(body, content_type, SIGNING_SECRET)
    assert (await post_raw(rig.url, body, headers)).status == 200
    assert "is waiting for approval" in await rig.answer()

    replayed = await post_raw(rig.url, body, headers)

    assert (replayed.status, replayed.text) == (200, "")
    await rig.command("mine", name="marker")  # work queued after the replay, if any, is done
    await rig.answer("marker")
    assert len(await rig.requests()) == 1
    assert len(rig.fake.calls("response_url:cmd")) == 1


async def test_an_event_slack_retries_runs_once(rig: SlackRig) -> None:
    channel = rig.fake.dm_channel_id(ALICE)
    body, content_type = payloads.app_home_opened(ALICE, channel_id=channel, event_id="Ev0RETRY")
    await post_raw(rig.url, body, signed_headers(body, content_type, SIGNING_SECRET))
    await rig.fake.wait_until(lambda: len(rig.fake.calls("views.publish")) == 1, what="home")

    retry = signed_headers(body, content_type, SIGNING_SECRET, timestamp=int(time.time()) - 60)
    answered = await post_raw(
        rig.url, body, {**retry, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )

    assert answered.status == 200
    other, _ = payloads.app_home_opened(ALICE, channel_id=channel, event_id="Ev0OTHER")
    await post_raw(rig.url, other, signed_headers(other, content_type, SIGNING_SECRET))
    await rig.fake.wait_until(lambda: len(rig.fake.calls("views.publish")) >= 2, what="marker")
    assert len(rig.fake.calls("views.publish")) == 2
