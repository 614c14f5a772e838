"""Serve an aiohttp app on loopback and send it signed Slack requests over real HTTP.

Inbound Slack traffic is tested through the network stack (headers, raw bytes, status codes),
not by calling handlers directly; a port picked by the OS keeps parallel runs apart.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from tests.fakes.slack.signing import signed_headers

LOOPBACK = "127.0.0.1"


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run ``app`` on ``127.0.0.1`` with an ephemeral port; yield ``http://127.0.0.1:<port>``."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, LOOPBACK, 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@dataclass(frozen=True)
class HttpReply:
    """What the app answered: enough to assert on Slack's view of the exchange."""

    status: int
    text: str
    headers: CIMultiDict[str] = field(repr=False)

    def json(self) -> Any:
        return json.loads(self.text)


async def send_signed(
    url: str,
    body: bytes,
    content_type: str,
    *,
    secret: str,
    timestamp: int | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> HttpReply:
    """POST ``body`` to ``url`` signed with ``secret``, as Slack would; return the reply.

    ``timestamp`` defaults to now; pass an old one, or sign with another secret, to check that
    the app refuses the request.
    """
    headers = signed_headers(body, content_type, secret, timestamp=timestamp)
    headers.update(extra_headers or {})
    return await post_raw(url, body, headers)


async def post_raw(url: str, body: bytes, headers: Mapping[str, str]) -> HttpReply:
    """POST exact bytes with exact headers (for tampered or unsigned requests)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=dict(headers)) as resp,
    ):
        return HttpReply(
            status=resp.status, text=await resp.text(), headers=CIMultiDict(resp.headers)
        )
