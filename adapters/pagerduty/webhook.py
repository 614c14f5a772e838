"""`POST /webhooks/pagerduty`: PagerDuty v3 webhook deliveries that end incident access.

Authenticated as PagerDuty documents it: `X-PagerDuty-Signature` holds one or more `v1=HEX`
signatures (several while a secret is rotated), each the HMAC-SHA256 of the raw body under a
subscription's secret; one match, compared in constant time, suffices. The signature carries no
time, so the signed body's `event.occurred_at` does: a delivery older than the replay window (or
from the future) is refused, and one already handled within it (its `event.id`, which PagerDuty's
retries keep) is answered 200 without running again, on whichever replica receives it.
Every refusal is a 4xx with one sentence; PagerDuty drops a 4xx without retrying.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from core.incidents import Incident, IncidentEvent, IncidentEventKind

log = logging.getLogger(__name__)

PATH = "/webhooks/pagerduty"
MAX_BODY = 256 * 1024  # PagerDuty drops webhooks over 256 KB itself
REPLAY_WINDOW = timedelta(minutes=10)
FUTURE_SKEW = timedelta(minutes=5)
KINDS = {
    "incident.resolved": IncidentEventKind.RESOLVED,
    # Each of these changes who is assigned: the assignees in the event are compared.
    "incident.reassigned": IncidentEventKind.REASSIGNED,
    "incident.escalated": IncidentEventKind.REASSIGNED,
    "incident.delegated": IncidentEventKind.REASSIGNED,
}


def sign(body: bytes, secret: str) -> str:
    """One `v1=` signature, as PagerDuty computes it."""
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed(body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """Whether any `v1=` signature in the header matches the body under any secret."""
    if not header or not secrets:
        return False
    given = [s.strip() for s in header.split(",") if s.strip().startswith("v1=")]
    expected = [sign(body, secret) for secret in secrets]
    return any(
        hmac.compare_digest(g.encode(errors="replace"), e.encode()) for g in given for e in expected
    )


def _event(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    event = parsed.get("event") if isinstance(parsed, dict) else None
    return event if isinstance(event, dict) else None


def _when(value: object) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _refuse(status: int, sentence: str) -> web.Response:
    return web.json_response({"error": sentence}, status=status)


def make_handler(
    *,
    secrets: Callable[[], Sequence[str]],
    now: Callable[[], datetime],
    first: Callable[[str], Awaitable[bool]],
    incident_of: Callable[[dict[str, Any]], Awaitable[Incident | None]],
    handle: Callable[[IncidentEvent], Awaitable[int]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The route's handler. `first(key)` records a delivery and says whether it is new (across
    replicas); `incident_of` reads the event's incident; `handle` ends the access it affects."""

    async def receive(request: web.Request) -> web.Response:
        keys = secrets()
        if not keys:
            return _refuse(
                404, "PagerDuty webhooks are not set up here (PAGERDUTY_WEBHOOK_SECRET)."
            )
        if (request.content_length or 0) > MAX_BODY:
            return _refuse(413, "The delivery is larger than PagerDuty sends.")
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return _refuse(413, "The delivery is larger than PagerDuty sends.")
        if not signed(body, request.headers.get("X-PagerDuty-Signature"), keys):
            log.warning("a PagerDuty webhook delivery without a valid signature was refused")
            return _refuse(401, "The delivery is not signed with this subscription's secret.")
        event = _event(body)
        if event is None or not isinstance(event.get("id"), str) or not event["id"]:
            return _refuse(400, "The delivery is not a PagerDuty v3 webhook event.")
        occurred = _when(event.get("occurred_at"))
        at = now()
        if occurred is None or occurred < at - REPLAY_WINDOW or occurred > at + FUTURE_SKEW:
            log.warning("a stale PagerDuty webhook delivery was refused (%s)", event["id"][:64])
            return _refuse(400, "The delivery is too old or not yet due; it was not acted on.")
        kind = KINDS.get(str(event.get("event_type")), IncidentEventKind.OTHER)
        data = event.get("data")
        if kind is IncidentEventKind.OTHER or not isinstance(data, dict):
            return web.json_response({"ok": True, "acted": 0}, status=202)
        if not await first(f"pagerduty:{event['id'][:120]}"):
            return web.json_response({"ok": True, "repeat": True})
        incident = await incident_of(data)
        if incident is None:
            return _refuse(400, "The delivery's incident could not be read.")
        try:
            acted = await handle(IncidentEvent(event["id"], kind, incident, occurred))
        except Exception:  # polling ends the access within 30 s; PagerDuty need not retry
            log.exception("ending access for a PagerDuty incident event failed")
            return _refuse(503, "The delivery was received but not acted on yet; polling will.")
        return web.json_response({"ok": True, "acted": acted}, status=202)

    return receive
