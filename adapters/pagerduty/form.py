"""PagerDuty's connect form: a REST API key, or a Scoped OAuth app (for the account, or signing
in as yourself), in the US or EU service region."""

from __future__ import annotations

from core.connection_form import FieldKind, FormField, ProviderForm

OAUTH = ("oauth_client", "oauth_user")

FORM = ProviderForm(
    provider="pagerduty",
    label="PagerDuty",
    fields=(
        FormField(
            "region", "Region", FieldKind.CHOICE, choices=(("us", "US"), ("eu", "EU")), default="us"
        ),
        FormField(
            "auth",
            "Sign in with",
            FieldKind.CHOICE,
            choices=(
                ("api_key", "REST API key (read-only)"),
                ("oauth_client", "Scoped OAuth app, for the account"),
                ("oauth_user", "Scoped OAuth app, signing in as yourself"),
            ),
            default="api_key",
        ),
        FormField(
            "api_key",
            "API key (for a REST API key)",
            FieldKind.SECRET,
            max_length=500,
            missing="Enter the API key.",
            needed_when=(("auth", ("api_key",)),),
        ),
        FormField(
            "client_id",
            "OAuth client id (for a Scoped OAuth app)",
            missing="Enter the OAuth client id.",
            needed_when=(("auth", OAUTH),),
        ),
        FormField(
            "client_secret",
            "OAuth client secret",
            FieldKind.SECRET,
            max_length=500,
            missing="Enter the OAuth client secret.",
            needed_when=(("auth", OAUTH),),
        ),
        FormField(
            "subdomain",
            "PagerDuty subdomain (for the app for the account)",
            placeholder="acme, as in acme.pagerduty.com",
            hint="Not needed to sign in as yourself: PagerDuty knows your account.",
            max_length=100,
            missing="Enter the PagerDuty subdomain (acme for acme.pagerduty.com).",
            needed_when=(("auth", ("oauth_client",)),),
        ),
    ),
)
