"""The one aiohttp app of `serve`: health, readiness, metrics; chat adapters add their routes."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import text

from adapters.pagerduty import webhook as pagerduty_webhook
from adapters.pagerduty.incidents import PagerDutyIncidents
from adapters.storage.deliveries import SqlDeliveries
from bot.wiring import Bot, incident_sources
from core.errors import Unavailable
from core.incidents import Incident
from core.requests import Status

log = logging.getLogger(__name__)

BOT_KEY = web.AppKey("bot", Bot)
READY_TIMEOUT = 2.0
"""Seconds `/readyz` waits for the database: a hung connection must not hang the probe."""

_abandoned: set[asyncio.Task[Any]] = set()  # given-up checks, referenced until their cleanup ends


class Metrics:
    """Gauges read fresh at scrape time from the database, so every replica reports the truth."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.roster_age = Gauge(
            "oncall_access_roster_age_seconds",
            "Age of the latest roster snapshot",
            ["provider"],
            registry=self.registry,
        )
        self.requests = Gauge(
            "oncall_access_requests", "Requests by status", ["status"], registry=self.registry
        )
        self.sync_failures = Gauge(
            "oncall_access_sync_consecutive_failures",
            "Failed syncs in a row",
            ["provider"],
            registry=self.registry,
        )

    async def collect(self, bot: Bot) -> bytes:
        now = bot.clock.now()
        self.roster_age.clear()  # a disconnected provider's last age must not linger
        self.sync_failures.clear()
        for provider, taken in (await bot.rosters.versions()).items():
            self.roster_age.labels(provider.value).set((now - taken).total_seconds())
        for health in await bot.rosters.health():
            self.sync_failures.labels(health.provider.value).set(health.consecutive_failures)
        for status in (Status.PENDING, Status.ACTIVE):
            self.requests.labels(status.value).set(len(await bot.requests.with_status(status)))
        return generate_latest(self.registry)


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


def _pagerduty_webhook(bot: Bot) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """`POST /webhooks/pagerduty`: signed v3 deliveries end the access of resolved or
    reassigned incidents (replays recognised across replicas through the database)."""
    deliveries = SqlDeliveries(bot.engine, bot.clock.now, pagerduty_webhook.REPLAY_WINDOW)

    async def incident_of(data: dict[str, Any]) -> Incident | None:
        sources = incident_sources(bot.providers)
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
    app = web.Application()
    app[BOT_KEY] = bot
    metrics = Metrics()
    token = bot.settings.metrics_token

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        ready, checks = await readiness(bot)
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def metrics_route(request: web.Request) -> web.Response:
        if token and not _bearer(request, token):
            return web.Response(
                status=401, text="unauthorized\n", headers={"WWW-Authenticate": "Bearer"}
            )
        try:
            body = await metrics.collect(bot)
        except Unavailable as exc:  # the scrape fails, which is the signal; no traceback per scrape
            log.warning("metrics: database unavailable: %s", exc.detail)
            return web.Response(status=503, text="database unavailable\n")
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_post(pagerduty_webhook.PATH, _pagerduty_webhook(bot))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_route)
    return app
