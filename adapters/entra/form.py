"""Microsoft Entra ID's connect form (a grant target): the tenant, the app's client id, and a
client secret or a certificate with its private key."""

from __future__ import annotations

from core.connection_form import FieldKind, FormField, ProviderForm

FORM = ProviderForm(
    provider="entra",
    label="Microsoft Entra ID (grants)",
    fields=(
        FormField(
            "tenant",
            "Tenant (id or domain)",
            placeholder="contoso.onmicrosoft.com",
            missing="Enter the tenant: its id or a domain such as contoso.onmicrosoft.com.",
        ),
        FormField(
            "client_id",
            "Application (client) id",
            missing="Enter the app registration's application (client) id.",
        ),
        FormField(
            "client_secret",
            "Client secret (its value)",
            FieldKind.SECRET,
            max_length=500,
            missing="Enter a client secret, or the certificate.",
            needed_unless=("certificate",),
        ),
        FormField(
            "certificate",
            "Certificate and its private key, PEM (instead of a secret)",
            FieldKind.SECRET,
            hint="The certificate uploaded to the app, followed by its unencrypted private key.",
            max_length=3000,
            multiline=True,
        ),
    ),
)
