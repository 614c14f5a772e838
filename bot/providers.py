"""Builds roster providers from stored connections and settings (base URL overrides, regions)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from adapters.jsm.provider import JsmRosterProvider
from adapters.opsgenie.provider import OpsgenieRosterProvider
from adapters.pagerduty.provider import PagerDutyRosterProvider
from bot.settings import Settings
from core.connections import ConnectForm
from core.groups import GroupRef
from core.ports import (
    ConnectedProvider,
    FetchResult,
    IdentityOverrides,
    SyncProgress,
    Verification,
)
from core.roster import Shift


def config_and_secrets(form: ConnectForm) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a form into what may be shown (config) and what is sealed (secrets)."""
    config: dict[str, Any] = {"region": form.region, "auth": form.auth}
    secrets: dict[str, Any] = {}
    if form.provider == "pagerduty" and form.auth != "api_key":
        config.update(client_id=form.client_id, subdomain=account_subdomain(form.subdomain))
        secrets["client_secret"] = form.client_secret
    elif form.provider == "jsm":
        config.update(site=form.site, email=form.email, org_id=form.org_id or None)
        secrets["api_token"] = form.api_token
    else:
        secrets["api_key"] = form.api_key
    return config, secrets


def account_subdomain(typed: str) -> str:
    """`acme` from what an admin may paste: `acme`, `acme.pagerduty.com`, an https address."""
    host = typed.strip().lower().removeprefix("https://").removeprefix("http://")
    host = host.split("/", 1)[0]
    return host.removesuffix(".eu.pagerduty.com").removesuffix(".pagerduty.com")


class AccountMappedProvider:
    """Hands admin mappings (`identity map jsm:ACCOUNT_ID EMAIL`) to the JSM provider before each
    sync, for people whose profile hides their email."""

    def __init__(self, inner: JsmRosterProvider, identities: IdentityOverrides) -> None:
        self.inner = inner
        self.provider = inner.provider
        self._identities = identities
        self.incidents = inner.incidents  # its alerts, read live (`request.incident`)

    async def fetch(self) -> FetchResult:
        overrides = await self._identities.all()
        self.inner.map_accounts(
            {k.removeprefix("jsm:"): v for k, v in overrides.items() if k.startswith("jsm:")}
        )
        return await self.inner.fetch()

    async def confirm_on_call(self, email: str, group: GroupRef, now: datetime) -> Shift | None:
        return await self.inner.confirm_on_call(email, group, now)

    def progress(self) -> SyncProgress:
        return self.inner.progress()

    async def verify(self) -> Verification:
        return await self.inner.verify()

    async def aclose(self) -> None:
        await self.inner.aclose()


def make_provider(
    provider: str,
    config: dict[str, Any],
    secrets: dict[str, Any],
    settings: Settings,
    now: Callable[[], datetime],
    identities: IdentityOverrides | None = None,
) -> ConnectedProvider:
    region = config.get("region", "us")
    if provider == "pagerduty":
        return PagerDutyRosterProvider.from_settings(
            api_key=secrets.get("api_key"),
            oauth_client_id=config.get("client_id"),
            oauth_client_secret=secrets.get("client_secret"),
            subdomain=config.get("subdomain"),
            region=region,
            base_url=settings.pagerduty_api_url,
            identity_url=settings.pagerduty_identity_url,
            scopes=config.get("scopes"),
            now=now,
        )
    if provider == "opsgenie":
        return OpsgenieRosterProvider.from_settings(
            api_key=secrets["api_key"], region=region, base_url=settings.opsgenie_api_url, now=now
        )
    if provider == "jsm":
        jsm = JsmRosterProvider.from_settings(
            site=config["site"],
            email=config["email"],
            api_token=secrets["api_token"],
            base_url=settings.jsm_api_url,
            cloud_id=config.get("cloud_id"),
            org_id=config.get("org_id"),
            now=now,
        )
        return AccountMappedProvider(jsm, identities) if identities is not None else jsm
    raise ValueError(f"unknown provider {provider!r}")
