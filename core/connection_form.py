"""A provider's connect form, described once by the provider and drawn by every surface.

Slack's modal, Teams' dialog and the CLI's flags are all renderings of one `ProviderForm`: its
fields (what each is called, whether it is secret, which choices it offers, when it is needed),
and the one reading that turns what was typed into a `ConnectForm` or into the errors to show
beside the fields. A new provider is a new form in its own folder; no surface names providers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from core.connections import ConnectForm, ProviderName

SAFEKEEPING = "The credentials are checked live, stored encrypted and never shown again."


class FieldKind(StrEnum):
    TEXT = "text"
    EMAIL = "email"
    SECRET = "secret"  # typed, never filled back in, never shown
    CHOICE = "choice"


@dataclass(frozen=True, slots=True)
class FormField:
    name: str  # the `ConnectForm` attribute it fills
    label: str
    kind: FieldKind = FieldKind.TEXT
    choices: tuple[tuple[str, str], ...] = ()  # (value, label), for CHOICE
    default: str = ""
    placeholder: str = ""
    hint: str = ""
    max_length: int = 200
    missing: str = ""  # the sentence when it is needed and empty; empty: never needed
    needed_when: tuple[tuple[str, tuple[str, ...]], ...] = ()  # other field -> its values
    needed_unless: tuple[str, ...] = ()  # not needed when all of these fields are filled
    multiline: bool = False  # a PEM key, say
    cli_flag: str = ""  # e.g. `--api-key-file`; by default from the name (`-file` for secrets)

    @property
    def flag(self) -> str:
        if self.cli_flag:
            return self.cli_flag
        flag = "--" + self.name.replace("_", "-")
        return flag + "-file" if self.kind is FieldKind.SECRET else flag

    def needed(self, values: Mapping[str, str]) -> bool:
        if not self.missing:
            return False
        if self.needed_unless and all(values.get(other) for other in self.needed_unless):
            return False
        return all(values.get(other, "") in allowed for other, allowed in self.needed_when)


@dataclass(frozen=True, slots=True)
class ProviderForm:
    provider: ProviderName
    label: str  # "PagerDuty"
    fields: tuple[FormField, ...]

    def field(self, name: str) -> FormField | None:
        return next((f for f in self.fields if f.name == name), None)

    def with_defaults(self, values: Mapping[str, str]) -> dict[str, str]:
        """What was typed, trimmed, with each empty choice set to its default."""
        typed = {f.name: str(values.get(f.name) or "").strip() for f in self.fields}
        for f in self.fields:
            if f.kind is FieldKind.CHOICE and not typed[f.name]:
                typed[f.name] = f.default
        return typed

    def read(self, values: Mapping[str, str]) -> tuple[ConnectForm | None, dict[str, str]]:
        """The form, or the error to show beside each field that needs one; errors only ever
        name fields of this form."""
        typed = self.with_defaults(values)
        errors: dict[str, str] = {}
        for f in self.fields:
            value = typed[f.name]
            if f.kind is FieldKind.CHOICE and value not in dict(f.choices):
                errors[f.name] = "Choose " + _either(label for _, label in f.choices) + "."
            elif len(value) > f.max_length:
                errors[f.name] = f"{f.label} is longer than {f.max_length} characters."
            elif not value and f.needed(typed):
                errors[f.name] = f.missing
        if errors:
            return None, errors
        known = set(ConnectForm.__dataclass_fields__)
        filled: dict[str, Any] = {k: v for k, v in typed.items() if k in known}  # choices checked
        return ConnectForm(provider=self.provider, **filled), {}


def form_of(forms: Iterable[ProviderForm], provider: str) -> ProviderForm | None:
    return next((f for f in forms if f.provider == provider), None)


def choose_provider_error(forms: Iterable[ProviderForm]) -> str:
    return "Choose " + _either(f.label for f in forms) + "."


def _either(labels: Iterable[str]) -> str:
    found = list(labels)
    if len(found) <= 1:
        return "".join(found)
    return ", ".join(found[:-1]) + " or " + found[-1]


def as_provider(name: str) -> ProviderName:
    return cast(ProviderName, name)
