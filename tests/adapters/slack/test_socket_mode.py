"""Socket Mode: with an app-level token the bot opens a WebSocket to Slack (the URL comes from
`apps.connections.open` on the configured Web API) and answers the same commands through it,
acknowledging each envelope."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from tests.adapters.slack.rig import ALICE, start_rig
from tests.conftest import FakeClock
from tests.fakes.slack import FakeSlackApi, payloads, post_raw, serve

APP_TOKEN = "xapp-1-A0FAKE0001-1-fake"


@asynccontextmanager
async def socket_server(
    envelopes: list[dict[str, Any]],
) -> AsyncIterator[tuple[str, asyncio.Queue[dict[str, Any]]]]:
    """A Socket Mode endpoint: says hello, sends the envelopes, queues what the app sends back."""
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def link(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1})
        for envelope in envelopes:
            await ws.send_json(envelope)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await received.put(json.loads(message.data))
        return ws

    app = web.Application()
    app.router.add_get("/link", link)
    async with serve(app) as root:
        yield root.replace("http://", "ws://") + "/link", received


async def test_socket_mode_answers_commands_over_the_websocket(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    async with FakeSlackApi(extra_tokens=[APP_TOKEN]) as fake:
        fake.add_user(ALICE, "alice@example.com")
        command = payloads.decode(
            *payloads.slash_command("list", user_id=ALICE, response_url=fake.response_url("cmd"))
        )
        envelope = {
            "envelope_id": "1d3c79ab-0ffb-41f3-a080-d19e85f53649",
            "payload": command,
            "type": "slash_commands",
            "accepts_response_payload": True,
        }
        async with socket_server([envelope]) as (ws_url, received):
            # The fake Web API has no Socket Mode; teach it the one method that hands out the URL.
            fake._handlers["apps.connections.open"] = lambda params: {"ok": True, "url": ws_url}
            async with start_rig(
                fake,
                tmp_path,
                sqlite_url,
                clock,
                configure=lambda c: replace(c, app_token=APP_TOKEN, signing_secret=None),
            ) as rig:
                ack = await asyncio.wait_for(received.get(), timeout=5)
                assert ack["envelope_id"] == envelope["envelope_id"]
                assert "✓ prod-db" in await rig.answer()
                opened = fake.calls("apps.connections.open")
                assert [c.token for c in opened] == [APP_TOKEN]
                # Without a signing secret there is no HTTP route to forge requests against.
                body, content_type = payloads.slash_command("list", user_id=ALICE)
                reply = await post_raw(rig.url, body, {"Content-Type": content_type})
                assert reply.status in (404, 405)
