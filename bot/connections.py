"""Connecting, disconnecting and reporting on providers (the `ProviderAdmin` every admin surface
uses): verify live, store sealed, sync at once; never echo or log a secret."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from adapters.storage.connections import Connection, SqlConnectionStore
from adapters.storage.crypto import SecretKeyMissing
from adapters.storage.roster import SqlRosterStore
from bot.grant_connections import GrantTargets
from bot.oauth_pagerduty import PagerDutyUserFlow
from bot.pagerduty_scopes import OAUTH_KINDS, granted_scopes, missing_writes, requested_scopes
from bot.provider_forms import FORMS
from bot.providers import config_and_secrets, make_provider
from bot.settings import Settings
from core.audit import AuditEvent
from core.connection_form import ProviderForm
from core.connections import GRANT_TARGETS, ConnectForm, ConnectResult
from core.groups import Provider
from core.policy import Policy
from core.ports import Clock, ConnectedProvider, IdentityOverrides, RosterProvider
from core.provenance import chat_detail
from core.sync import RosterSyncer
from core.timefmt import show_age

log = logging.getLogger(__name__)
RETIRED_GRACE_SECONDS = 900.0  # longer than any sync or grant call that may hold an old client


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
        if form.auth == "oauth_client" and not form.subdomain:
            return need("subdomain", "The PagerDuty subdomain (for an OAuth app)")
    return None


# Why a provider's directory can be incomplete, for `status`.
COST_KEYS = ("api_calls", "calls_saved")  # what a sync cost, kept beside its counts
UNLISTED_WHY = {Provider.PAGERDUTY: "PagerDuty lists at most 10,000 users per query"}


class BotProviderAdmin:
    def forms(self) -> Sequence[ProviderForm]:
        return FORMS

    def __init__(
        self,
        *,
        settings: Settings,
        store: SqlConnectionStore,
        rosters: SqlRosterStore,
        syncer: RosterSyncer,
        providers: list[RosterProvider],
        clock: Clock,
        identities: IdentityOverrides | None = None,
        user_flow: PagerDutyUserFlow | None = None,
        make: Callable[..., ConnectedProvider] = make_provider,
        policy: Callable[[], Policy] = lambda: Policy(version=1),
        targets: GrantTargets | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self.store = store
        self._rosters = rosters
        self._syncer = syncer
        self._providers = providers  # the live list the syncer and the service read
        self._retired: list[tuple[RosterProvider, float]] = []
        self._closing: set[asyncio.Task[None]] = set()
        self._first_syncs: set[asyncio.Task[None]] = set()  # after chat connects
        self._revisions: dict[
            str, int
        ] = {}  # the stored revision each live provider was built from
        self.identities = identities
        self._user_flow = user_flow
        self._clock = clock
        self._make = make
        self._policy = policy
        self.targets = targets  # grant targets share the connections table and the forms

    async def load(self) -> list[str]:
        """Build providers from stored connections at start; returns problems worth logging."""
        _, problems = await self.refresh()
        return problems

    async def refresh(self) -> tuple[list[Provider], list[str]]:
        """Bring the live providers in line with the database, where every replica and the CLI
        write: connected, reconnected (a rotated key), rotated tokens, disconnected elsewhere.

        One cheap query when nothing changed; a connection is decrypted only when its revision
        moved on. Returns the providers that were (re)built and problems worth logging, each
        once per revision."""
        self._close_retired()
        try:
            revisions = await self._store.revisions()
        except SecretKeyMissing:  # pragma: no cover - revisions decrypt nothing
            return [], []
        changed: list[Provider] = []
        problems: list[str] = []
        for name, revision in sorted(revisions.items()):
            if name in GRANT_TARGETS or self._revisions.get(name) == revision:
                continue
            self._revisions[name] = revision  # a bad revision is reported once, not every tick
            try:
                conn = await self._store.get(name)
            except SecretKeyMissing as exc:
                problems.append(f"{name} connected but unusable: {exc.message}")
                continue
            if conn is None:
                continue
            try:
                self._put(self._build(conn))
            except Exception as exc:
                problems.append(f"{conn.provider}: cannot be used ({type(exc).__name__})")
                continue
            self._revisions[name] = conn.revision
            changed.append(Provider(name))
        for name in [n for n in self._revisions if n not in revisions]:
            del self._revisions[name]
            await self._drop(Provider(name))
            changed.append(Provider(name))
        return changed, problems

    def _build(self, conn: Connection) -> ConnectedProvider:
        if conn.config.get("auth") == "oauth_user" and self._user_flow is not None:
            return self._user_flow.provider(conn.config, conn.secrets, self._rotated_pagerduty)
        return self._make(
            conn.provider,
            conn.config,
            conn.secrets,
            self._settings,
            self._clock.now,
            self.identities,
        )

    async def rotated(self, provider: str, secrets: dict[str, Any]) -> None:
        """Store tokens this replica rotated (OAuth refresh), without rebuilding its provider."""
        revision = await self._store.update_secrets(provider, secrets)
        if revision is not None and self._revisions.get(provider) == revision - 1:
            self._revisions[provider] = revision

    async def connect(
        self,
        form: ConnectForm,
        actor: str,
        *,
        when_synced: Callable[[str], Awaitable[None]] | None = None,
    ) -> ConnectResult:
        if form.provider in GRANT_TARGETS:
            if self.targets is None:
                return ConnectResult(False, "Grant targets are connected on the server.")
            return await self.targets.connect(form, actor)
        missing = _missing_field(form)
        if missing:
            return missing
        if not self._settings.secret_key:
            return ConnectResult(
                False,
                "Credentials are stored encrypted, and ONCALL_ACCESS_SECRET_KEY is not set: "
                "make a key with `oncall-access secret-key`, set it, and restart.",
            )
        scopes = requested_scopes(self._policy())
        if form.provider == "pagerduty" and form.auth == "oauth_user":
            if self._user_flow is None:
                return ConnectResult(
                    False, "The OAuth user flow is only available while `serve` runs.", field="auth"
                )
            return await self._user_flow.start(form, actor, scopes)
        config, secrets = config_and_secrets(form)
        if form.provider == "pagerduty" and form.auth in OAUTH_KINDS:
            config["scopes"] = list(scopes)
        try:
            provider = self._make(
                form.provider, config, secrets, self._settings, self._clock.now, self.identities
            )
        except (ValueError, KeyError) as exc:
            return ConnectResult(False, f"Cannot connect {form.provider}: {exc}.")
        return await self._verify_and_keep(form, provider, config, secrets, actor, when_synced)

    async def complete_user_flow(
        self, config: dict[str, Any], secrets: dict[str, Any], actor: str
    ) -> ConnectResult:
        """PagerDuty's OAuth callback came back with the admin's tokens: verify, keep, sync."""
        assert self._user_flow is not None, "the callback is only routed with a user flow"
        provider = self._user_flow.provider(config, secrets, self._rotated_pagerduty)
        form = ConnectForm("pagerduty", region=config.get("region", "us"), auth="oauth_user")
        return await self._verify_and_keep(form, provider, config, secrets, actor)

    async def _rotated_pagerduty(self, secrets: dict[str, Any]) -> None:
        await self.rotated("pagerduty", secrets)

    async def _verify_and_keep(
        self,
        form: ConnectForm,
        provider: ConnectedProvider,
        config: dict[str, Any],
        secrets: dict[str, Any],
        actor: str,
        when_synced: Callable[[str], Awaitable[None]] | None = None,
    ) -> ConnectResult:
        try:
            verification = await provider.verify()
        except Exception as exc:  # a provider error's text is user-safe; others are not shown
            await _close(provider)
            message = getattr(exc, "message", None) or f"{form.provider} could not be reached."
            return ConnectResult(False, message, field=_secret_field(form))
        if not verification.ok:
            await _close(provider)
            return ConnectResult(False, verification.summary, field=_secret_field(form))
        granted = granted_scopes(provider)
        scope_gap = None
        if granted is not None:  # an OAuth token: what PagerDuty granted, for later checks too
            config["granted_scopes"] = sorted(s for s in granted if "as_account-" not in s)
            scope_gap = missing_writes(self._policy(), granted)
        now = self._clock.now()
        revision = await self._store.save(
            Connection(form.provider, config, secrets, now, actor),
            AuditEvent(
                "provider.connected",
                now,
                actor,
                detail={
                    "provider": form.provider,
                    **config,
                    "capabilities": list(verification.capabilities),
                    **chat_detail(),
                },
            ),
        )
        self._put(provider)
        self._revisions[form.provider] = revision
        display = Provider(form.provider).display
        message = f"Connected {display}. {verification.summary}"
        if scope_gap:
            message = f"{message} {scope_gap}"
        if when_synced is not None:
            task = asyncio.create_task(self._first_sync(provider, display, when_synced))
            self._first_syncs.add(task)
            task.add_done_callback(self._first_syncs.discard)
            return ConnectResult(
                True,
                f"{message} The first sync is running; I will tell you when it is done.",
                capabilities=verification.capabilities,
            )
        outcome = await self._syncer.sync(provider)
        return ConnectResult(
            True, message, sync_summary=outcome.summary(), capabilities=verification.capabilities
        )

    async def _first_sync(
        self,
        provider: ConnectedProvider,
        display: str,
        when_synced: Callable[[str], Awaitable[None]],
    ) -> None:
        """The first sync after a chat connect, told to the admin who connected when it ends."""
        try:
            outcome = await self._syncer.sync(provider)
            await when_synced(f"First sync of {display} done. {outcome.summary()}")
        except Exception:
            log.exception("the first sync of %s failed", display)
            await when_synced(
                f"The first sync of {display} failed; `status` shows the error and the next try."
            )

    async def disconnect(self, provider: str, actor: str) -> str:
        if provider.lower() in GRANT_TARGETS and self.targets is not None:
            return await self.targets.disconnect(provider.lower(), actor)
        try:
            which = Provider(provider.lower())
        except ValueError:
            return (
                f"`{provider}` is not a provider (pagerduty, opsgenie or jsm) or grant target "
                "(entra, okta or github)."
            )
        removed = await self._store.remove(
            which.value,
            AuditEvent(
                "provider.disconnected",
                self._clock.now(),
                actor,
                detail={"provider": which.value, **chat_detail()},
            ),
        )
        if not removed:
            return f"{which.display} is not connected."
        self._revisions.pop(which.value, None)
        await self._drop(which)
        await self._rosters.remove(which)
        return (
            f"Disconnected {which.display} and removed its credentials. Resources whose requesters "
            "qualified through its groups now go to the people named in approve.people."
        )

    async def status_lines(self) -> list[str]:
        now = self._clock.now()
        health = {h.provider: h for h in await self._rosters.health()}
        lines = []
        for name in [n for n in await self._store.providers() if n not in GRANT_TARGETS]:
            which = Provider(name)
            h = health.get(which)
            line = f"{which.display}: connected"
            if h and h.last_success:
                counts = {k: v for k, v in h.counts.items() if k not in COST_KEYS}
                line += f", last good sync {show_age(h.last_success, now)} ({counts})"
                if "api_calls" in h.counts:
                    line += f" in {h.counts['api_calls']:,} API calls"
                if h.counts.get("calls_saved"):
                    line += (
                        f", {h.counts['calls_saved']:,} saved by reading only what can have "
                        "changed since the last full sync"
                    )
                if h.counts.get("unlisted"):
                    line += (
                        f"; {h.counts['unlisted']:,} directory entries were not listed "
                        f"({UNLISTED_WHY.get(which, 'the provider lists no further')}), "
                        "so only people on call or in a group are known of those"
                    )
            else:
                line += ", never synced"
            if h and h.consecutive_failures:
                line += f"; {h.consecutive_failures} failed syncs in a row, last: {h.last_error}"
            lines.append(line)
        gap = await self.scope_gap()
        if gap:
            lines.append(gap)
        for p in self._providers:
            if p.provider == Provider.FILE:
                h = health.get(Provider.FILE)
                age = show_age(h.last_success, now) if h and h.last_success else "never"
                lines.append(f"Roster file: last good sync {age}")
        if not lines:
            lines.append(
                "No provider is connected: `oncall-access connect pagerduty|opsgenie|jsm ...` or the connect form in chat."
            )
        if self.targets is not None:
            lines.extend(await self.targets.status_lines())
        return lines

    async def scope_gap(self) -> str | None:
        """What the PagerDuty OAuth connection lacks for the policy in force (after a policy
        change that adds `pagerduty-role` grants, say), or None. A connection made before the
        bot kept granted scopes is not second-guessed."""
        try:
            conn = await self._store.get(Provider.PAGERDUTY.value)
        except SecretKeyMissing:
            return None
        if conn is None or conn.config.get("auth") not in OAUTH_KINDS:
            return None
        granted = conn.config.get("granted_scopes")
        if not isinstance(granted, list):
            return None
        return missing_writes(self._policy(), granted)

    def _put(self, provider: RosterProvider) -> None:
        for old in [p for p in self._providers if p.provider == provider.provider]:
            self._providers.remove(old)
            self._retired.append((old, time.monotonic()))  # a sync may still be using it
        self._providers.append(provider)

    async def _drop(self, which: Provider) -> None:
        for p in [p for p in self._providers if p.provider == which]:
            self._providers.remove(p)
            self._retired.append((p, time.monotonic()))

    def _close_retired(self) -> None:
        """Close providers replaced long enough ago that no sync or grant still uses them."""
        cutoff = time.monotonic() - RETIRED_GRACE_SECONDS
        for entry in [e for e in self._retired if e[1] < cutoff]:
            self._retired.remove(entry)
            task = asyncio.get_running_loop().create_task(_close(entry[0]))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        for task in self._first_syncs:
            task.cancel()
        await asyncio.gather(*self._first_syncs, return_exceptions=True)
        if self.targets is not None:
            await self.targets.aclose()
        for provider, _ in self._retired:
            await _close(provider)
        self._retired.clear()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


async def _close(provider: RosterProvider) -> None:
    close = getattr(provider, "aclose", None)
    if close is not None:
        await close()


def _secret_field(form: ConnectForm) -> str:
    if form.provider == "jsm":
        return "api_token"
    return "api_key" if form.auth == "api_key" else "client_secret"
