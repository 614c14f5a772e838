"""`record`, `webhook`, `opsgenie-role` and `pagerduty-role`."""

from __future__ import annotations

from adapters.grants.record import RecordGranter
from adapters.grants.webhook import WebhookGranter
from bot.grant_targets import GranterContext
from bot.granters import role_granters
from core.ports import Granter


def granters(context: GranterContext) -> dict[str, Granter]:
    return {
        "record": RecordGranter(),
        "webhook": WebhookGranter(context.env, metrics=context.metrics),
        **role_granters(context.providers, context.kv),
    }
