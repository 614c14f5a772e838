"""A real bolt AsyncApp behind aiohttp, driven by signed requests and backed by the fake.

Proves the harness end to end the way the Slack adapter will use it: bytes over HTTP to an
aiohttp route, bolt's signature check, ``ack`` as the HTTP answer, and follow-up work hitting
the fake Web API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack import FakeSlackApi, payloads, send_signed, serve
from tests.fakes.slack.constants import SIGNING_SECRET


def build_app(fake: FakeSlackApi, done: asyncio.Queue[str]) -> AsyncApp:
    # Pass the client only: with both `token` and `client`, bolt ignores the token and logs a
    # warning. Bolt copies this client's base_url into the per-request client it injects.
    app = AsyncApp(
        signing_secret=SIGNING_SECRET,
        client=AsyncWebClient(token=fake.token, base_url=fake.base_url),
    )

    @app.command("/access")
    async def on_access(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await respond(f"received: {command['text']}")
        await done.put("command")

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": []})
        await done.put("home")

    return app


@pytest.fixture
async def bolt_url(fake_slack: FakeSlackApi) -> AsyncIterator[tuple[str, asyncio.Queue[str]]]:
    done: asyncio.Queue[str] = asyncio.Queue()
    bolt = build_app(fake_slack, done)

    async def slack_events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.router.add_post("/slack/events", slack_events)
    async with serve(web_app) as root:
        yield f"{root}/slack/events", done


async def test_signed_slash_command_is_acknowledged(
    fake_slack: FakeSlackApi, bolt_url: tuple[str, asyncio.Queue[str]]
) -> None:
    url, done = bolt_url
    body, content_type = payloads.slash_command(
        "request db-prod 2h", response_url=fake_slack.response_url("cmd")
    )

    reply = await send_signed(url, body, content_type, secret=SIGNING_SECRET)

    assert reply.status == 200
    assert reply.text == ""
    followup = await fake_slack.next_call("response_url:cmd")
    assert followup.params["text"] == "received: request db-prod 2h"
    assert await asyncio.wait_for(done.get(), 2) == "command"
    assert len(fake_slack.calls("auth.test")) == 1  # bolt authorizes via the fake


@pytest.mark.parametrize(
    ("secret", "age"),
    [("not-the-signing-secret", 0), (SIGNING_SECRET, 600)],
    ids=["wrong-secret", "stale-timestamp"],
)
async def test_badly_signed_slash_command_is_rejected(
    fake_slack: FakeSlackApi, bolt_url: tuple[str, asyncio.Queue[str]], secret: str, age: int
) -> None:
    url, done = bolt_url
    body, content_type = payloads.slash_command("request db-prod 2h")

    reply = await send_signed(
        url, body, content_type, secret=secret, timestamp=int(time.time()) - age
    )

    assert reply.status == 401
    assert reply.json() == {"error": "invalid request"}
    assert done.empty()
    assert fake_slack.calls() == []


async def test_app_home_opened_event(
    fake_slack: FakeSlackApi, bolt_url: tuple[str, asyncio.Queue[str]]
) -> None:
    url, done = bolt_url
    fake_slack.add_user("U77")
    body, content_type = payloads.app_home_opened("U77", channel_id=fake_slack.dm_channel_id("U77"))

    reply = await send_signed(url, body, content_type, secret=SIGNING_SECRET)

    assert reply.status == 200
    call = await fake_slack.next_call("views.publish")
    assert call.params["user_id"] == "U77"
    assert await asyncio.wait_for(done.get(), 2) == "home"
    assert fake_slack.home_views["U77"]["type"] == "home"
