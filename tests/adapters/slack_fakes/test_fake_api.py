"""The fake Web API, exercised through the real slack_sdk client the bot uses."""

from __future__ import annotations

import asyncio
import json

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.adapters.slack_fakes._shape import example, missing_keys
from tests.fakes.slack import CallTimeout, FakeSlackApi


async def test_base_url_is_what_slack_sdk_expects(fake_slack: FakeSlackApi) -> None:
    assert fake_slack.base_url.startswith("http://127.0.0.1:")
    assert fake_slack.base_url.endswith("/api/")


async def test_auth_test_identifies_the_bot(
    fake_slack: FakeSlackApi, slack_client: AsyncWebClient
) -> None:
    resp = await slack_client.auth_test()
    assert missing_keys(resp.data, example("web-api.auth.test.200.json")) == []
    assert resp["user_id"] == fake_slack.bot_user_id
    assert resp["bot_id"] == fake_slack.bot_id
    assert "users:read.email" in resp.headers["x-oauth-scopes"]


async def test_users_info_with_email(
    fake_slack: FakeSlackApi, slack_client: AsyncWebClient
) -> None:
    fake_slack.add_user("U100", email="ada@example.com", tz="America/Los_Angeles", name="ada")

    resp = await slack_client.users_info(user="U100")

    assert missing_keys(resp.data, example("web-api.users.info.200.json")) == [
        "user.profile.image_192", "user.profile.image_24", "user.profile.image_32",
        "user.profile.image_48", "user.profile.image_512", "user.profile.image_72",
        "user.profile.image_original",
    ]  # fmt: skip
    user = resp["user"]
    assert user["id"] == "U100" and user["name"] == "ada"
    assert user["profile"]["email"] == "ada@example.com"
    assert user["tz"] == "America/Los_Angeles"
    assert user["tz_offset"] in (-28800, -25200)
    call = await fake_slack.next_call("users.info")
    assert call.http_method == "GET" and call.params == {"user": "U100"}


async def test_users_info_without_email_omits_it(
    fake_slack: FakeSlackApi, slack_client: AsyncWebClient
) -> None:
    fake_slack.add_user("U200")

    user = (await slack_client.users_info(user="U200"))["user"]

    assert "email" not in user["profile"]
    assert user["tz"] == "Europe/Berlin"
    assert user["tz_offset"] in (3600, 7200)


async def test_users_info_email_needs_the_scope() -> None:
    async with FakeSlackApi(scopes=("commands", "users:read")) as fake:
        fake.add_user("U1", email="x@example.com")
        client = AsyncWebClient(token=fake.token, base_url=fake.base_url)
        assert "email" not in (await client.users_info(user="U1"))["user"]["profile"]
        with pytest.raises(SlackApiError) as err:
            await client.users_lookupByEmail(email="x@example.com")
        assert err.value.response["error"] == "missing_scope"


async def test_unknown_user(fake_slack: FakeSlackApi, slack_client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        await slack_client.users_info(user="U404")
    assert err.value.response["error"] == "user_not_found"


async def test_dm_post_and_update_round_trip(
    fake_slack: FakeSlackApi, slack_client: AsyncWebClient
) -> None:
    fake_slack.add_user("U300", email="approver@example.com")

    opened = await slack_client.conversations_open(users="U300")
    assert missing_keys(opened.data, example("web-api.conversations.open.200.json")) == []
    dm = opened["channel"]["id"]
    assert dm.startswith("D")
    assert (await slack_client.conversations_open(users="U300"))["channel"]["id"] == dm
    assert fake_slack.dm_channel_id("U300") == dm

    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*db-prod* for 2h?"}}]
    posted = await slack_client.chat_postMessage(channel=dm, text="Approve?", blocks=blocks)
    assert missing_keys(posted.data, example("web-api.chat.postMessage.200.json")) == [
        "message.attachments", "message.subtype", "message.username",
    ]  # fmt: skip
    ts = posted["ts"]
    assert posted["channel"] == dm
    assert fake_slack.messages[(dm, ts)]["blocks"] == blocks

    updated = await slack_client.chat_update(channel=dm, ts=ts, text="Approved by <@U300>")
    assert missing_keys(updated.data, example("web-api.chat.update.200.json")) == []
    assert updated["text"] == "Approved by <@U300>"
    stored = fake_slack.messages[(dm, ts)]
    assert stored["text"] == "Approved by <@U300>"
    assert stored["blocks"] == blocks  # omitted blocks are kept, as in Slack

    call = await fake_slack.next_call("chat.update")
    assert call.params["ts"] == ts and call.content_type.startswith("application/json")

    with pytest.raises(SlackApiError) as err:
        await slack_client.chat_update(channel=dm, ts="1.000000", text="x")
    assert err.value.response["error"] == "message_not_found"


async def test_post_to_a_user_id_lands_in_the_dm(
    fake_slack: FakeSlackApi, slack_client: AsyncWebClient
) -> None:
    fake_slack.add_user("U301")
    posted = await slack_client.chat_postMessage(channel="U301", text="hi")
    assert posted["channel"] == fake_slack.dm_channel_id("U301")
    with pytest.raises(SlackApiError) as err:
        await slack_client.chat_postMessage(channel="U999", text="hi")
    assert err.value.response["error"] == "channel_not_found"
    # slack_sdk itself warns (an error under this suite's filterwarnings) when `text` is
    # missing, so send the bare request to see Slack's answer.
    with pytest.raises(SlackApiError) as err:
        await slack_client.api_call("chat.postMessage", json={"channel": "C1"})
    assert err.value.response["error"] == "no_text"


async def test_form_encoded_bodies_are_accepted(
    fake_slack: FakeSlackApi, slack_client: AsyncWebClient
) -> None:
    blocks = [{"type": "divider"}]
    resp = await slack_client.api_call(
        "chat.postMessage", data={"channel": "C1", "text": "t", "blocks": json.dumps(blocks)}
    )
    call = await fake_slack.next_call("chat.postMessage")
    assert call.content_type.startswith("application/x-www-form-urlencoded")
    assert call.params["blocks"] == blocks
    assert fake_slack.messages[("C1", resp["ts"])]["blocks"] == blocks


async def test_next_call_waits_for_a_concurrent_call(
    fake_slack: FakeSlackApi, slack_client: AsyncWebClient
) -> None:
    task = asyncio.create_task(slack_client.chat_postMessage(channel="C1", text="later"))
    assert fake_slack.calls("chat.postMessage") == []  # the task has not run yet

    call = await fake_slack.next_call("chat.postMessage", timeout=2)

    assert call.params["text"] == "later"
    assert (await task)["ok"] is True
    with pytest.raises(CallTimeout):
        await fake_slack.next_call("chat.postMessage", timeout=0.05)  # already consumed
    assert len(fake_slack.calls("chat.postMessage")) == 1


async def test_invalid_token_is_refused(fake_slack: FakeSlackApi) -> None:
    wrong = AsyncWebClient(token="xoxb-not-the-right-one", base_url=fake_slack.base_url)
    with pytest.raises(SlackApiError) as err:
        await wrong.chat_postMessage(channel="C1", text="x")
    assert err.value.response["error"] == "invalid_auth"

    anonymous = AsyncWebClient(base_url=fake_slack.base_url)
    with pytest.raises(SlackApiError) as err:
        await anonymous.auth_test()
    assert err.value.response["error"] == "not_authed"

    assert fake_slack.messages == {}
    assert [c.token for c in fake_slack.calls()] == ["xoxb-not-the-right-one", None]


async def test_unknown_method(fake_slack: FakeSlackApi, slack_client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        await slack_client.api_call("bogus.method")
    assert err.value.response.data == {"ok": False, "error": "unknown_method"}


async def test_rate_limit_injection(fake_slack: FakeSlackApi, slack_client: AsyncWebClient) -> None:
    fake_slack.add_user("U1")
    fake_slack.fail("users.info", "ratelimited", status=429, retry_after=1, times=1)

    with pytest.raises(SlackApiError) as err:
        await slack_client.users_info(user="U1")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "1"
    assert err.value.response["error"] == "ratelimited"

    assert (await slack_client.users_info(user="U1"))["ok"] is True


async def test_persistent_failure_until_cleared(
    fake_slack: FakeSlackApi, slack_client: AsyncWebClient
) -> None:
    fake_slack.fail("chat.postMessage", "is_archived")
    for _ in range(2):
        with pytest.raises(SlackApiError):
            await slack_client.chat_postMessage(channel="C1", text="x")
    fake_slack.clear_failures()
    assert (await slack_client.chat_postMessage(channel="C1", text="x"))["ok"] is True


async def test_hold_withholds_the_answer_until_released(
    fake_slack: FakeSlackApi, slack_client: AsyncWebClient
) -> None:
    fake_slack.hold("chat.postMessage")
    task = asyncio.create_task(slack_client.chat_postMessage(channel="C1", text="slow"))

    call = await fake_slack.next_call("chat.postMessage")
    assert not task.done()
    assert (("C1", call.response["ts"])) in fake_slack.messages  # applied on arrival

    fake_slack.release("chat.postMessage")
    assert (await task)["ts"] == call.response["ts"]


async def test_delay_postpones_the_answer(
    fake_slack: FakeSlackApi, slack_client: AsyncWebClient
) -> None:
    fake_slack.delay("auth.test", 0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await slack_client.auth_test()
    assert loop.time() - started >= 0.2


async def test_views_open_update_push_publish(
    fake_slack: FakeSlackApi, slack_client: AsyncWebClient
) -> None:
    modal = {
        "type": "modal",
        "callback_id": "request_access",
        "private_metadata": "pm",
        # Slack adds `emoji: true` to plain_text objects it returns; the fake echoes the app's.
        "title": {"type": "plain_text", "text": "Request access", "emoji": True},
        "blocks": [],
    }
    opened = await slack_client.views_open(trigger_id="1.2.abc", view=modal)
    assert missing_keys(opened.data, example("web-api.views.open.200.json")) == []
    view = opened["view"]
    assert fake_slack.views[view["id"]]["callback_id"] == "request_access"

    with pytest.raises(SlackApiError) as err:
        await slack_client.views_update(view_id=view["id"], hash="stale", view=modal)
    assert err.value.response["error"] == "hash_conflict"
    updated = await slack_client.views_update(
        view_id=view["id"], hash=view["hash"], view={**modal, "private_metadata": "pm2"}
    )
    assert missing_keys(updated.data, example("web-api.views.update.200.json")) == []
    assert updated["view"]["id"] == view["id"]
    assert fake_slack.views[view["id"]]["private_metadata"] == "pm2"

    with pytest.raises(SlackApiError) as err:
        await slack_client.views_update(view_id="V404", view=modal)
    assert err.value.response["error"] == "not_found"
    with pytest.raises(SlackApiError) as err:
        await slack_client.views_open(trigger_id="", view=modal)
    assert err.value.response["error"] == "invalid_arguments"

    pushed = await slack_client.views_push(trigger_id="1.2.def", view=modal)
    assert pushed["view"]["id"] != view["id"]

    fake_slack.add_user("U1")
    home = {"type": "home", "blocks": [{"type": "divider"}]}
    first = await slack_client.views_publish(user_id="U1", view=home)
    again = await slack_client.views_publish(user_id="U1", view=home)
    assert first["view"]["id"] == again["view"]["id"]
    assert fake_slack.home_views["U1"]["blocks"] == [{"type": "divider"}]


async def test_post_ephemeral(fake_slack: FakeSlackApi, slack_client: AsyncWebClient) -> None:
    fake_slack.add_user("U1")
    resp = await slack_client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert missing_keys(resp.data, example("web-api.chat.postEphemeral.200.json")) == []
    assert fake_slack.ephemerals[-1]["text"] == "only you"
    assert fake_slack.messages == {}


async def test_response_url_replaces_and_deletes_the_bound_message(
    fake_slack: FakeSlackApi,
) -> None:
    msg = fake_slack.add_message("D1", "Approve?")
    url = fake_slack.response_url("approve", channel="D1", message_ts=msg["ts"])

    webhook = AsyncWebhookClient(url)
    resp = await webhook.send(text="Approved", replace_original=True)
    assert (resp.status_code, resp.body) == (200, "ok")
    call = await fake_slack.next_call("response_url:approve")
    assert call.params == {"text": "Approved", "replace_original": True}
    assert fake_slack.messages[("D1", msg["ts"])]["text"] == "Approved"

    # the docs send booleans as strings; both work
    await webhook.send_dict({"delete_original": "true"})
    assert ("D1", msg["ts"]) not in fake_slack.messages


async def test_response_url_replies(fake_slack: FakeSlackApi) -> None:
    url = fake_slack.response_url("cmd", channel="C1", user="U1")
    webhook = AsyncWebhookClient(url)
    await webhook.send(text="working on it")
    await webhook.send(text="done", response_type="in_channel")
    assert fake_slack.ephemerals[-1]["text"] == "working on it"
    assert [m["text"] for (ch, _), m in fake_slack.messages.items() if ch == "C1"] == ["done"]

    fake_slack.fail("response_url:cmd", "expired_url", status=404)
    assert (await webhook.send(text="late")).status_code == 404


async def test_wait_until_sees_state_change(
    fake_slack: FakeSlackApi, slack_client: AsyncWebClient
) -> None:
    task = asyncio.create_task(slack_client.chat_postMessage(channel="C9", text="x"))
    await fake_slack.wait_until(
        lambda: any(ch == "C9" for ch, _ in fake_slack.messages), what="message in C9"
    )
    await task
    with pytest.raises(CallTimeout, match="never"):
        await fake_slack.wait_until(lambda: False, timeout=0.05, what="never")


async def test_close_releases_held_answers() -> None:
    fake = await FakeSlackApi().start()
    client = AsyncWebClient(token=fake.token, base_url=fake.base_url)
    fake.hold("auth.test")
    task = asyncio.create_task(client.auth_test())
    await fake.next_call("auth.test")

    await fake.close()

    assert (await task)["ok"] is True
    await fake.close()  # idempotent
