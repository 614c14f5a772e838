"""The one aiohttp app of `serve`: health, readiness, metrics; chat adapters add their routes."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import text

from bot.wiring import Bot
from core.requests import Status

BOT_KEY = web.AppKey("bot", Bot)


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
    checks: dict[str, str] = {}
    try:
        async with bot.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable ({type(exc).__name__})"
    if checks["database"] == "ok":
        versions = await bot.rosters.versions()
        now, max_age = bot.clock.now(), bot.settings.roster_max_age
        for provider in bot.providers:
            taken = versions.get(provider.provider)
            if taken is None:
                checks[f"roster:{provider.provider.value}"] = "never synced"
            elif now - taken > max_age:
                checks[f"roster:{provider.provider.value}"] = f"stale (taken {taken.isoformat()})"
            else:
                checks[f"roster:{provider.provider.value}"] = "ok"
    return all(v == "ok" for v in checks.values()), checks


def make_app(bot: Bot) -> web.Application:
    app = web.Application()
    app[BOT_KEY] = bot
    metrics = Metrics()

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        ready, checks = await readiness(bot)
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def metrics_route(_: web.Request) -> web.Response:
        body = await metrics.collect(bot)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_route)
    return app
