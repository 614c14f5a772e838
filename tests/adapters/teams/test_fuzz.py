"""`POST /api/messages` under generated input, over real HTTP to one running app per test, with
Bot Framework tokens from the fake identity provider: never a 5xx, never an internal error or a
logged traceback for input the bot refuses, and nothing changes for an unauthenticated request.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.requests import Status
from tests.adapters.slack.test_fuzz import HOSTILE_BODIES, WORDS, json_values
from tests.adapters.teams.conftest import ALICE, CAROL, GUEST, LEAD, Person, TeamsUnderTest
from tests.adapters.teams_fakes.conftest import APP_ID
from tests.fakes.teams import activities

INTERNAL = "Something went wrong on our side"
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # one running app per test
)
PEOPLE = st.sampled_from([ALICE, LEAD, CAROL, GUEST])
CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/json; charset=foo", "application/json; charset=latin-1",
     "text/plain", ""]
)  # fmt: skip
BODIES = (
    st.binary(max_size=300) | HOSTILE_BODIES | json_values().map(lambda v: json.dumps(v).encode())
)
AUTHORIZATIONS = st.sampled_from(
    ["", "Bearer", "Bearer x.y.z", "Basic abc", "Bearer " + "a" * 5000, "Bearer é"]
)


async def observed(teams: TeamsUnderTest) -> tuple[int, int, int]:
    """What an unauthenticated request must not change: requests, audit events, messages sent."""
    requests = await teams.bot.requests.with_status(*Status)
    return len(requests), len(await teams.bot.audit.records()), len(teams.connector.calls)


def no_logged_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    tracebacks = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert not tracebacks, tracebacks[0].getMessage()


def nothing_internal_said(teams: TeamsUnderTest) -> None:
    for sent in teams.connector.activities:
        said = json.dumps(sent.__dict__, default=str)
        assert INTERNAL not in said and "Traceback" not in said, said[:500]


@FUZZ
@given(
    body=BODIES | st.builds(lambda p, t: json.dumps(activities.personal_message(t, **p)).encode(),
                            st.just({"service_url": "https://smba.example/"}), WORDS),
    content_type=CONTENT_TYPES,
    authorization=AUTHORIZATIONS,
)  # fmt: skip
async def test_unauthenticated_requests_are_refused_and_change_nothing(
    teams: TeamsUnderTest,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    authorization: str,
) -> None:
    caplog.clear()
    before = await observed(teams)
    headers = {"Content-Type": content_type, "Authorization": authorization}

    async with teams.client.post("/api/messages", data=body, headers=headers) as response:
        status = response.status

    assert 400 <= status < 500, (status, body[:200])
    assert await observed(teams) == before
    no_logged_tracebacks(caplog)


async def post(teams: TeamsUnderTest, activity: dict[str, Any]) -> int:
    token = teams.identity.mint_channel_token(APP_ID, teams.service_url)
    async with teams.client.post(
        "/api/messages",
        data=json.dumps(activity),  # ASCII: lone surrogates travel as \\ud800 escapes
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    ) as response:
        return response.status


@FUZZ
@given(person=PEOPLE, text=WORDS)
async def test_any_typed_command_is_answered_without_an_internal_error(
    teams: TeamsUnderTest, caplog: pytest.LogCaptureFixture, person: Person, text: str
) -> None:
    caplog.clear()
    activity = activities.personal_message(text, **person.envelope(teams.service_url))

    status = await post(teams, activity)

    assert status == 201
    answer = await teams.next_in(person)
    assert INTERNAL not in json.dumps(answer.__dict__, default=str), (text, answer)
    no_logged_tracebacks(caplog)


VERBS = st.sampled_from(["approve", "deny", "refresh", "disconnect", "keep_connected"]) | WORDS
DATA = st.dictionaries(
    st.sampled_from(["id", "request_id", "verb", "form", "resource", "duration", "reason",
                     "provider", "comment"]) | WORDS,
    json_values(max_leaves=6),
    max_size=5,
)  # fmt: skip


def invoke_or_message(person: Person, service_url: str) -> st.SearchStrategy[dict[str, Any]]:
    envelope = person.envelope(service_url)
    return st.one_of(
        st.builds(lambda v, d: activities.adaptive_card_action(v, d, **envelope), VERBS, DATA),
        st.builds(lambda d: activities.card_submit(d, **envelope), DATA),
        st.builds(lambda d: activities.task_fetch(d, **envelope), DATA),
        st.builds(lambda d: activities.task_submit(d, **envelope), DATA),
        st.builds(lambda t: activities.personal_message(t, **envelope), WORDS),
    )


@FUZZ
@given(
    person=PEOPLE,
    data=st.data(),
    extra=st.dictionaries(
        # Not "from": a sender the connector does not know is answered with an error id
        # (tests/adapters/teams/test_commands.py), on purpose for now.
        st.sampled_from(["type", "name", "value", "text", "channelData", "conversation",
                         "replyToId", "entities", "attachments", "locale"]),
        json_values(max_leaves=8),
        max_size=2,
    ),
)  # fmt: skip
async def test_any_activity_is_answered_below_500_without_an_internal_error(
    teams: TeamsUnderTest,
    caplog: pytest.LogCaptureFixture,
    person: Person,
    data: st.DataObject,
    extra: dict[str, Any],
) -> None:
    caplog.clear()
    activity = {**data.draw(invoke_or_message(person, teams.service_url)), **extra}

    status = await post(teams, activity)

    # 501 is the Bot Framework's answer to an invoke name the bot does not implement.
    unimplemented = status == 501 and activity.get("type") == "invoke"
    assert status < 500 or unimplemented, (status, activity)
    no_logged_tracebacks(caplog)
    nothing_internal_said(teams)


async def test_the_requests_that_once_got_500_are_refused(
    teams: TeamsUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    """Reproduced first: each of these was a 500 with a traceback in the log."""
    for body, content_type in [
        (b"[" * 100_000, "application/json"),  # RecursionError in json.loads
        (b'{"type":"message"}', "application/json; charset=foo"),  # LookupError
    ]:
        async with teams.client.post(
            "/api/messages", data=body, headers={"Content-Type": content_type}
        ) as response:
            assert response.status == 400
    envelope = ALICE.envelope(teams.service_url)
    for activity in [
        {**activities.adaptive_card_action("approve", {}, **envelope), "value": None},
        {**activities.task_fetch({}, **envelope), "value": None},
        {**activities.task_fetch({}, **envelope), "value": []},
        {**activities.card_submit({}, **envelope), "conversation": None},
        {**activities.adaptive_card_action("approve", {}, **envelope), "value": {"action": "x"}},
        {**activities.adaptive_card_action("deny", {}, **envelope), "value": {"action": [1]}},
    ]:
        assert await post(teams, activity) < 500
    for activity in [
        activities.adaptive_card_action(
            "deny", {"id": "\ud800"}, **envelope
        ),  # an id no store keeps
    ]:
        assert await post(teams, activity) < 500
    no_logged_tracebacks(caplog)
    nothing_internal_said(teams)


async def test_ids_that_are_not_strings_are_refused_before_any_work(
    teams: TeamsUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    """msrest turns an object where an id belongs into its text; the answer would then go to a
    conversation that does not exist, after the command had run."""
    envelope = ALICE.envelope(teams.service_url)
    message = activities.personal_message("request grafana-admin 30m", **envelope)
    before = await observed(teams)
    for conversation_id in ({"verb": {}, "action": True}, [{}], 7):
        bad = {**message, "conversation": {**message["conversation"], "id": conversation_id}}
        assert await post(teams, bad) == 400
    assert await post(teams, {**message, "from": {**message["from"], "id": ["29:x"]}}) == 400
    assert await observed(teams) == before
    no_logged_tracebacks(caplog)


async def test_an_answer_the_connector_refuses_is_logged_without_a_traceback(
    teams: TeamsUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    teams.connector.close_conversation(ALICE.chat)
    caplog.set_level(logging.WARNING)

    status = await post(
        teams, activities.personal_message("list", **ALICE.envelope(teams.service_url))
    )

    assert status == 201
    no_logged_tracebacks(caplog)
    assert any("the connector refused it" in r.getMessage() for r in caplog.records)
    nothing_internal_said(teams)
