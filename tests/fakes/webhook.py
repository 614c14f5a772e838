"""A webhook receiver as a team would write one: verifies the signature, refuses replays older
than 5 minutes, and treats a repeated idempotency key as done. It records what it acted on."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

REPLAY_WINDOW = 300


def verify(
    secret: str, timestamp: str, signature: str, body: bytes, now: float | None = None
) -> bool:
    """The receiver-side check documented in docs/grants.md."""
    if abs((now or time.time()) - int(timestamp)) > REPLAY_WINDOW:
        return False
    expected = hmac.new(
        secret.encode(), f"v1:{timestamp}:".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(f"v1={expected}", signature)


@dataclass
class FakeWebhookReceiver:
    secret: str
    acted: list[dict[str, Any]] = field(default_factory=list)  # events acted on, once per key
    deliveries: int = 0
    rejected: int = 0
    fail_next: list[int] = field(default_factory=list)  # statuses to answer before acting
    lose_response_next: int = 0  # act, then answer 500 (the bot never hears it worked)
    down: bool = False
    _seen: set[str] = field(default_factory=set)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.deliveries += 1
        body = await request.read()
        if self.down:
            return web.Response(status=503)
        if self.fail_next:
            return web.Response(status=self.fail_next.pop(0))
        ts = request.headers.get("X-Oncall-Access-Timestamp", "0")
        sig = request.headers.get("X-Oncall-Access-Signature", "")
        if not verify(self.secret, ts, sig, body):
            self.rejected += 1
            return web.Response(status=401)
        event = json.loads(body)
        if event["idempotency_key"] not in self._seen:
            self._seen.add(event["idempotency_key"])
            self.acted.append(event)
            self._changed.set()
        if self.lose_response_next:
            self.lose_response_next -= 1
            return web.Response(status=500)
        return web.json_response({"ok": True})

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.acted if e["event"] == kind]
