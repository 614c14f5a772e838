"""`POST /slack/events` under generated input, over real HTTP to one running app per test: never a
5xx, never an internal error or a logged traceback for input the bot refuses, and nothing changes
for an unsigned request or a signed one that is not a Slack payload.

Unsigned requests carry odd timestamps (5,000 digits, non-ASCII digits), odd signatures and bytes
that are not UTF-8; signed ones carry every shape of body; slash commands and interactions carry
the text people (and attackers) type, lone surrogates and NULs included (JSON carries them).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from adapters.slack.constants import ACTIONS, DECISION_BLOCK, VIEWS
from core import commands as c
from core.errors import CommandError
from core.requests import Status
from tests.adapters.slack.rig import ALICE, BOB, LEAD, NOBODY, SlackRig
from tests.core.test_grammar_bounds import TEXT
from tests.fakes.slack import payloads, post_raw, send_signed
from tests.fakes.slack.constants import SIGNING_SECRET

INTERNAL = "Something went wrong on our side"
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # one running app per test
)
FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = st.sampled_from(
    [FORM, "application/json", "text/plain", "application/json; charset=latin-1", "x/y; charset=no"]
)
ODD = st.sampled_from(["\x00", "\ud800", "\udfff", "é", "\u202e", "`", "*", "<!channel>", "\n"])
WORDS = TEXT | st.lists(ODD | st.text(max_size=8), max_size=6).map("".join)


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | WORDS
        | st.sampled_from(["block_actions", "view_submission", "event_callback", "/access"])
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(WORDS, inner, max_size=4),
        max_leaves=max_leaves,
    )


HOSTILE_BODIES = st.sampled_from(
    [
        b"[" * 100_000,
        b'{"a":' * 50_000,
        b"payload=" + b"%5B" * 30_000,
        b'{"type": ' + b"9" * 5000 + b"}",
        b"payload=%7B%22type%22%3A" + b"9" * 5000 + b"%7D",
        b"\xff\xfe\x00payload",
        b"command=/access&text=%FF%FE",
        b"payload=" + json.dumps({"type": "block_actions", "actions": "x"}).encode(),
        b"ssl_check=1&token=x",
    ]
)
BODIES = (
    st.binary(max_size=300)
    | HOSTILE_BODIES
    | json_values().map(lambda v: json.dumps(v).encode())
    | json_values().map(lambda v: urlencode({"payload": json.dumps(v)}).encode())
)
HEADER_TEXT = st.text(
    st.characters(blacklist_categories=["Cc", "Cs"], max_codepoint=0x2FF), max_size=20
)
TIMESTAMPS = (
    st.sampled_from(["9" * 5000, "²", "١٢٣", "", "-1", "1e9", " 1", "0" * 13])
    | st.integers(min_value=-(10**15), max_value=10**15).map(str)
    | st.just("now")
    | HEADER_TEXT
)
SIGNATURES = st.sampled_from(["", "v0=", "v0=é", "v0=" + "0" * 64, "v1=abc"]) | HEADER_TEXT


async def settle(rig: SlackRig) -> None:
    """Wait (with a deadline) for the work the app does after its ack."""
    tasks = set(rig.surface._tasks)  # the surface's background work after each ack
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=10)
        assert not pending, "background work still running after 10 s"


async def observed(rig: SlackRig) -> tuple[int, int, int]:
    """What a refused request must not change: requests, audit events, calls to Slack."""
    requests = await rig.bot.requests.with_status(*Status)
    return len(requests), len(await rig.bot.audit.records()), len(rig.fake.calls())


def no_logged_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    tracebacks = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert not tracebacks, tracebacks[0].getMessage()


def nothing_internal_said(rig: SlackRig) -> None:
    for call in rig.fake.calls():
        said = json.dumps(call.params, default=str)
        assert INTERNAL not in said and "Traceback" not in said, said[:500]


@FUZZ
@given(body=BODIES, content_type=CONTENT_TYPES, timestamp=TIMESTAMPS, signature=SIGNATURES)
async def test_unsigned_requests_are_refused_and_change_nothing(
    rig: SlackRig,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    timestamp: str,
    signature: str,
) -> None:
    caplog.clear()
    before = await observed(rig)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(int(time.time())) if timestamp == "now" else timestamp,
        "X-Slack-Signature": signature,
    }

    reply = await post_raw(rig.url, body, headers)

    assert reply.status == 401, reply.text[:200]
    assert reply.json() == {"error": "invalid request"}
    assert await observed(rig) == before
    no_logged_tracebacks(caplog)


@FUZZ
@given(body=BODIES, content_type=CONTENT_TYPES)
async def test_signed_bodies_get_an_answer_below_500_and_refused_ones_change_nothing(
    rig: SlackRig, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str
) -> None:
    caplog.clear()
    before = await observed(rig)

    reply = await send_signed(rig.url, body, content_type, secret=SIGNING_SECRET)
    await settle(rig)

    assert reply.status < 500, (reply.status, body[:200])
    if reply.status >= 400:
        assert await observed(rig) == before
    no_logged_tracebacks(caplog)
    nothing_internal_said(rig)


@FUZZ
@given(text=WORDS, user=st.sampled_from([ALICE, BOB, LEAD]))
async def test_any_typed_command_is_answered_without_an_internal_error(
    rig: SlackRig, caplog: pytest.LogCaptureFixture, text: str, user: str
) -> None:
    # A form body is percent-encoded UTF-8: a lone surrogate cannot travel in one (JSON below).
    text = text.encode("utf-8", "replace").decode("utf-8")
    try:
        parsed: c.Command | None = c.parse(text)
    except CommandError:
        parsed = None
    # These open a form or ask to confirm instead of answering in text.
    opens_form = (
        isinstance(parsed, c.Connect)
        or (isinstance(parsed, c.Request) and parsed.resource is None)
        or (isinstance(parsed, c.Disconnect) and parsed.provider is not None)
    )
    assume(text.strip() and not opens_form)
    caplog.clear()
    before = await observed(rig)

    reply = await rig.command(text, user=user)
    answer = await rig.answer()
    await settle(rig)

    assert reply.status == 200
    assert INTERNAL not in answer and "Traceback" not in answer, (text, answer)
    if parsed is None:
        requests, audit, _ = await observed(rig)
        assert (requests, audit) == before[:2]
    no_logged_tracebacks(caplog)


STATE_BLOCKS = st.sampled_from(
    ["resource", "duration", "reason", "provider", "region", "auth", "api_key", "site", "email"]
)
STATE = st.dictionaries(
    STATE_BLOCKS,
    (WORDS | st.none()).flatmap(
        lambda v: st.sampled_from(
            [
                {"value": payloads.plain_text_input(v)},
                {"value": payloads.static_select(v)},
                {"value": {"type": "x", "value": [v]}},
            ]
        )
    ),
    max_size=4,
)
METADATA = st.none() | WORDS | json_values().map(json.dumps) | st.just("[" * 5000)


@FUZZ
@given(
    action_id=st.sampled_from(ACTIONS) | WORDS,
    value=st.none() | WORDS,
    user=st.sampled_from([ALICE, BOB, LEAD, NOBODY]),
)
async def test_any_button_value_is_answered_without_an_internal_error(
    rig: SlackRig, caplog: pytest.LogCaptureFixture, action_id: str, value: str | None, user: str
) -> None:
    caplog.clear()
    url = rig.fake.response_url("click", channel="C0FAKECHN1", user=user)

    reply = await rig.send(
        payloads.block_actions(
            action_id, value, block_id=DECISION_BLOCK, user_id=user, response_url=url
        )
    )
    await settle(rig)

    assert reply.status < 500
    no_logged_tracebacks(caplog)
    nothing_internal_said(rig)


@FUZZ
@given(
    callback_id=st.sampled_from(VIEWS) | WORDS,
    state=STATE,
    metadata=METADATA,
    user=st.sampled_from([ALICE, LEAD, NOBODY]),
)
async def test_any_form_submission_is_answered_without_an_internal_error(
    rig: SlackRig,
    caplog: pytest.LogCaptureFixture,
    callback_id: str,
    state: dict[str, Any],
    metadata: str | None,
    user: str,
) -> None:
    caplog.clear()

    reply = await rig.send(
        payloads.view_submission(
            state, callback_id=callback_id, private_metadata=metadata, user_id=user
        )
    )
    await settle(rig)

    assert reply.status < 500
    no_logged_tracebacks(caplog)
    nothing_internal_said(rig)


async def test_the_requests_that_once_got_500_are_refused(rig: SlackRig) -> None:
    """Reproduced first: each of these was a 500 with a traceback in the log."""
    now = str(int(time.time()))
    unsigned = [
        (b"\xff\xfe\x80payload", now, "v0=00"),  # not UTF-8
        (b"a=b", "9" * 5000, "v0=00"),  # int() refuses 5,000 digits
        (b"a=b", "١٢٣", "v0=00"),  # digits, but not ASCII ones
        (b"a=b", now, "v0=é"),  # compare_digest refuses non-ASCII text
    ]
    for body, timestamp, signature in unsigned:
        headers = {
            "Content-Type": FORM,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        }
        assert (await post_raw(rig.url, body, headers)).status == 401
    for body, content_type in [
        (b"[" * 100_000, "application/json"),  # RecursionError in json.loads
        (b"payload=" + b"%5B" * 30_000, FORM),
        (b'{"type": ' + b"9" * 5000 + b"}", "application/json"),
    ]:
        reply = await send_signed(rig.url, body, content_type, secret=SIGNING_SECRET)
        assert reply.status == 400
    metadata = "[" * 5000  # a private_metadata that recursed in json.loads
    reply = await rig.send(
        payloads.view_submission({}, callback_id=VIEWS[0], private_metadata=metadata)
    )
    await settle(rig)
    assert reply.status < 500
