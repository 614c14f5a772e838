"""Every granter the bot runs, one module per grant type (or family) in this package.

A module here defines `granters(context) -> {type: Granter}`; the package is scanned, so adding
a grant type adds a module (beside its policy check in `core.grant_types`) and edits no shared
list. The context holds what granters are built from; each takes what it needs.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from adapters.providerhttp.heldroles import KeyValues
from bot.grant_connections import GrantTargets
from bot.settings import Settings
from core.ports import NO_METRICS, Clock, Granter, IdentityOverrides, Metrics, RosterProvider


@dataclass(frozen=True)
class GranterContext:
    """What granters are built from: settings, the environment (AWS and webhook secrets are
    read from it), the shared key-value store for notes that must survive restarts, the live
    list of connected providers, the connected grant targets (Entra ID, Okta, GitHub), the
    admins' identity mappings (a GitHub login for an email), and the bot's metrics, for
    granters that report (the webhook's latency)."""

    settings: Settings
    env: Mapping[str, str]
    kv: KeyValues
    providers: Sequence[RosterProvider]
    clock: Clock
    targets: GrantTargets | None = None
    identities: IdentityOverrides | None = None
    metrics: Metrics = NO_METRICS


def all_granters(context: GranterContext) -> dict[str, Granter]:
    """Every module's granters, by grant type."""
    found: dict[str, Granter] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        make = getattr(importlib.import_module(f"{__name__}.{module}"), "granters", None)
        if make is None:
            continue
        for kind, granter in make(context).items():
            if kind in found:
                raise RuntimeError(f"grant type {kind} is wired twice")
            found[kind] = granter
    return found
