"""How the bot builds the Slack surface from settings and mounts it on the one aiohttp app of
`serve`: the notifier joins the bot's fan-out, `POST /slack/events` is routed to bolt, and the
app's start and cleanup run Socket Mode and background work."""

from __future__ import annotations

import logging

from aiohttp import web

from adapters.slack.app import SlackConfig, SlackSurface
from adapters.slack.constants import EVENTS_PATH
from adapters.storage.deliveries import SqlDeliveries
from bot.settings import Settings
from bot.wiring import Bot

log = logging.getLogger(__name__)

SLACK_KEY = web.AppKey("slack", SlackSurface)


def slack_config(settings: Settings) -> SlackConfig | None:
    """None when Slack is not configured: a bot token and a way in (signing secret or app token)."""
    if not settings.slack_bot_token:
        return None
    if not (settings.slack_signing_secret or settings.slack_app_token):
        log.warning(
            "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET nor SLACK_APP_TOKEN: "
            "the Slack surface stays off"
        )
        return None
    return SlackConfig(
        bot_token=settings.slack_bot_token,
        signing_secret=settings.slack_signing_secret,
        app_token=settings.slack_app_token,
        api_url=settings.slack_api_url,
        team_id=settings.slack_team_id,
        enterprise_ids=settings.slack_enterprise_ids,
        approvals_channel=settings.slack_approvals_channel,
    )


def build_slack(bot: Bot, config: SlackConfig) -> SlackSurface:
    """The surface on the bot's dispatcher, with its notifier added to the bot's fan-out."""
    deliveries = SqlDeliveries(bot.engine, bot.clock.now)
    surface = SlackSurface(
        config, bot.dispatcher, bot.clock, kv=bot.kv, deliveries=deliveries, metrics=bot.metrics
    )
    bot.notifier.add(surface.notifier)
    return surface


def mount_slack(
    bot: Bot, app: web.Application, config: SlackConfig | None = None
) -> SlackSurface | None:
    """Add Slack to `app` when configured (from the bot's settings unless `config` is given)."""
    config = config or slack_config(bot.settings)
    if config is None:
        return None
    surface = build_slack(bot, config)
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
