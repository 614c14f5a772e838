"""Wires the Teams surface into a built Bot: ``POST /api/messages`` on the one aiohttp app of
``serve``, and the Teams notifier beside the other surfaces.

The route is always mounted, so an unconfigured bot answers 401 instead of 404 and never acts on
unauthenticated input; the notifier only exists when Teams is configured.
"""

from __future__ import annotations

from aiohttp import web

from adapters.teams.app import TeamsSettings, TeamsSurface, build_teams_surface
from bot.settings import Settings
from bot.wiring import Bot

TEAMS_ROUTE = "/api/messages"


def teams_settings(settings: Settings) -> TeamsSettings:
    return TeamsSettings(
        app_id=(settings.microsoft_app_id or "").strip() or None,
        app_password=settings.microsoft_app_password,
        app_type=settings.microsoft_app_type,
        tenant_id=(settings.microsoft_app_tenant_id or "").strip() or None,
        openid_metadata_url=settings.microsoft_openid_metadata_url,
        token_issuer=settings.microsoft_token_issuer,
        login_url=settings.microsoft_login_url,
        dev_no_auth=settings.teams_dev_no_auth,
        tenants=settings.teams_tenants,
        allow_any_tenant=settings.teams_allow_any_tenant,
    )


def build_teams(bot: Bot) -> TeamsSurface:
    """The Teams surface of ``bot``; raises ValueError naming a missing or bad setting."""
    surface = build_teams_surface(
        teams_settings(bot.settings), dispatcher=bot.dispatcher, kv=bot.kv, metrics=bot.metrics
    )
    if surface.notifier is not None:
        bot.notifier.add(surface.notifier)
    return surface


def mount_teams(app: web.Application, bot: Bot) -> TeamsSurface:
    """Build the Teams surface and mount ``POST /api/messages`` on ``app``."""
    surface = build_teams(bot)
    app.router.add_post(TEAMS_ROUTE, surface.route)
    return surface
