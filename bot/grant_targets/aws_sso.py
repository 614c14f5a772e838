"""`aws-sso`: credentials and endpoint come from the standard AWS chain of the bot's process."""

from __future__ import annotations

from adapters.aws.granter import AwsSsoGranter
from bot.grant_targets import GranterContext
from core.ports import Granter


def granters(context: GranterContext) -> dict[str, Granter]:
    return {"aws-sso": AwsSsoGranter(context.kv)}
