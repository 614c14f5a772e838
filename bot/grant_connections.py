"""Connections of the grant targets (Microsoft Entra ID, Okta, GitHub): connected the way
providers are (verified live, sealed at rest in the connections table, audited), and handed to
their granters as live clients.

Every replica and the CLI write the same table, so the client for a target is looked up on each
grant and revoke with one cheap query (its revision), and rebuilt when an admin reconnected,
rotated or disconnected it anywhere.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from adapters.entra import GraphClient
from adapters.github import GitHubClient
from adapters.okta import OktaClient
from adapters.providerhttp import ProviderError
from adapters.storage.connections import Connection, SqlConnectionStore
from bot.settings import Settings
from core.audit import AuditEvent
from core.connections import GRANT_TARGETS, ConnectForm, ConnectResult
from core.errors import DomainError
from core.ports import Clock, Verification
from core.provenance import chat_detail

log = logging.getLogger(__name__)

TargetClient = GraphClient | OktaClient | GitHubClient


_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)


def pem(text: str) -> str:
    """PEM blocks as a PEM parser wants them, however they were pasted: a chat form's one-line
    field turns the key's line breaks into spaces, or drops them."""
    blocks = []
    for label, body in _PEM.findall(text):
        b64 = "".join(body.split())
        lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
        blocks.append("\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]))
    return "\n".join(blocks) + "\n" if blocks else text


def config_and_secrets(form: ConnectForm) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a form into what may be shown (config) and what is sealed (secrets)."""
    if form.provider == "entra":
        return (
            {"tenant": form.tenant, "client_id": form.client_id,
             "auth": "certificate" if form.certificate else "client_secret"},
            {"client_secret": form.client_secret} if not form.certificate
            else {"certificate": pem(form.certificate)},
        )  # fmt: skip
    if form.provider == "okta":
        if form.api_token:
            return {"org_url": form.org_url, "auth": "api_token"}, {"api_token": form.api_token}
        return (
            {"org_url": form.org_url, "auth": "service_app", "client_id": form.client_id,
             "key_id": form.key_id},
            {"private_key": pem(form.private_key)},
        )  # fmt: skip
    if form.api_token:
        return {"org": form.org, "auth": "token"}, {"token": form.api_token}
    return (
        {"org": form.org, "auth": "app", "app_id": form.app_id,
         "installation_id": form.installation_id},
        {"private_key": pem(form.private_key)},
    )  # fmt: skip


def make_client(
    name: str, config: dict[str, Any], secrets: dict[str, Any], settings: Settings
) -> TargetClient:
    """A client for one stored (or just typed) grant target connection."""
    if name == "entra":
        return GraphClient(
            tenant=str(config["tenant"]),
            client_id=str(config["client_id"]),
            client_secret=str(secrets.get("client_secret") or ""),
            certificate=str(secrets.get("certificate") or ""),
            graph_url=settings.graph_api_url,
            login_url=settings.entra_login_url,
        )
    if name == "okta":
        return OktaClient(
            org=str(config["org_url"]),
            api_token=str(secrets.get("api_token") or ""),
            client_id=str(config.get("client_id") or ""),
            private_key=str(secrets.get("private_key") or ""),
            key_id=str(config.get("key_id") or ""),
        )
    return GitHubClient(
        token=str(secrets.get("token") or ""),
        app_id=str(config.get("app_id") or ""),
        private_key=str(secrets.get("private_key") or ""),
        installation_id=str(config.get("installation_id") or ""),
        api_url=settings.github_api_url,
    )


async def verify(name: str, client: TargetClient, config: dict[str, Any]) -> Verification:
    if isinstance(client, GitHubClient):
        return await client.verify(str(config["org"]))
    return await client.verify()


def missing_field(form: ConnectForm) -> ConnectResult | None:
    def need(name: str, what: str) -> ConnectResult:
        return ConnectResult(False, f"{what} is required.", field=name)

    if form.provider == "entra":
        if not form.tenant:
            return need("tenant", "The Entra ID tenant (its id or a domain)")
        if not form.client_id:
            return need("client_id", "The app's client (application) id")
        if not (form.client_secret or form.certificate):
            return need("client_secret", "A client secret (or, on the server, a certificate)")
    elif form.provider == "okta":
        if not form.org_url:
            return need("org_url", "The Okta org URL (https://ORG.okta.com)")
        if not form.api_token and not (form.client_id and form.private_key):
            return need("api_token", "An API token, or a service app's client id and private key")
    elif form.provider == "github":
        if not form.org:
            return need("org", "The GitHub organization")
        if not form.api_token and not (form.app_id and form.private_key):
            return need("api_token", "A token, or a GitHub App's id and private key")
    return None


def secret_field(form: ConnectForm) -> str:
    if form.provider == "entra":
        return "client_secret"
    return "api_token" if form.api_token else "private_key"


class GrantTargets:
    """The live clients of connected grant targets, and connecting and disconnecting them."""

    def __init__(
        self,
        store: SqlConnectionStore,
        settings: Settings,
        clock: Clock,
        make: Callable[..., TargetClient] = make_client,
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._make = make
        self._live: dict[str, tuple[int, TargetClient]] = {}
        self._retired: list[TargetClient] = []

    async def client(self, name: str) -> TargetClient:
        """The client of the connection as stored now (rebuilt when its revision moved on)."""
        revision = (await self._store.revisions()).get(name)
        if revision is None:
            raise DomainError(
                f"{GRANT_TARGETS[name]} is not connected: an admin can connect it from the "
                f"connect form or with `oncall-access connect {name} ...`."
            )
        live = self._live.get(name)
        if live is not None and live[0] == revision:
            return live[1]
        conn = await self._store.get(name)
        if conn is None:
            raise DomainError(f"{GRANT_TARGETS[name]} was disconnected just now.")
        client = self._make(name, conn.config, conn.secrets, self._settings)
        if live is not None:
            self._retired.append(live[1])  # a grant may still be using it; closed at shutdown
        self._live[name] = (conn.revision, client)
        return client

    async def connect(self, form: ConnectForm, actor: str) -> ConnectResult:
        missing = missing_field(form)
        if missing:
            return missing
        if not self._settings.secret_key:
            return ConnectResult(
                False,
                "Credentials are stored encrypted, and ONCALL_ACCESS_SECRET_KEY is not set: "
                "make a key with `oncall-access secret-key`, set it, and restart.",
            )
        name = form.provider
        config, secrets = config_and_secrets(form)
        try:
            client = self._make(name, config, secrets, self._settings)
        except DomainError as exc:
            return ConnectResult(False, exc.message, field=secret_field(form))
        try:
            verification = await verify(name, client, config)
        except (DomainError, ProviderError) as exc:
            await client.aclose()
            return ConnectResult(False, str(exc), field=secret_field(form))
        if not verification.ok:
            await client.aclose()
            return ConnectResult(False, verification.summary, field=secret_field(form))
        now = self._clock.now()
        revision = await self._store.save(
            Connection(name, config, secrets, now, actor),
            AuditEvent(
                "provider.connected",
                now,
                actor,
                detail={
                    "provider": name,
                    **config,
                    "capabilities": list(verification.capabilities),
                    **chat_detail(),
                },
            ),
        )
        old = self._live.get(name)
        if old is not None:
            self._retired.append(old[1])
        self._live[name] = (revision, client)
        return ConnectResult(
            True,
            f"Connected {GRANT_TARGETS[name]} for grants. {verification.summary}",
            capabilities=verification.capabilities,
        )

    async def disconnect(self, name: str, actor: str) -> str:
        removed = await self._store.remove(
            name,
            AuditEvent(
                "provider.disconnected",
                self._clock.now(),
                actor,
                detail={"provider": name, **chat_detail()},
            ),
        )
        if not removed:
            return f"{GRANT_TARGETS[name]} is not connected."
        return (
            f"Disconnected {GRANT_TARGETS[name]} and removed its credentials. Its grants and "
            "revokes fail, and are retried and reported, until it is connected again."
        )

    async def status_lines(self) -> list[str]:
        """Which grant targets are connected (their health is checked per target policy uses)."""
        names = [n for n in await self._store.providers() if n in GRANT_TARGETS]
        return [f"{GRANT_TARGETS[n]} (for grants): connected" for n in sorted(names)]

    async def aclose(self) -> None:
        for _, client in self._live.values():
            await client.aclose()
        for client in self._retired:
            await client.aclose()
        self._live.clear()
        self._retired.clear()
