"""The grammar answers anything typed with a command or one short sentence: text no store can
keep (NUL, lone surrogates), absurd lengths and 5,000-digit durations are refused, never raised
as something else."""

from __future__ import annotations

from dataclasses import fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import commands as c
from core.durations import parse_duration
from core.errors import CommandError


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("extend r7k2m9p " + "9" * 3900 + "s", "is too long; the longest duration is 366d"),
        ("request prod-db " + "9" * 3900 + "x", "is not a duration"),
        ("request prod-db 1h INC-1 a\x00b", "NUL character"),
        ("request prod-db 1h \ud800", "not valid Unicode"),
        ("deny r7k2m9p " + "x" * 5000, "a command is at most 4,000"),
        ("identity map slack:" + "U" * 191 + " a@example.com", "identity key is at most 190"),
        ("identity map slack:U123 " + "a" * 300 + "@example.com", "email address is at most 254"),
        ("approve " + "r" * 33, "is not a request id"),
    ],
    ids=["huge-duration", "not-a-duration", "nul", "surrogate", "long", "key", "email", "id"],
)
def test_unreadable_text_is_refused_in_one_short_sentence(text: str, words: str) -> None:
    with pytest.raises(CommandError) as caught:
        c.parse(text)

    assert words in caught.value.message
    assert len(caught.value.message) < 200


def test_a_zero_padded_duration_is_read_as_its_value() -> None:
    assert parse_duration("0" * 5000 + "90m").total_seconds() == 5400


def test_a_5000_digit_duration_is_too_long_not_an_error() -> None:
    with pytest.raises(CommandError, match="is too long"):
        parse_duration("9" * 5000 + "s")


def test_a_built_command_is_held_to_the_same_rules() -> None:
    with pytest.raises(CommandError, match="NUL"):
        c.check(c.Deny("r7k2m9p", "because\x00"))
    with pytest.raises(CommandError, match="not valid Unicode"):
        c.check(c.Connect(("pagerduty", "\udfff")))
    assert c.check(c.Deny("r7k2m9p", "INC-1")) == c.Deny("r7k2m9p", "INC-1")


WORDS = st.sampled_from(
    [
        *c.VERBS, "prod-db", "r7k2m9p", "shift", "ok", "flag", "--break-glass", "map", "unmap",
        "slack:U0123ABCD", "alice@example.com", "1h", "1h30m", "30m1h", "1h1h", "0s", "-5m",
        "9" * 30 + "d", "0" * 400 + "1s", '"', "'", "“", "”", "\\", "\x00", "\ud800", "\u200b",
        "é", "\t", "\n", " ",
    ]
)  # fmt: skip
TEXT = st.lists(WORDS | st.text(max_size=12), max_size=12).map(" ".join) | st.text(max_size=300)


@settings(max_examples=500, deadline=None)
@given(TEXT)
def test_any_text_parses_or_is_refused_in_one_sentence(text: str) -> None:
    try:
        command = c.parse(text)
    except CommandError as refused:
        assert len(refused.message) < 300
        assert "\n" not in refused.message
        return
    for field in fields(command):
        value = getattr(command, field.name)
        if isinstance(value, str):
            assert "\x00" not in value
            value.encode("utf-8")  # storable
