"""GitHub's connect form (a grant target): the organization, and a token or a GitHub App's id and
private key (its installation is found from the organization when not given)."""

from __future__ import annotations

from core.connection_form import FieldKind, FormField, ProviderForm

FORM = ProviderForm(
    provider="github",
    label="GitHub (grants)",
    fields=(
        FormField(
            "org",
            "Organization",
            placeholder="acme",
            max_length=100,
            missing="Enter the GitHub organization, e.g. acme.",
        ),
        FormField(
            "api_token",
            "Token (or a GitHub App below)",
            FieldKind.SECRET,
            max_length=500,
            missing="Enter a token, or the GitHub App's id and private key.",
            needed_unless=("app_id", "private_key"),
            cli_flag="--token-file",
        ),
        FormField("app_id", "GitHub App id", max_length=40),
        FormField(
            "private_key",
            "GitHub App private key, PEM",
            FieldKind.SECRET,
            max_length=3000,
            multiline=True,
        ),
        FormField(
            "installation_id",
            "Installation id (found from the organization when empty)",
            max_length=40,
        ),
    ),
)
