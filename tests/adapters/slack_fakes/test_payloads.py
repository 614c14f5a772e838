"""Builders must produce what Slack sends: same fields, same encoding."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from tests.adapters.slack_fakes._shape import DATA, example, missing_keys
from tests.fakes.slack import payloads
from tests.fakes.slack.payloads import FORM, JSON

GRID_ONLY = {"team.enterprise_id", "team.enterprise_name"}
"""Enterprise Grid fields in the bolt examples; a plain workspace does not send them."""


def test_slash_command_rebuilds_the_documented_body_byte_for_byte() -> None:
    body, content_type = payloads.slash_command(
        "",
        command="/webhook-collect",
        token="xyzz0WbapA4vBCDEFasx0q6G",
        team_id="T1DC2JH3J",
        team_domain="testteamnow",
        channel_id="G8PSS9T3V",
        channel_name="foobar",
        user_id="U2CERLKJA",
        user_name="roadrunner",
        response_url="https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN",
        trigger_id="398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
        api_app_id=None,
    )
    assert content_type == FORM
    assert body == (DATA / "signing.docs-request.body.txt").read_bytes()


def test_slash_command_fields() -> None:
    body, _ = payloads.slash_command(
        "request db-prod 2h because incident #42",
        team_id="T9",
        user_id="U9",
        response_url="http://127.0.0.1:1/response_url/x",
    )
    fields = dict(parse_qsl(body.decode("ascii"), keep_blank_values=True))
    assert fields["text"] == "request db-prod 2h because incident #42"
    assert fields["command"] == "/access"
    assert (fields["team_id"], fields["user_id"]) == ("T9", "U9")
    assert fields["response_url"] == "http://127.0.0.1:1/response_url/x"
    assert list(fields) == [
        "token", "team_id", "team_domain", "channel_id", "channel_name", "user_id",
        "user_name", "command", "text", "response_url", "trigger_id", "api_app_id",
    ]  # fmt: skip
    # each request gets its own trigger id, as Slack's are single-use
    other, _ = payloads.slash_command("x")
    assert payloads.decode(other, FORM)["trigger_id"] != fields["trigger_id"]


def test_block_actions_from_a_message_has_the_shape_of_slacks_example() -> None:
    message = {"type": "message", "ts": "1700000000.000200", "text": "Approve?", "blocks": []}
    body, content_type = payloads.block_actions(
        "approve", "req-7", message=message, channel_id="D1", user_id="U2", team_id="T3",
        response_url="http://127.0.0.1:1/response_url/r",
    )  # fmt: skip
    assert content_type == FORM
    assert body.startswith(b"payload=")
    payload = payloads.decode(body, content_type)

    missing = set(missing_keys(payload, example("block_actions.button.bolt-tests.json")))
    assert missing <= GRID_ONLY
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1700000000.000200",
        "channel_id": "D1",
        "is_ephemeral": False,
    }
    assert payload["message"] == message
    assert payload["actions"][0]["action_id"] == "approve"
    assert payload["actions"][0]["value"] == "req-7"
    assert payload["user"]["id"] == "U2" and payload["team"]["id"] == "T3"
    assert payload["response_url"] == "http://127.0.0.1:1/response_url/r"


def test_block_actions_from_a_view_matches_the_home_tab_example() -> None:
    home = example("block_actions.home-tab.docs.json")["view"]
    body, content_type = payloads.block_actions("XRX", view=home)
    payload = payloads.decode(body, content_type)

    assert missing_keys(payload, example("block_actions.home-tab.docs.json")) == []
    assert payload["container"] == {"type": "view", "view_id": home["id"]}
    assert "response_url" not in payload and "message" not in payload


def test_view_submission_has_the_shape_of_slacks_example() -> None:
    values = {"duration": {"value": payloads.plain_text_input("2h")}}
    body, content_type = payloads.view_submission(
        values, callback_id="request_access", private_metadata='{"resource":"db"}', user_id="U5"
    )
    payload = payloads.decode(body, content_type)

    reference = example("view_submission.bolt-tests.json")
    assert set(missing_keys(payload, reference, opaque={"view.state.values"})) <= GRID_ONLY
    assert payload["type"] == "view_submission"
    assert payload["view"]["state"]["values"] == values
    assert payload["view"]["callback_id"] == "request_access"
    assert payload["view"]["private_metadata"] == '{"resource":"db"}'
    assert payload["user"]["id"] == "U5"


def test_view_submission_echoes_a_stored_view() -> None:
    stored = {"id": "V42", "type": "modal", "callback_id": "cb", "private_metadata": "pm",
              "hash": "h", "blocks": [{"type": "input", "block_id": "b"}]}  # fmt: skip
    payload = payloads.decode(*payloads.view_submission({"b": {"a": payloads.number_input("3")}},
                                                         view=stored))  # fmt: skip
    view = payload["view"]
    assert (view["id"], view["callback_id"], view["private_metadata"]) == ("V42", "cb", "pm")
    assert view["blocks"] == stored["blocks"]
    assert view["state"]["values"] == {"b": {"a": {"type": "number_input", "value": "3"}}}


def test_view_closed() -> None:
    payload = payloads.decode(*payloads.view_closed(callback_id="request_access", is_cleared=True))
    assert payload["type"] == "view_closed"
    assert payload["is_cleared"] is True
    assert payload["view"]["callback_id"] == "request_access"
    assert "trigger_id" not in payload


def test_app_home_opened_envelope() -> None:
    body, content_type = payloads.app_home_opened("U7", channel_id="D7", event_time=1_700_000_000)
    assert content_type == JSON
    envelope = json.loads(body)
    assert envelope["type"] == "event_callback"
    assert envelope["event_time"] == 1_700_000_000
    assert envelope["event"]["type"] == "app_home_opened"
    assert (envelope["event"]["user"], envelope["event"]["channel"]) == ("U7", "D7")
    assert envelope["event"]["tab"] == "home"
    assert "view" not in envelope["event"]
    assert {"token", "team_id", "api_app_id", "event_id", "authorizations"} <= set(envelope)


def test_select_states() -> None:
    assert payloads.static_select("db", "Database") == {
        "type": "static_select",
        "selected_option": {
            "text": {"type": "plain_text", "text": "Database", "emoji": True},
            "value": "db",
        },
    }
    assert payloads.static_select(None)["selected_option"] is None
    assert payloads.users_select("U1") == {"type": "users_select", "selected_user": "U1"}
