"""The one aiohttp app of `serve`: health, readiness, metrics; chat adapters add their routes."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import text

from adapters.pagerduty import webhook as pagerduty_webhook
from adapters.pagerduty.incidents import PagerDutyIncidents
from adapters.storage.deliveries import SqlDeliveries
from bot import logs
from bot.shutdown import Draining
from bot.wiring import Bot, pagerduty_incidents
from core.errors import Unavailable
from core.incidents import Incident

log = logging.getLogger(__name__)

BOT_KEY = web.AppKey("bot", Bot)
DRAINING_KEY = web.AppKey("draining", Draining)
READY_TIMEOUT = 2.0
"""Seconds `/readyz` waits for the database: a hung connection must not hang the probe."""

_abandoned: set[asyncio.Task[Any]] = set()  # given-up checks, referenced until their cleanup ends


async def readiness(bot: Bot) -> tuple[bool, dict[str, str]]:
    """Whether this replica can serve: the database answers (within READY_TIMEOUT) and every
    provider's roster is fresh enough to decide on."""
    # The checks run as their own task: cancelling a hung connection can take longer than the
    # probe may wait, so the answer is not held up by the cleanup.
    checks = asyncio.ensure_future(_checks(bot))
    done, _ = await asyncio.wait({checks}, timeout=READY_TIMEOUT)
    if not done:
        checks.cancel()
        _abandoned.add(checks)
        checks.add_done_callback(_retrieve)
        found = {"database": f"unreachable (no answer within {READY_TIMEOUT:g} s)"}
    else:
        found = checks.result()
    return all(v == "ok" for v in found.values()), found


async def _checks(bot: Bot) -> dict[str, str]:
    try:
        async with bot.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # whatever stops a plain SELECT, this replica cannot serve
        return {"database": f"unreachable ({_kind(exc)})"}
    try:
        versions = await bot.rosters.versions()
    except Unavailable as exc:  # gone between the two reads
        return {"database": f"unreachable ({_kind(exc)})"}
    checks = {"database": "ok"}
    now, max_age = bot.clock.now(), bot.settings.roster_max_age
    for provider in bot.providers:
        taken = versions.get(provider.provider)
        if taken is None:
            checks[f"roster:{provider.provider.value}"] = "never synced"
        elif now - taken > max_age:
            checks[f"roster:{provider.provider.value}"] = f"stale (taken {taken.isoformat()})"
        else:
            checks[f"roster:{provider.provider.value}"] = "ok"
    return checks


def _kind(exc: BaseException) -> str:
    """The failure's type, seen through the outage it was translated into."""
    return type(exc.__cause__ if isinstance(exc, Unavailable) and exc.__cause__ else exc).__name__


def _retrieve(task: asyncio.Task[Any]) -> None:
    """A readiness check given up on may still fail while it is cancelled; that is expected."""
    _abandoned.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.debug("an abandoned readiness check ended with %r", task.exception())


def _bearer(request: web.Request, token: str) -> bool:
    """Whether the request carries `Authorization: Bearer <token>` (compared in constant time)."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every inbound request gets an id (the caller's `X-Request-Id` when plausible): set for
    the logs of everything it does, background work it starts included, and sent back."""
    rid = logs.request_id(request.headers.get("X-Request-Id"))
    token = logs.REQUEST_ID.set(rid)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["X-Request-Id"] = rid
        raise
    finally:
        logs.REQUEST_ID.reset(token)
    response.headers["X-Request-Id"] = rid
    return response


def _pagerduty_webhook(bot: Bot) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """`POST /webhooks/pagerduty`: signed v3 deliveries end the access of resolved or
    reassigned incidents (replays recognised across replicas through the database)."""
    deliveries = SqlDeliveries(bot.engine, bot.clock.now, pagerduty_webhook.REPLAY_WINDOW)

    async def incident_of(data: dict[str, Any]) -> Incident | None:
        sources = pagerduty_incidents(bot.providers)
        if not sources:  # disconnected since: read it without emails (so nobody stays assigned)
            return await PagerDutyIncidents.unmapped(data)
        return await sources[0].from_webhook(data)

    return pagerduty_webhook.make_handler(
        secrets=lambda: bot.settings.pagerduty_webhook_secrets,
        now=bot.clock.now,
        first=deliveries.first,
        incident_of=incident_of,
        handle=bot.service.incidents.on_event,
    )


def make_app(bot: Bot) -> web.Application:
    draining = Draining()
    app = web.Application(middlewares=[request_ids, draining.middleware()])
    app[BOT_KEY] = bot
    app[DRAINING_KEY] = draining
    token = bot.settings.metrics_token

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        if draining.stopping:  # the load balancer should send nothing more here
            return web.json_response(
                {"ready": False, "checks": {"shutdown": "stopping"}}, status=503
            )
        ready, checks = await readiness(bot)
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def metrics_route(request: web.Request) -> web.Response:
        if token and not _bearer(request, token):
            return web.Response(
                status=401, text="unauthorized\n", headers={"WWW-Authenticate": "Bearer"}
            )
        try:
            body = await bot.metrics.exposition(bot.rosters, bot.requests, bot.clock.now())
        except Unavailable as exc:  # the scrape fails, which is the signal; no traceback per scrape
            log.warning("metrics: database unavailable: %s", exc.detail)
            return web.Response(status=503, text="database unavailable\n")
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_post(pagerduty_webhook.PATH, _pagerduty_webhook(bot))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_route)
    return app
