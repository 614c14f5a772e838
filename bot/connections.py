"""Connecting, disconnecting and reporting on providers (the `ProviderAdmin` every admin surface
uses): verify live, store sealed, sync at once; never echo or log a secret."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from adapters.storage.connections import Connection, SqlConnectionStore
from adapters.storage.crypto import SecretKeyMissing
from adapters.storage.roster import SqlRosterStore
from bot.providers import config_and_secrets, make_provider
from bot.settings import Settings
from core.audit import AuditEvent
from core.connections import ConnectForm, ConnectResult
from core.groups import Provider
from core.ports import Clock, IdentityOverrides, RosterProvider
from core.sync import RosterSyncer
from core.timefmt import show_age

log = logging.getLogger(__name__)


def _missing_field(form: ConnectForm) -> ConnectResult | None:
    def need(name: str, what: str) -> ConnectResult:
        return ConnectResult(False, f"{what} is required.", field=name)

    if form.provider == "jsm":
        if not form.site:
            return need("site", "The Atlassian site (SITE.atlassian.net)")
        if not form.email:
            return need("email", "The Atlassian account email")
        if not form.api_token:
            return need("api_token", "The Atlassian API token")
        return None
    if form.auth == "api_key" and not form.api_key.strip():
        return need("api_key", "The API key")
    if form.provider == "pagerduty" and form.auth != "api_key":
        if not form.client_id:
            return need("client_id", "The OAuth client id")
        if not form.client_secret:
            return need("client_secret", "The OAuth client secret")
        if not form.subdomain:
            return need("subdomain", "The PagerDuty subdomain")
    return None


class BotProviderAdmin:
    def __init__(
        self,
        *,
        settings: Settings,
        store: SqlConnectionStore,
        rosters: SqlRosterStore,
        syncer: RosterSyncer,
        providers: list[RosterProvider],
        clock: Clock,
        make: Callable[..., RosterProvider] = make_provider,
    ) -> None:
        self._settings = settings
        self._store = store
        self.store = store
        self.start_user_flow: Callable[[ConnectForm, str], Awaitable[ConnectResult]] | None = None
        self.make_user_token_provider: (
            Callable[[dict[str, Any], dict[str, Any]], RosterProvider] | None
        ) = None
        self._rosters = rosters
        self._syncer = syncer
        self._providers = providers  # the live list the syncer and the service read
        self._retired: list[RosterProvider] = []
        self.identities: IdentityOverrides | None = None
        self._clock = clock
        self._make = make

    async def load(self) -> list[str]:
        """Build providers from stored connections at start; returns problems worth logging."""
        problems = []
        try:
            stored = await self._store.all()
        except SecretKeyMissing as exc:
            names = await self._store.providers()
            return [f"{', '.join(names)} connected but unusable: {exc.message}"] if names else []
        for conn in stored:
            try:
                if conn.config.get("auth") == "oauth_user" and self.make_user_token_provider:
                    self._put(self.make_user_token_provider(conn.config, conn.secrets))
                    continue
                self._put(
                    self._make(
                        conn.provider,
                        conn.config,
                        conn.secrets,
                        self._settings,
                        self._clock.now,
                        self.identities,
                    )
                )
            except Exception as exc:
                problems.append(f"{conn.provider}: cannot be used ({type(exc).__name__})")
        return problems

    async def connect(self, form: ConnectForm, actor: str) -> ConnectResult:
        missing = _missing_field(form)
        if missing:
            return missing
        if not self._settings.secret_key:
            return ConnectResult(
                False,
                "Credentials are stored encrypted, and ONCALL_ACCESS_SECRET_KEY is not set: "
                "make a key with `oncall-access secret-key`, set it, and restart.",
            )
        if form.provider == "pagerduty" and form.auth == "oauth_user":
            if self.start_user_flow is None:
                return ConnectResult(
                    False, "The OAuth user flow is only available while `serve` runs.", field="auth"
                )
            return await self.start_user_flow(form, actor)
        config, secrets = config_and_secrets(form)
        try:
            provider = self._make(
                form.provider, config, secrets, self._settings, self._clock.now, self.identities
            )
        except (ValueError, KeyError) as exc:
            return ConnectResult(False, f"Cannot connect {form.provider}: {exc}.")
        try:
            verification = await provider.verify()  # type: ignore[attr-defined]
        except Exception as exc:  # a provider error's text is user-safe; others are not shown
            await _close(provider)
            message = getattr(exc, "message", None) or f"{form.provider} could not be reached."
            return ConnectResult(False, message, field=_secret_field(form))
        if not verification.ok:
            await _close(provider)
            return ConnectResult(False, verification.summary, field=_secret_field(form))
        now = self._clock.now()
        await self._store.save(
            Connection(form.provider, config, secrets, now, actor),
            AuditEvent(
                "provider.connected",
                now,
                actor,
                detail={
                    "provider": form.provider,
                    **config,
                    "capabilities": list(verification.capabilities),
                },
            ),
        )
        self._put(provider)
        outcome = await self._syncer.sync(provider)
        return ConnectResult(
            True,
            f"Connected {Provider(form.provider).display}. {verification.summary}",
            sync_summary=outcome.summary(),
            capabilities=verification.capabilities,
        )

    async def disconnect(self, provider: str, actor: str) -> str:
        try:
            which = Provider(provider.lower())
        except ValueError:
            return f"`{provider}` is not a provider (pagerduty, opsgenie or jsm)."
        removed = await self._store.remove(
            which.value,
            AuditEvent(
                "provider.disconnected", self._clock.now(), actor, detail={"provider": which.value}
            ),
        )
        if not removed:
            return f"{which.display} is not connected."
        for p in [p for p in self._providers if p.provider == which]:
            self._providers.remove(p)
            await _close(p)
        await self._rosters.remove(which)
        return (
            f"Disconnected {which.display} and removed its credentials. Resources whose requesters "
            "qualified through its groups now go to the people named in approve.people."
        )

    async def status_lines(self) -> list[str]:
        now = self._clock.now()
        health = {h.provider: h for h in await self._rosters.health()}
        lines = []
        for name in await self._store.providers():
            which = Provider(name)
            h = health.get(which)
            line = f"{which.display}: connected"
            if h and h.last_success:
                line += f", last good sync {show_age(h.last_success, now)} ({h.counts})"
            else:
                line += ", never synced"
            if h and h.consecutive_failures:
                line += f"; {h.consecutive_failures} failed syncs in a row, last: {h.last_error}"
            lines.append(line)
        for p in self._providers:
            if p.provider == Provider.FILE:
                h = health.get(Provider.FILE)
                age = show_age(h.last_success, now) if h and h.last_success else "never"
                lines.append(f"Roster file: last good sync {age}")
        if not lines:
            lines.append(
                "No provider is connected: `oncall-access connect pagerduty|opsgenie|jsm ...` or the connect form in chat."
            )
        return lines

    def adopt(self, provider: RosterProvider) -> None:
        """Use a provider connected elsewhere (the OAuth callback) from now on."""
        self._put(provider)

    def _put(self, provider: RosterProvider) -> None:
        for old in [p for p in self._providers if p.provider == provider.provider]:
            self._providers.remove(old)
            self._retired.append(old)  # closed with the bot: a sync may still be using it
        self._providers.append(provider)

    async def aclose(self) -> None:
        for provider in self._retired:
            await _close(provider)
        self._retired.clear()


async def _close(provider: RosterProvider) -> None:
    close = getattr(provider, "aclose", None)
    if close is not None:
        await close()


def _secret_field(form: ConnectForm) -> str:
    if form.provider == "jsm":
        return "api_token"
    return "api_key" if form.auth == "api_key" else "client_secret"
