"""How the bot mounts its Slack surface (built with the bot, `build(chat=...)`) on the one
aiohttp app of `serve`: `POST /slack/events` is routed to bolt, and the app's start and cleanup
run Socket Mode and background work."""

from __future__ import annotations

import logging

from aiohttp import web

from adapters.slack.app import SlackSurface
from adapters.slack.constants import EVENTS_PATH
from bot.chat_config import slack_config
from bot.wiring import Bot

__all__ = ["SLACK_KEY", "mount_slack", "slack_config"]

log = logging.getLogger(__name__)

SLACK_KEY = web.AppKey("slack", SlackSurface)


def mount_slack(
    bot: Bot, app: web.Application, surface: SlackSurface | None = None
) -> SlackSurface | None:
    """Add the bot's Slack surface (or `surface`, one on another dispatcher) to `app`; None when
    Slack is not configured."""
    surface = surface or bot.slack
    if surface is None:
        return None
    config = surface.config
    app[SLACK_KEY] = surface
    if config.signing_secret:
        app.router.add_post(EVENTS_PATH, surface.route())
    mode = "Socket Mode" if config.app_token else "HTTP"
    if config.app_token and config.signing_secret:
        mode = f"HTTP ({EVENTS_PATH}) and Socket Mode"

    async def start(_: web.Application) -> None:
        await surface.start()
        log.info("Slack surface on (%s)", mode)

    async def stop(_: web.Application) -> None:
        await surface.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return surface
