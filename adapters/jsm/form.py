"""Jira Service Management operations' connect form: the Atlassian site, an account's email and
its API token, and the organization id that team members are read from."""

from __future__ import annotations

from core.connection_form import FieldKind, FormField, ProviderForm

FORM = ProviderForm(
    provider="jsm",
    label="Jira Service Management",
    fields=(
        FormField(
            "site",
            "Atlassian site",
            placeholder="your-site.atlassian.net",
            missing="Enter your Atlassian site, e.g. your-site.atlassian.net.",
        ),
        FormField(
            "email",
            "Atlassian account email",
            FieldKind.EMAIL,
            missing="Enter the Atlassian account email the token belongs to.",
        ),
        FormField(
            "api_token",
            "Atlassian API token",
            FieldKind.SECRET,
            max_length=500,
            missing="Enter the API token.",
        ),
        FormField("org_id", "Atlassian organization id (to read team members)"),
    ),
)
