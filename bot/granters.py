"""The Opsgenie and PagerDuty role granters, bound to whichever connection is live when they act.

Admins connect, reconnect and disconnect providers while the bot runs (`bot.providers` is that
live list), so the granters look the client up on every grant and revoke instead of keeping one.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.opsgenie.client import OpsgenieClient
from adapters.opsgenie.granter import OpsgenieRoleGranter
from adapters.opsgenie.provider import OpsgenieRosterProvider
from adapters.pagerduty.client import PagerDutyClient
from adapters.pagerduty.granter import PagerDutyRoleGranter
from adapters.pagerduty.provider import PagerDutyRosterProvider
from adapters.providerhttp.heldroles import KeyValues
from core.errors import DomainError
from core.ports import Granter, RosterProvider


def role_granters(providers: Sequence[RosterProvider], notes: KeyValues) -> dict[str, Granter]:
    """`opsgenie-role` and `pagerduty-role`, reading `providers` (the live list) at call time."""

    def opsgenie() -> OpsgenieClient:
        for provider in providers:
            if isinstance(provider, OpsgenieRosterProvider):
                return provider.client
        raise DomainError("Opsgenie is not connected; an admin can connect it with `connect`.")

    def pagerduty() -> PagerDutyClient:
        for provider in providers:
            if isinstance(provider, PagerDutyRosterProvider):
                return provider.client
        raise DomainError("PagerDuty is not connected; an admin can connect it with `connect`.")

    return {
        "opsgenie-role": OpsgenieRoleGranter(opsgenie, notes),
        "pagerduty-role": PagerDutyRoleGranter(pagerduty, notes),
    }
