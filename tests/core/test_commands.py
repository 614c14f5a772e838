"""The chat grammar of DESIGN.md, row by row, and the sentences people read when they mistype."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core import commands as c
from core.durations import format_duration, parse_duration
from core.errors import CommandError

H = timedelta(hours=1)
M = timedelta(minutes=1)

PARSES = [
    # request RESOURCE [DURATION] [REASON...]
    ("request prod-db", c.Request("prod-db"), "request-resource-only"),
    ("request prod-db 2h", c.Request("prod-db", 2 * H), "request-with-duration"),
    (
        'request prod-db 2h "INC-4411 failover"',
        c.Request("prod-db", 2 * H, "INC-4411 failover"),
        "request-duration-and-quoted-reason",
    ),
    (
        "request prod-db 1h30m INC-4411 db failover",
        c.Request("prod-db", 90 * M, "INC-4411 db failover"),
        "request-unquoted-reason-words-joined",
    ),
    (
        "request prod-db INC-4411 failover",
        c.Request("prod-db", None, "INC-4411 failover"),
        "request-reason-without-duration",
    ),
    (
        "request prod-db abc",
        c.Request("prod-db", None, "abc"),
        "request-word-that-is-no-duration-is-a-reason",
    ),
    (
        "request prod-db 2h “INC-4411 failover”",
        c.Request("prod-db", 2 * H, "INC-4411 failover"),
        "request-typographic-double-quotes",
    ),
    (
        "request prod-db 2h ‘INC-4411 failover’",
        c.Request("prod-db", 2 * H, "INC-4411 failover"),
        "request-typographic-single-quotes",
    ),
    ("/access request prod-db 30m", c.Request("prod-db", 30 * M), "slack-slash-prefix"),
    ("access request prod-db 1d", c.Request("prod-db", 24 * H), "teams-word-prefix"),
    ("  Access  REQUEST prod-db 45s ", c.Request("prod-db", 45 * timedelta(seconds=1)), "case"),
    ("request", c.Request(None), "request-without-resource-asks-which"),
    # approve ID [COMMENT...], deny ID [REASON...]
    ("approve r7k2m9p", c.Approve("r7k2m9p"), "approve"),
    ("approve R7K2M9P looks fine", c.Approve("r7k2m9p", "looks fine"), "approve-with-comment"),
    ("deny r7k2m9p", c.Deny("r7k2m9p"), "deny"),
    (
        'deny r7k2m9p "not during the freeze"',
        c.Deny("r7k2m9p", "not during the freeze"),
        "deny-with-reason",
    ),
    # list, mine, pending
    ("list", c.ListResources(), "list"),
    ("mine", c.Mine(), "mine"),
    ("pending", c.Pending(), "pending"),
    # extend ID DURATION, revoke ID, cancel
    ("extend r7k2m9p 30m", c.Extend("r7k2m9p", 30 * M), "extend"),
    ("revoke r7k2m9p", c.Revoke("r7k2m9p"), "revoke"),
    ("cancel r7k2m9p", c.Cancel("r7k2m9p"), "cancel"),
    # oncall [GROUP]
    ("oncall", c.OnCall(), "oncall-all-groups"),
    ("oncall Primary SRE", c.OnCall("Primary SRE"), "oncall-group-by-name"),
    (
        'oncall "pagerduty:schedule/Primary SRE"',
        c.OnCall("pagerduty:schedule/Primary SRE"),
        "oncall-group-by-reference",
    ),
    # admins
    ("status", c.Status(), "status"),
    ("sync", c.Sync(), "sync"),
    ("connect", c.Connect(), "connect-opens-form"),
    ("connect pagerduty", c.Connect(("pagerduty",)), "connect-with-provider"),
    ("disconnect", c.Disconnect(), "disconnect-asks-which"),
    ("disconnect Opsgenie", c.Disconnect("opsgenie"), "disconnect-provider"),
    # help
    ("help", c.Help(), "help"),
    ("", c.Help(), "empty-text-is-help"),
    ("   ", c.Help(), "blank-text-is-help"),
    ("/access", c.Help(), "bare-slash-prefix-is-help"),
]


@pytest.mark.parametrize(("text", "expected"), [p[:2] for p in PARSES], ids=[p[2] for p in PARSES])
def test_grammar_row_parses_into_its_command(text: str, expected: c.Command) -> None:
    assert c.parse(text) == expected


REFUSALS = [
    ("aprove r7k2m9p", ["I don't know `aprove`.", "Did you mean `approve`?"], "typo-approve"),
    ("revok r7k2m9p", ["I don't know `revok`.", "Did you mean `revoke`?"], "typo-revoke"),
    ("reqest prod-db", ["Did you mean `request`?"], "typo-request"),
    ("frobnicate", ["I don't know `frobnicate`.", "Type `help`"], "unknown-no-close-match"),
    ("approve", ["`approve` needs a request id", "approve ID [COMMENT...]"], "approve-no-id"),
    ("deny", ["`deny` needs a request id", "deny ID [REASON...]"], "deny-no-id"),
    ("revoke", ["`revoke` needs a request id"], "revoke-no-id"),
    ("cancel", ["`cancel` needs a request id"], "cancel-no-id"),
    ("extend", ["`extend` needs a request id"], "extend-no-id"),
    ("extend r7k2m9p", ["`extend` needs a duration", "extend ID DURATION"], "extend-no-duration"),
    ("extend r7k2m9p 0m", ["`0m` is not a positive duration."], "extend-zero"),
    ("extend r7k2m9p -1h", ["`-1h` is not a duration", "like 45s, 30m"], "extend-negative"),
    ("extend r7k2m9p 99999d", ["`99999d` is too long", "366d"], "extend-too-long"),
    ("extend r7k2m9p abc", ["`abc` is not a duration", "30m, 2h, 1h30m"], "extend-not-duration"),
    ("extend r7k2m9p 1h1h", ["`1h1h` is not a duration"], "extend-repeated-unit"),
    ("extend r7k2m9p 30m1h", ["`30m1h` is not a duration", "largest first"], "extend-units-order"),
    ("request prod-db 0m because", ["`0m` is not a positive duration."], "request-zero"),
    ("request prod-db 2x because", ["`2x` is not a duration"], "request-bad-unit"),
    (
        'request prod-db 2h "INC-4411 failover',
        ["A quote in your command is not closed."],
        "unclosed-quote",
    ),
    ("deny r7k2m9p “not now", ["A quote in your command is not closed."], "unclosed-curly-quote"),
]


@pytest.mark.parametrize(
    ("text", "phrases"), [r[:2] for r in REFUSALS], ids=[r[2] for r in REFUSALS]
)
def test_mistyped_command_is_refused_with_a_sentence_saying_what_to_type(
    text: str, phrases: list[str]
) -> None:
    with pytest.raises(CommandError) as refused:
        c.parse(text)
    for phrase in phrases:
        assert phrase in refused.value.message
    assert "\n" not in refused.value.message


def test_unknown_verb_without_close_match_offers_no_guess() -> None:
    with pytest.raises(CommandError) as refused:
        c.parse("frobnicate")
    assert "Did you mean" not in refused.value.message


def test_help_text_shows_every_command_of_the_grammar() -> None:
    for verb in c.VERBS:
        assert verb in c.HELP_TEXT
    assert 'request prod-db 2h "INC-4411 failover"' in c.HELP_TEXT


@pytest.mark.parametrize(
    "text",
    ["request prod-db 1h can't reach the replica", "request prod-db 1h can’t reach the replica"],
    ids=["straight-apostrophe", "typographic-apostrophe"],
)
def test_apostrophe_in_a_reason_is_kept(text: str) -> None:
    parsed = c.parse(text)
    assert isinstance(parsed, c.Request)
    assert parsed.reason in {"can't reach the replica", "can’t reach the replica"}


def test_backslash_in_a_reason_is_kept() -> None:
    parsed = c.parse(r"deny r7k2m9p wrong path C:\temp")
    assert parsed == c.Deny("r7k2m9p", r"wrong path C:\temp")


# -- durations ------------------------------------------------------------------------------------

DURATIONS = [
    ("45s", timedelta(seconds=45)),
    ("30m", 30 * M),
    ("2h", 2 * H),
    ("1h30m", 90 * M),
    ("1d", 24 * H),
    ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
    ("90m", 90 * M),
    ("2H", 2 * H),
    ("366d", timedelta(days=366)),
]


@pytest.mark.parametrize(("text", "expected"), DURATIONS, ids=[d[0] for d in DURATIONS])
def test_duration_as_people_type_it(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("delta", "shown"),
    [
        (timedelta(seconds=45), "45s"),
        (30 * M, "30m"),
        (2 * H, "2h"),
        (90 * M, "1h30m"),
        (24 * H, "1d"),
        (timedelta(days=1, seconds=1), "1d1s"),
        (timedelta(0), "0s"),
        (-H, "0s"),
    ],
    ids=["45s", "30m", "2h", "1h30m", "1d", "1d1s", "zero", "negative"],
)
def test_duration_is_shown_in_its_shortest_exact_form(delta: timedelta, shown: str) -> None:
    assert format_duration(delta) == shown


@pytest.mark.parametrize(
    "delta",
    [timedelta(seconds=1), 59 * M, 90 * M, timedelta(days=2, hours=23, minutes=59, seconds=59)],
    ids=["1s", "59m", "90m", "2d23h59m59s"],
)
def test_shown_duration_parses_back_to_the_same_duration(delta: timedelta) -> None:
    assert parse_duration(format_duration(delta)) == delta


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("0m", "not a positive duration"),
        ("-1h", "is not a duration"),
        ("367d", "the longest duration is 366d"),
        ("abc", "use a number with a unit"),
        ("1h1h", "is not a duration"),
        ("30m1h", "largest first"),
        ("1.5h", "is not a duration"),
        ("2 h", "is not a duration"),
    ],
    ids=[
        "zero",
        "negative",
        "over-a-year",
        "letters",
        "repeated-unit",
        "wrong-order",
        "decimal",
        "space",
    ],
)
def test_bad_duration_is_refused_naming_the_text(text: str, phrase: str) -> None:
    with pytest.raises(CommandError) as refused:
        parse_duration(text)
    assert f"`{text}`" in refused.value.message
    assert phrase in refused.value.message
