"""The `webhook` granter: POSTs a signed JSON event to the team's own automation.

Signature: HMAC-SHA256 over `v1:{timestamp}:{body}` with the secret from the environment variable
the policy names, sent as `X-Oncall-Access-Timestamp` and `X-Oncall-Access-Signature: v1=<hex>`.
Every retry of one event carries the same `idempotency_key` in the signed body, so a receiver
that remembers keys acts once however often the bot retries. (The `Idempotency-Key` header repeats
it for convenience but is not signed: receivers must deduplicate on the body's field.)

Events: `grant`, `revoke`, and `extend` when an active grant's end moves (`end` is the new end;
each extension has its own key).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from core.errors import DomainError
from core.ports import NO_METRICS, Grant, Metrics

SIGNATURE_HEADER = "X-Oncall-Access-Signature"
TIMESTAMP_HEADER = "X-Oncall-Access-Timestamp"


class WebhookRejected(DomainError):
    """The receiver answered 4xx: retrying the same event will not help."""


class WebhookUnavailable(DomainError):
    """No 2xx after every attempt (5xx, 408, 429, timeouts, connection errors)."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"v1:{timestamp}:".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def idempotency_key(event: str, grant: Grant) -> str:
    if event == "extend":  # one key per new end: a second extension is a new event
        return f"{grant.request_id}:extend:{_iso(grant.end)}"
    return f"{grant.request_id}:{event}"


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def event_body(event: str, grant: Grant) -> dict[str, Any]:
    return {
        "event": event,
        "request_id": grant.request_id,
        "resource": grant.resource,
        "email": grant.email,
        "start": _iso(grant.start),
        "end": _iso(grant.end),
        "approvers": list(grant.approvers),
        "reason": grant.reason,
        "idempotency_key": idempotency_key(event, grant),
    }


class WebhookGranter:
    kind = "webhook"

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        client: httpx.AsyncClient | None = None,
        attempts: int = 4,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._env = env
        self._metrics = metrics
        self._client = client
        self._attempts = attempts
        self._timeout = timeout
        self._clock = clock
        self._sleep = sleep

    async def grant(self, grant: Grant) -> dict[str, Any]:
        return await self._send("grant", grant)

    async def revoke(self, grant: Grant) -> dict[str, Any]:
        return await self._send("revoke", grant)

    async def extend(self, grant: Grant) -> dict[str, Any]:
        return await self._send("extend", grant)

    async def _send(self, event: str, grant: Grant) -> dict[str, Any]:
        url = str(grant.spec.get("url", ""))
        secret_env = str(grant.spec.get("secret_env", ""))
        secret = self._env.get(secret_env)
        if not secret:
            raise WebhookRejected(
                f"The webhook secret variable {secret_env or '(unset)'} is not set on the server."
            )
        body = json.dumps(event_body(event, grant), sort_keys=True, separators=(",", ":")).encode()
        key = idempotency_key(event, grant)
        client = self._client or httpx.AsyncClient(timeout=self._timeout)
        last = ""
        try:
            for attempt in range(1, self._attempts + 1):
                timestamp = int(self._clock())
                headers = {
                    "Content-Type": "application/json",
                    TIMESTAMP_HEADER: str(timestamp),
                    SIGNATURE_HEADER: sign(secret, timestamp, body),
                    "Idempotency-Key": key,
                    "User-Agent": "oncall-access",
                }
                sent = time.monotonic()
                try:
                    response = await client.post(
                        url, content=body, headers=headers, timeout=self._timeout
                    )
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                    self._metrics.webhook_answered(time.monotonic() - sent)
                else:
                    self._metrics.webhook_answered(time.monotonic() - sent)
                    if 200 <= response.status_code < 300:
                        # where to send the revoke, even if the policy changes (never the secret)
                        return {
                            "type": self.kind,
                            "url": url,
                            "secret_env": secret_env,
                            "status": response.status_code,
                            "idempotency_key": key,
                            "attempts": attempt,
                        }
                    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                        raise WebhookRejected(
                            f"The {event} webhook was refused ({response.status_code})."
                        )
                    last = f"HTTP {response.status_code}"
                if attempt < self._attempts:
                    await self._sleep(
                        min(0.5 * 2 ** (attempt - 1), 8.0) * (0.5 + random.random() / 2)
                    )
        finally:
            if self._client is None:
                await client.aclose()
        raise WebhookUnavailable(
            f"The {event} webhook did not answer with success after {self._attempts} attempts ({last})."
        )
