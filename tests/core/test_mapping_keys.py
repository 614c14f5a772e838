"""Identity mapping keys, table-driven: normalised to the ids surfaces and providers report, or
refused with a sentence naming what is wrong."""

from __future__ import annotations

import pytest

from core.errors import DomainError
from core.mapping_keys import mapping_key


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("slack:U012AB3CD", "slack:U012AB3CD"),
        ("slack:u012ab3cd", "slack:U012AB3CD"),
        ("Slack:W012AB3CD", "slack:W012AB3CD"),
        ("slack:<@U012AB3CD|mallory>", "slack:U012AB3CD"),
        (
            "teams:0A1B2C3D-0000-4000-8000-00000000ABCD",
            "teams:0a1b2c3d-0000-4000-8000-00000000abcd",
        ),
        ("email:Mallory@Example.com", "email:mallory@example.com"),
        ("pagerduty:pabc123", "pagerduty:PABC123"),
        (
            "opsgenie:4513B7EA-3B91-438F-B7E4-E3E54AF9147C",
            "opsgenie:4513b7ea-3b91-438f-b7e4-e3e54af9147c",
        ),
        (
            "jsm:712020:4bd6d6e4-8e7d-4d0c-9c1a-0c6f1a2b3c4d",
            "jsm:712020:4bd6d6e4-8e7d-4d0c-9c1a-0c6f1a2b3c4d",
        ),
        ("github:Mallory-Gh", "github:mallory-gh"),
    ],
)
def test_keys_are_normalised(typed: str, key: str) -> None:
    assert mapping_key(typed) == key


@pytest.mark.parametrize(
    ("typed", "sentence"),
    [
        ("slack:umal!", "`umal!` is not a Slack user id"),
        ("slack:B012AB3CD", "`B012AB3CD` is not a Slack user id"),
        ("teams:29:1abc", "`29:1abc` is not a Microsoft Entra object id"),
        ("email:mallory", "`mallory` is not an email address."),
        ("gitlab:mallory", "`gitlab:mallory` is not a mapping key"),
        ("github:-mallory", "`-mallory` is not a GitHub login"),
        ("github:mal--lory", "`mal--lory` is not a GitHub login"),
        ("mallory", "`mallory` is not a mapping key"),
        ("pagerduty:", "`pagerduty:` names no id after `pagerduty:`."),
        ("jsm:a b", "`a b` is not a jsm user id."),
    ],
)
def test_a_key_that_could_never_match_is_refused(typed: str, sentence: str) -> None:
    with pytest.raises(DomainError) as refused:
        mapping_key(typed)
    assert refused.value.message.startswith(sentence)
