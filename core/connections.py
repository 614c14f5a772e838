"""Connecting on-call providers and grant targets (Microsoft Entra ID, Okta, GitHub), as every admin
surface (CLI, Slack modal, Teams dialog) asks for it. The bot implements `ProviderAdmin`; surfaces
only fill in a ConnectForm and show the result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ProviderName = Literal["pagerduty", "opsgenie", "jsm", "entra", "okta", "github"]
GRANT_TARGETS: dict[str, str] = {"entra": "Microsoft Entra ID", "okta": "Okta", "github": "GitHub"}
"""Connections that grants use (not roster providers): their display names."""
AuthKind = Literal["api_key", "oauth_client", "oauth_user"]


@dataclass(frozen=True)
class ConnectForm:
    """What an admin typed; secrets are never echoed back or logged (see __repr__)."""

    provider: ProviderName
    region: Literal["us", "eu"] = "us"
    auth: AuthKind = "api_key"
    api_key: str = ""
    client_id: str = ""
    client_secret: str = ""
    subdomain: str = ""
    site: str = ""  # JSM: SITE.atlassian.net
    email: str = ""  # JSM: the Atlassian account
    api_token: str = ""  # JSM
    org_id: str = ""  # JSM: the Atlassian organization, needed to read team members
    tenant: str = ""  # Entra ID: the tenant id or domain
    certificate: str = ""  # Entra ID: PEM certificate and private key, instead of a secret
    org_url: str = ""  # Okta: https://ORG.okta.com
    private_key: str = ""  # Okta service app / GitHub App: its PEM private key
    key_id: str = ""  # Okta service app: the key id (kid) of its public key
    app_id: str = ""  # GitHub App id
    installation_id: str = ""  # GitHub App: its installation (found from `org` when empty)
    org: str = ""  # GitHub: the organization the credentials are checked in

    def __repr__(self) -> str:
        return (
            f"ConnectForm(provider={self.provider!r}, region={self.region!r}, auth={self.auth!r})"
        )


@dataclass(frozen=True)
class ConnectResult:
    ok: bool
    message: str
    field: str | None = None  # the form field a failure belongs to, for inline errors
    sync_summary: str = ""
    authorize_url: str | None = None  # the OAuth user flow continues in the browser
    capabilities: tuple[str, ...] = ()
