"""Okta's connect form (a grant target): the org URL, and an API token or a service app's client
id and private key."""

from __future__ import annotations

from core.connection_form import FieldKind, FormField, ProviderForm

FORM = ProviderForm(
    provider="okta",
    label="Okta (grants)",
    fields=(
        FormField(
            "org_url",
            "Okta org URL",
            placeholder="https://acme.okta.com",
            missing="Enter the Okta org URL, e.g. https://acme.okta.com.",
        ),
        FormField(
            "api_token",
            "API token (or a service app below)",
            FieldKind.SECRET,
            max_length=500,
            missing="Enter an API token, or the service app's client id and private key.",
            needed_unless=("client_id", "private_key"),
        ),
        FormField("client_id", "Service app client id"),
        FormField(
            "private_key",
            "Service app private key, PEM",
            FieldKind.SECRET,
            max_length=3000,
            multiline=True,
        ),
        FormField("key_id", "Service app key id (kid), if its key has one"),
    ),
)
