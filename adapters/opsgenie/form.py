"""Opsgenie's connect form: an API integration key, in the US or EU instance."""

from __future__ import annotations

from core.connection_form import FieldKind, FormField, ProviderForm

FORM = ProviderForm(
    provider="opsgenie",
    label="Opsgenie",
    fields=(
        FormField(
            "region", "Region", FieldKind.CHOICE, choices=(("us", "US"), ("eu", "EU")), default="us"
        ),
        FormField(
            "api_key",
            "API key (an API integration key with read access)",
            FieldKind.SECRET,
            max_length=500,
            missing="Enter the API key.",
        ),
    ),
)
