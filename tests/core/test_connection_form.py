"""One reading of a provider's connect form for every surface: what is needed when, choices
kept to what the form offers, lengths bounded, and errors only on the form's own fields."""

from __future__ import annotations

from adapters.pagerduty.form import FORM as PAGERDUTY
from core.connection_form import FieldKind, FormField, ProviderForm

EITHER = ProviderForm(
    provider="jsm",
    label="Either",
    fields=(
        FormField(
            "api_token",
            "Token",
            FieldKind.SECRET,
            missing="Enter a token, or a client id and key.",
            needed_unless=("client_id", "private_key"),
        ),
        FormField("client_id", "Client id"),
        FormField("private_key", "Key", FieldKind.SECRET, multiline=True, max_length=10),
    ),
)


def test_what_is_needed_follows_the_sign_in_chosen() -> None:
    assert PAGERDUTY.read({})[1] == {"api_key": "Enter the API key."}
    assert set(PAGERDUTY.read({"auth": "oauth_client"})[1]) == {
        "client_id",
        "client_secret",
        "subdomain",
    }
    form, errors = PAGERDUTY.read({"auth": "oauth_user", "client_id": "c", "client_secret": "s"})
    assert errors == {}
    assert form is not None and (form.provider, form.auth, form.region) == (
        "pagerduty",
        "oauth_user",
        "us",
    )


def test_a_choice_outside_the_form_is_refused_with_the_choices() -> None:
    assert PAGERDUTY.read({"api_key": "k", "region": "apac"})[1] == {"region": "Choose US or EU."}


def test_a_field_is_not_needed_when_its_alternative_is_complete() -> None:
    assert set(EITHER.read({"client_id": "c"})[1]) == {"api_token"}
    assert EITHER.read({"client_id": "c", "private_key": "k"})[1] == {}
    assert EITHER.read({"api_token": "t"})[1] == {}


def test_over_long_values_are_named_and_secrets_never_quoted() -> None:
    form, errors = EITHER.read({"api_token": "t", "private_key": "s3cret-value-too-long"})
    assert form is None
    assert errors == {"private_key": "Key is longer than 10 characters."}
    assert "s3cret" not in str(errors)
