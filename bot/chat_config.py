"""Which chat surfaces `serve` builds, read from settings: Slack when a bot token and a way in
are set, Teams always (unconfigured, its route answers 401 and it has no notifier)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from adapters.slack.app import SlackConfig
from adapters.teams.app import TeamsSettings
from bot.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChatConfig:
    slack: SlackConfig | None = None
    teams: TeamsSettings = field(default_factory=TeamsSettings)


def chat_from(settings: Settings) -> ChatConfig:
    return ChatConfig(slack_config(settings), teams_settings(settings))


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
