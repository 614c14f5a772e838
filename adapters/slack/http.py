"""`POST /slack/events` on the bot's aiohttp app: two translation functions around
`AsyncApp.async_dispatch` (bolt's `to_aiohttp_response`, and a `to_bolt_request` that reads the
body as UTF-8 whatever charset the request claims), one route for commands, interactivity and
events.

Slash commands, button clicks and events are acknowledged here, with an empty 200, before bolt
sees them: bolt's dispatch and the work it starts run after the ack, in the surface's background
turns (`Acker`), so a burst of commands is acked about as fast as a bare endpoint answers while
their answers follow on `response_url`. Forms and option menus answer in the ack, so bolt runs
first for them.

The signature is checked before the body is parsed (bolt checks it again): an unsigned caller
learns nothing about parsing (401), a signed body that is not a Slack payload gets 400, and no
odd header or body can turn into a 500: the timestamp is read only when it is a plausible number,
bytes that are not UTF-8 are not Slack's, and JSON nested deeper than any Slack payload is refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import extract_team_id, parse_body
from slack_sdk.signature import SignatureVerifier

from adapters.slack.deliveries import Deliveries, delivery_key
from core.limits import depth_at_most

log = logging.getLogger(__name__)


REPLAY_CHECK_BUDGET = 0.5  # seconds of Slack's three the check may take before acking anyway


async def _first(deliveries: Deliveries, request: web.Request, body: Any) -> bool:
    return await _first_key(deliveries, delivery_key(request.headers, body))


async def _first_key(deliveries: Deliveries, key: str) -> bool:
    """Whether this signed delivery is new. With the database out or slow it is served (the
    work that follows answers the outage) rather than refused or acked late."""
    try:
        async with asyncio.timeout(REPLAY_CHECK_BUDGET):
            return await deliveries.first(key)
    except Exception as exc:
        log.warning("served a Slack request unchecked against replays: %s", type(exc).__name__)
        return True


GATE = "first_delivery"
"""Bolt context key: a future telling whether this delivery is new, for work done after the ack."""
ACKED = "acked_by_route"
"""Bolt context key: the route has acknowledged already, so listeners do their work inline."""
_checks: set[asyncio.Future[bool]] = set()


def _keep(check: asyncio.Future[bool]) -> asyncio.Future[bool]:
    """Hold the check until it is done, whether or not a listener awaits it."""
    _checks.add(check)
    check.add_done_callback(_checks.discard)
    return check


async def settle_checks(within: float = 2.0) -> None:
    """Let replay checks still running finish (at shutdown, before the database goes)."""
    if _checks:
        await asyncio.wait(set(_checks), timeout=within)


def _acked_empty(body: Any) -> bool:
    """Slash commands, button clicks and events are acknowledged with an empty 200 and their
    work runs after it; forms answer in the ack itself (errors, the next view)."""
    return bool(body.get("command")) or body.get("type") in ("block_actions", "event_callback")


KNOWN_TYPES = frozenset(
    {
        "block_actions",
        "block_suggestion",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
        "interactive_message",
        "event_callback",
        "url_verification",
        "app_rate_limited",
    }
)


MAX_TIMESTAMP_DIGITS = 12  # seconds since 1970 have 10 digits until the year 2286
MAX_DEPTH = 32  # Block Kit payloads nest about 10 levels


def _to_bolt_request(request: web.Request, text: str) -> AsyncBoltRequest:
    return AsyncBoltRequest(body=text, query=request.query_string, headers=request.headers)  # type: ignore[arg-type]


def _parsed(request: web.Request, text: str) -> Any:
    """The body as bolt will read it (its own `parse_body`, on the content type it will take:
    the last header's, up to `;`), without building the rest of a bolt request on the ack path."""
    types = request.headers.getall("Content-Type", [])
    return parse_body(text, types[-1].split(";")[0] if types and types[-1] else None)


def _shallow_enough(body: Mapping[str, Any]) -> bool:
    """A form (a slash command) is flat; JSON is measured."""
    return all(isinstance(v, str) for v in body.values()) or depth_at_most(body, MAX_DEPTH)


def _recognised(body: Any) -> bool:
    """A slash command, an interaction payload, an Events API callback or Slack's SSL check."""
    if not isinstance(body, Mapping):
        return False
    kind = body.get("type")
    return bool(
        body.get("command")
        or body.get("ssl_check")
        or (isinstance(kind, str) and kind in KNOWN_TYPES)
    )


@dataclass(frozen=True)
class Acker:
    """What acknowledging before bolt needs: whether a team is the one this app serves (from
    memory once warm), the sentence for a command from another workspace, and where the work
    after the ack runs."""

    serves: Callable[[str | None], Awaitable[bool]]
    other_workspace: str
    later: Callable[[Coroutine[Any, Any, None]], object]

    async def refusal(self, body: Mapping[str, Any]) -> web.Response | None:
        """The answer to a delivery from another workspace, or None when it is ours."""
        try:
            if await self.serves(extract_team_id(dict(body))):
                return None
        except Exception:
            log.exception("cannot tell which workspace this app serves")
        log.warning("refused a Slack request from another workspace")
        if body.get("command"):
            return web.Response(
                text=json.dumps({"response_type": "ephemeral", "text": self.other_workspace}),
                content_type="application/json",
            )
        return web.Response(status=200)


def events_route(
    app: AsyncApp,
    signing_secret: str,
    deliveries: Deliveries | None = None,
    acker: Acker | None = None,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    verifier = SignatureVerifier(signing_secret)

    def signed(request: web.Request, text: str) -> bool:
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        plausible = (
            timestamp.isascii()
            and timestamp.isdigit()
            and len(timestamp) <= MAX_TIMESTAMP_DIGITS
            and signature.isascii()  # hmac.compare_digest refuses other strings with TypeError
        )
        return plausible and verifier.is_valid(body=text, timestamp=timestamp, signature=signature)

    async def slack_events(request: web.Request) -> web.Response:
        try:
            text: str | None = (await request.read()).decode("utf-8")
        except UnicodeDecodeError:  # Slack signs UTF-8 text; other bytes were not sent by Slack
            text = None
        if text is None or not signed(request, text):
            log.info("refused a Slack request with a missing, wrong or stale signature")
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            body = _parsed(request, text)
        except (ValueError, AttributeError, TypeError, RecursionError):  # bad JSON, a list…
            body = None
        if not _recognised(body) or not _shallow_enough(body):
            log.warning("refused a signed Slack request whose body is not a Slack payload")
            return web.json_response({"error": "malformed request"}, status=400)
        if acker is not None and _acked_empty(body):
            refused = await acker.refusal(body)
            if refused is not None:
                return refused
            key = delivery_key(request.headers, body) if deliveries else None
            acker.later(_after_ack(app, request, text, deliveries, key))
            return web.Response(status=200)
        bolt_request = _to_bolt_request(request, text)
        if deliveries is not None:
            check = _first(deliveries, request, bolt_request.body)
            if _acked_empty(bolt_request.body):
                # The ack says nothing, so it need not wait for the database: the work that
                # follows it waits for this answer instead (`GATE`) and a replay does nothing.
                bolt_request.context[GATE] = _keep(asyncio.ensure_future(check))
            elif not await check:
                log.info("ignored a Slack request already handled (a replay, or Slack retrying)")
                return web.Response(status=200)
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    return slack_events


async def _after_ack(
    app: AsyncApp,
    request: web.Request,
    text: str,
    deliveries: Deliveries | None,
    key: str | None,
) -> None:
    """The work of a delivery already acknowledged, unless it was handled before (a replay, or
    Slack retrying): bolt's middleware and listener, whose response (the listener's empty ack)
    has nowhere to go."""
    if deliveries is not None and key is not None and not await _first_key(deliveries, key):
        log.info("ignored a Slack request already handled (a replay, or Slack retrying)")
        return
    bolt_request = _to_bolt_request(request, text)
    bolt_request.context[ACKED] = True
    response = await app.async_dispatch(bolt_request)
    if response.status >= 500:
        log.error("Slack work after the ack failed with status %s", response.status)
