"""`/access` in Slack: acknowledged at once, answered ephemerally on the response_url; the bare
command and `request` open the request modal, whose refusals land on the right field."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from adapters.slack.identity import NO_EMAIL, OTHER_WORKSPACE
from tests.adapters.slack.rig import ALICE, BOB, NOBODY, SlackRig, start_rig, text_of
from tests.conftest import FakeClock
from tests.fakes.slack import FakeSlackApi, payloads


async def _open_request_form(rig: SlackRig, text: str = "", user: str = ALICE) -> dict[str, Any]:
    """Type the command and return the filled-in modal as Slack holds it."""
    reply = await rig.command(text, user=user)
    assert (reply.status, reply.text) == (200, "")
    opened = await rig.fake.next_call("views.open")
    assert opened.response["view"]["callback_id"] == "access.loading"
    updated = await rig.fake.next_call("views.update")
    assert updated.params["view_id"] == opened.response["view"]["id"]
    return rig.fake.views[updated.params["view_id"]]


def _options(view: dict[str, Any]) -> list[str]:
    return [
        option["value"]
        for block in view["blocks"]
        if block.get("block_id") == "resource"
        for option in block["element"]["options"]
    ]


def _form(resource: str | None, duration: str | None, reason: str | None) -> dict[str, Any]:
    return {
        "resource": {"value": payloads.static_select(resource)},
        "duration": {"value": payloads.plain_text_input(duration)},
        "reason": {"value": payloads.plain_text_input(reason)},
    }


async def test_typed_command_is_answered_ephemerally(rig: SlackRig) -> None:
    reply = await rig.command("list")

    assert (reply.status, reply.text) == (200, "")
    call = await rig.fake.next_call("response_url:cmd")
    assert call.params["response_type"] == "ephemeral"
    assert "✓ prod-db" in call.params["text"]
    assert "✓ grafana-admin" in call.params["text"]


async def test_refused_request_says_why_and_creates_nothing(rig: SlackRig) -> None:
    await rig.command("request prod-db 1h INC-1", user=BOB)

    assert await rig.answer() == "You are not on call for Primary SRE (roster file)."
    assert await rig.bot.requests.by_requester("bob@example.com") == []
    assert rig.fake.calls("chat.postMessage") == []


async def test_ack_returns_before_slow_web_api_answers(rig: SlackRig) -> None:
    held = ["users.info", "users.lookupByEmail", "conversations.open", "chat.postMessage"]
    for method in held:
        rig.fake.hold(method)

    reply = await asyncio.wait_for(rig.command("request prod-db 1h INC-1"), timeout=2.0)

    assert (reply.status, reply.text) == (200, "")
    assert rig.fake.calls("response_url:cmd") == []  # the work is still waiting on Slack
    for method in held:
        rig.fake.release(method)
    assert "is waiting for approval" in await rig.answer()


async def test_user_whose_email_cannot_be_read_gets_a_clear_message(rig: SlackRig) -> None:
    await rig.command("request prod-db 1h INC-1", user=NOBODY)

    assert await rig.answer() == NO_EMAIL
    assert await rig.requests() == []


async def test_missing_email_scope_gives_the_same_message(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    scopes = ("commands", "chat:write", "users:read", "im:write")
    async with FakeSlackApi(scopes=scopes) as fake:
        fake.add_user(ALICE, "alice@example.com")
        async with start_rig(fake, tmp_path, sqlite_url, clock) as rig:
            await rig.command("mine")
            assert await rig.answer() == NO_EMAIL


async def test_other_workspace_is_refused(rig: SlackRig) -> None:
    reply = await rig.command("request prod-db 1h INC-1", team_id="T0OTHER001")

    assert reply.status == 200
    assert reply.json() == {"response_type": "ephemeral", "text": OTHER_WORKSPACE}
    assert [c.method for c in rig.fake.calls()] == ["auth.test"]
    assert await rig.requests() == []


async def test_configured_team_wins_over_the_token_team(
    fake_slack: FakeSlackApi, tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    fake_slack.add_user(ALICE, "alice@example.com", team_id="T0CONF0001")
    async with start_rig(
        fake_slack,
        tmp_path,
        sqlite_url,
        clock,
        configure=lambda c: replace(c, team_id="T0CONF0001"),
    ) as rig:
        refused = await rig.command("help")
        assert refused.json()["text"] == OTHER_WORKSPACE
        await rig.command("help", team_id="T0CONF0001", name="ok")
        assert "request RESOURCE" in await rig.answer("ok")


async def test_bare_command_opens_the_request_form_with_what_i_may_request(rig: SlackRig) -> None:
    view = await _open_request_form(rig, "")

    assert view["callback_id"] == "access.request_form"
    assert _options(view) == ["prod-db", "grafana-admin"]
    assert view["submit"]["text"] == "Request"


async def test_request_form_lists_what_is_refused_and_why(rig: SlackRig) -> None:
    view = await _open_request_form(rig, "request", user=BOB)

    assert _options(view) == []
    assert "submit" not in view or view["submit"] is None
    shown = text_of(view)
    assert "prod-db*: You are not on call for Primary SRE (roster file)." in shown
    assert "You may not request anything right now." in shown


async def test_request_form_submit_with_too_long_duration_shows_inline_error(
    rig: SlackRig,
) -> None:
    view = await _open_request_form(rig)

    reply = await rig.send(
        payloads.view_submission(_form("prod-db", "9h", "INC-1"), view=view, user_id=ALICE)
    )

    assert reply.json() == {
        "response_action": "errors",
        "errors": {"duration": "9h is longer than the 4h maximum for prod-db."},
    }
    assert await rig.requests() == []


async def test_request_form_errors_land_on_their_fields(rig: SlackRig) -> None:
    view = await _open_request_form(rig)
    cases = {
        ("prod-db", "1h", None): "reason",
        ("prod-db", "soon", "x"): "duration",
        (None, None, None): "resource",
    }
    for (resource, duration, reason), field in cases.items():
        reply = await rig.send(
            payloads.view_submission(_form(resource, duration, reason), view=view, user_id=ALICE)
        )
        assert reply.json()["response_action"] == "errors"
        assert list(reply.json()["errors"]) == [field]


async def test_request_form_submit_requests_and_answers_in_the_channel(rig: SlackRig) -> None:
    view = await _open_request_form(rig)

    reply = await rig.send(
        payloads.view_submission(
            _form("prod-db", "2h", "INC-4411 “failover” it’s down"), view=view, user_id=ALICE
        )
    )

    assert (reply.status, reply.text) == (200, "")
    answer = await rig.answer()  # on the command's response_url, kept in private_metadata
    assert "is waiting for approval" in answer
    (request,) = await rig.requests()
    assert (request.resource, request.reason) == ("prod-db", "INC-4411 “failover” it’s down")
    assert request.duration.total_seconds() == 7200


async def test_slow_submission_closes_the_modal_and_answers_later(
    fake_slack: FakeSlackApi, tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    fake_slack.add_user(ALICE, "alice@example.com")
    fake_slack.add_user(BOB, "bob@example.com")
    async with start_rig(
        fake_slack, tmp_path, sqlite_url, clock, configure=lambda c: replace(c, form_budget=0.05)
    ) as rig:
        view = await _open_request_form(rig)
        rig.fake.hold("chat.postMessage")  # the approvers' DMs take their time

        reply = await asyncio.wait_for(
            rig.send(
                payloads.view_submission(_form("prod-db", "1h", "INC-1"), view=view, user_id=ALICE)
            ),
            timeout=2.0,
        )

        assert (reply.status, reply.text) == (200, "")
        assert rig.fake.calls("response_url:cmd") == []
        rig.fake.release("chat.postMessage")
        assert "is waiting for approval" in await rig.answer()


async def test_help_and_unknown_commands_use_the_shared_grammar(rig: SlackRig) -> None:
    await rig.command("approv r1", name="typo")

    assert await rig.answer("typo") == (
        "I don't know `approv`. Did you mean `approve`? Type `help` for the commands."
    )


async def test_form_opens_before_anything_slow(rig: SlackRig) -> None:
    rig.fake.hold("users.info")  # who is typing is not known yet

    await rig.command("request")

    opened = await rig.fake.next_call("views.open")  # the 3-second trigger is used at once
    assert opened.params["view"]["callback_id"] == "access.loading"
    assert rig.fake.calls("views.update") == []
    rig.fake.release("users.info")
    updated = await rig.fake.next_call("views.update")
    assert rig.fake.views[updated.params["view_id"]]["callback_id"] == "access.request_form"


async def test_when_slack_will_not_open_the_form_the_answer_is_text(rig: SlackRig) -> None:
    rig.fake.fail("views.open", "expired_trigger_id", times=1)

    await rig.command("request")

    answer = await rig.answer()
    assert "✓ prod-db" in answer  # what `list` says: what may be requested, and why
