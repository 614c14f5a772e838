"""Emails are one key across systems: compatibility forms and case fold to one address, and an
address with an invisible or control character in it is not an address."""

from __future__ import annotations

import pytest

from core.identity import is_email, normalize_email


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        (" Alice@Example.COM ", "alice@example.com"),
        ("ａｌｉｃｅ@ｅｘａｍｐｌｅ.ｃｏｍ", "alice@example.com"),  # full-width letters
        ("STRASSE@example.com", "strasse@example.com"),
        ("Straße@example.com", "strasse@example.com"),  # case folding, not only lower()
        ("ﬁona@example.com", "fiona@example.com"),  # the fi ligature
    ],
)
def test_emails_fold_to_one_canonical_form(typed: str, canonical: str) -> None:
    assert normalize_email(typed) == canonical
    assert normalize_email(canonical) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "ali\u200bce@example.com",  # zero-width space
        "alice@exam\u200dple.com",  # zero-width joiner
        "\u202ealice@example.com",  # right-to-left override
        "alice\x00@example.com",
        "alice\x1b@example.com",
        "alice@example.com\u2028x",  # line separator
        "\ufeffalice@example.com",  # byte order mark
    ],
)
def test_addresses_with_invisible_or_control_characters_are_refused(text: str) -> None:
    assert not is_email(text)


def test_a_plain_address_is_one() -> None:
    assert is_email(" alice@example.com ") and is_email("ａｌｉｃｅ@example.com")
