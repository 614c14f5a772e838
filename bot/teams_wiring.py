"""Mounts the bot's Teams surface (built with the bot, `build(chat=...)`) on the one aiohttp app
of ``serve``: ``POST /api/messages``.

The route is always mounted, so an unconfigured bot answers 401 instead of 404 and never acts on
unauthenticated input; the notifier only exists when Teams is configured.
"""

from __future__ import annotations

from aiohttp import web

from adapters.teams.app import TeamsSurface
from bot.chat_config import teams_settings
from bot.wiring import Bot

__all__ = ["TEAMS_ROUTE", "mount_teams", "teams_settings"]

TEAMS_ROUTE = "/api/messages"


def mount_teams(app: web.Application, bot: Bot) -> TeamsSurface:
    """Mount ``POST /api/messages`` on ``app``: the bot's Teams surface, or a route answering 401
    when the bot was built without chat surfaces."""
    if bot.teams is None:
        raise ValueError("the bot was built without chat surfaces (build(chat=...))")
    app.router.add_post(TEAMS_ROUTE, bot.teams.route)
    return bot.teams
