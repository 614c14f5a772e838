"""Builders for the requests Slack sends to an app, as the exact bytes it would send.

Shapes follow Slack's published examples (see ``data/README.md``): slash commands are a flat
form body; interactivity (``block_actions``, ``view_submission``, ``view_closed``) is a form
body with one ``payload`` field holding JSON; Events API callbacks are JSON. Every builder
returns ``(body, content_type)`` so the caller signs and sends those bytes unchanged.

Defaults come from ``constants`` and match the fake Web API's workspace. ``view`` and
``message`` parameters accept what the fake stored (``fake.views[...]``, ``fake.messages[...]``),
so a test can click a button on the message the bot really posted.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

from tests.fakes.slack.constants import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    CHANNEL_ID,
    CHANNEL_NAME,
    TEAM_DOMAIN,
    TEAM_ID,
    UNROUTABLE_RESPONSE_URL,
    USER_ID,
    USER_NAME,
    VERIFICATION_TOKEN,
)

FORM: Final = "application/x-www-form-urlencoded"
JSON: Final = "application/json"

StateValues = Mapping[str, Mapping[str, Mapping[str, Any]]]
"""``view.state.values``: block_id -> action_id -> element state (``type`` + value field)."""

_ids = itertools.count(1)


def new_trigger_id() -> str:
    """A fresh trigger id in Slack's ``<n>.<n>.<hex>`` form; each payload gets its own."""
    n = next(_ids)
    return f"{10_000_000_000 + n}.4744562912.{n:032x}"


def _now_ts() -> str:
    return f"{time.time():.6f}"


def _encode_payload(payload: Mapping[str, Any]) -> tuple[bytes, str]:
    body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
    return body.encode("ascii"), FORM


def decode(body: bytes, content_type: str) -> dict[str, Any]:
    """Parse a built body back: the JSON of ``payload=`` forms, the fields of other forms,
    or the JSON document. Lets tests assert on what a builder produced."""
    if content_type == JSON:
        return dict(json.loads(body))
    fields = dict(parse_qsl(body.decode("ascii"), keep_blank_values=True))
    if set(fields) == {"payload"}:
        return dict(json.loads(fields["payload"]))
    return fields


# --- view.state.values element states -------------------------------------------------------


def plain_text_input(value: str | None) -> dict[str, Any]:
    """State of a ``plain_text_input``; ``None`` is what Slack sends for an empty optional one."""
    return {"type": "plain_text_input", "value": value}


def number_input(value: str | None) -> dict[str, Any]:
    """State of a ``number_input``; Slack sends the number as a string."""
    return {"type": "number_input", "value": value}


def static_select(value: str | None, text: str | None = None) -> dict[str, Any]:
    """State of a ``static_select``; ``None`` means nothing selected."""
    if value is None:
        return {"type": "static_select", "selected_option": None}
    option = {"text": {"type": "plain_text", "text": text or value, "emoji": True}, "value": value}
    return {"type": "static_select", "selected_option": option}


def users_select(user_id: str | None) -> dict[str, Any]:
    """State of a ``users_select``."""
    return {"type": "users_select", "selected_user": user_id}


# --- slash command ----------------------------------------------------------------------------


def slash_command(
    text: str = "",
    *,
    command: str = "/access",
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    channel_id: str = CHANNEL_ID,
    channel_name: str = CHANNEL_NAME,
    user_id: str = USER_ID,
    user_name: str = USER_NAME,
    response_url: str = UNROUTABLE_RESPONSE_URL,
    trigger_id: str | None = None,
    api_app_id: str | None = APP_ID,
    token: str = VERIFICATION_TOKEN,
    enterprise_id: str | None = None,
    enterprise_name: str | None = None,
) -> tuple[bytes, str]:
    """A slash command POST body, fields in the order of Slack's docs.

    ``enterprise_*`` appear only for Enterprise Grid workspaces and ``api_app_id`` can be
    dropped (``None``), which lets the documented signing example be rebuilt byte for byte.
    """
    fields: list[tuple[str, str]] = [("token", token), ("team_id", team_id)]
    fields.append(("team_domain", team_domain))
    if enterprise_id is not None:
        fields.append(("enterprise_id", enterprise_id))
    if enterprise_name is not None:
        fields.append(("enterprise_name", enterprise_name))
    fields += [
        ("channel_id", channel_id),
        ("channel_name", channel_name),
        ("user_id", user_id),
        ("user_name", user_name),
        ("command", command),
        ("text", text),
        ("response_url", response_url),
        ("trigger_id", trigger_id or new_trigger_id()),
    ]
    if api_app_id is not None:
        fields.append(("api_app_id", api_app_id))
    return urlencode(fields).encode("ascii"), FORM


# --- interactivity ----------------------------------------------------------------------------


def _user(user_id: str, user_name: str, team_id: str) -> dict[str, Any]:
    return {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id}


def _team(team_id: str, team_domain: str) -> dict[str, Any]:
    return {"id": team_id, "domain": team_domain}


def _modal(
    view: Mapping[str, Any] | None,
    *,
    view_id: str | None,
    callback_id: str | None,
    private_metadata: str | None,
    state_values: StateValues | None,
    team_id: str,
    api_app_id: str,
) -> dict[str, Any]:
    """A view object as Slack echoes it back: defaults, then ``view``, then explicit overrides."""
    vid = view_id or (view or {}).get("id") or "V0FAKEVIEW1"
    result: dict[str, Any] = {
        "id": vid,
        "team_id": team_id,
        "type": "modal",
        "blocks": [],
        "private_metadata": "",
        "callback_id": "",
        "state": {"values": {}},
        "hash": "1700000000.fakehash",
        "title": {"type": "plain_text", "text": "Access"},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": {"type": "plain_text", "text": "Cancel"},
        "submit": {"type": "plain_text", "text": "Submit"},
        "previous_view_id": None,
        "root_view_id": vid,
        "app_id": api_app_id,
        "external_id": "",
        "app_installed_team_id": team_id,
        "bot_id": BOT_ID,
    }
    if view is not None:
        result.update(copy.deepcopy(dict(view)))
    if view_id is not None:
        result["id"] = view_id
    if callback_id is not None:
        result["callback_id"] = callback_id
    if private_metadata is not None:
        result["private_metadata"] = private_metadata
    if state_values is not None:
        result["state"] = {"values": copy.deepcopy(dict(state_values))}
    return result


def _action(
    action_id: str,
    value: str | None,
    *,
    block_id: str,
    action_type: str,
    text: str,
    overrides: Mapping[str, Any] | None,
) -> dict[str, Any]:
    action: dict[str, Any] = {"action_id": action_id, "block_id": block_id}
    if action_type == "button":
        action["text"] = {"type": "plain_text", "text": text, "emoji": True}
        if value is not None:
            action["value"] = value
    elif action_type == "static_select":
        action["selected_option"] = static_select(value, text)["selected_option"]
    elif value is not None:
        action["value"] = value
    action["type"] = action_type
    action["action_ts"] = _now_ts()
    if overrides:
        action.update(copy.deepcopy(dict(overrides)))
    return action


def block_actions(
    action_id: str,
    value: str | None = None,
    *,
    block_id: str = "actions",
    action_type: str = "button",
    action_text: str = "Button",
    action: Mapping[str, Any] | None = None,
    message: Mapping[str, Any] | None = None,
    message_ts: str | None = None,
    channel_id: str = CHANNEL_ID,
    channel_name: str = CHANNEL_NAME,
    is_ephemeral: bool = False,
    view: Mapping[str, Any] | None = None,
    state_values: StateValues | None = None,
    user_id: str = USER_ID,
    user_name: str = USER_NAME,
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    response_url: str = UNROUTABLE_RESPONSE_URL,
    trigger_id: str | None = None,
    api_app_id: str = APP_ID,
    token: str = VERIFICATION_TOKEN,
) -> tuple[bytes, str]:
    """A ``block_actions`` payload for one action, from a message or from a view.

    Without ``view`` the action comes from a message (``container.type`` ``message``, with
    ``channel``, ``message`` and ``response_url``); pass ``message=fake.messages[key]`` to
    act on a message the bot posted. With ``view`` (a modal or the Home tab) Slack sends
    ``container.type`` ``view`` and the view, and no ``response_url``.
    ``action`` is merged over the generated action for element types not modelled here.
    """
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": token,
    }
    if view is not None:
        full_view = _modal(
            view,
            view_id=None,
            callback_id=None,
            private_metadata=None,
            state_values=state_values,
            team_id=team_id,
            api_app_id=api_app_id,
        )
        payload["container"] = {"type": "view", "view_id": full_view["id"]}
    else:
        ts = message_ts or (message or {}).get("ts") or "1700000000.000100"
        payload["container"] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        }
    payload["trigger_id"] = trigger_id or new_trigger_id()
    payload["team"] = _team(team_id, team_domain)
    payload["enterprise"] = None
    payload["is_enterprise_install"] = False
    if view is not None:
        payload["view"] = full_view
    else:
        payload["channel"] = {"id": channel_id, "name": channel_name}
        msg = copy.deepcopy(dict(message)) if message is not None else None
        if msg is None:
            msg = {
                "type": "message",
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "app_id": api_app_id,
                "text": "",
                "ts": payload["container"]["message_ts"],
                "team": team_id,
                "blocks": [],
            }
        payload["message"] = msg
        payload["state"] = {"values": copy.deepcopy(dict(state_values or {}))}
        payload["response_url"] = response_url
    payload["actions"] = [
        _action(
            action_id,
            value,
            block_id=block_id,
            action_type=action_type,
            text=action_text,
            overrides=action,
        )
    ]
    return _encode_payload(payload)


def view_submission(
    state_values: StateValues | None = None,
    *,
    callback_id: str | None = None,
    private_metadata: str | None = None,
    view: Mapping[str, Any] | None = None,
    view_id: str | None = None,
    user_id: str = USER_ID,
    user_name: str = USER_NAME,
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    trigger_id: str | None = None,
    api_app_id: str = APP_ID,
    token: str = VERIFICATION_TOKEN,
    response_urls: Sequence[Mapping[str, Any]] = (),
) -> tuple[bytes, str]:
    """A ``view_submission`` payload: the modal with the user's ``state.values``.

    Pass ``view=fake.views[view_id]`` to submit the modal the bot opened, so
    ``callback_id`` and ``private_metadata`` are the ones the bot really sent.
    """
    payload: dict[str, Any] = {
        "type": "view_submission",
        "team": _team(team_id, team_domain),
        "user": _user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": token,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": _modal(
            view,
            view_id=view_id,
            callback_id=callback_id,
            private_metadata=private_metadata,
            state_values=state_values,
            team_id=team_id,
            api_app_id=api_app_id,
        ),
        "response_urls": [dict(u) for u in response_urls],
        "enterprise": None,
        "is_enterprise_install": False,
    }
    return _encode_payload(payload)


def block_suggestion(
    action_id: str,
    value: str = "",
    *,
    block_id: str,
    view: Mapping[str, Any],
    user_id: str = USER_ID,
    user_name: str = USER_NAME,
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = APP_ID,
    token: str = VERIFICATION_TOKEN,
) -> tuple[bytes, str]:
    """A ``block_suggestion`` payload: someone typed ``value`` into an ``external_select`` of a
    modal (Slack asks the options load URL, and shows what the 200 answer lists)."""
    full_view = _modal(
        view,
        view_id=None,
        callback_id=None,
        private_metadata=None,
        state_values=None,
        team_id=team_id,
        api_app_id=api_app_id,
    )
    payload: dict[str, Any] = {
        "type": "block_suggestion",
        "user": _user(user_id, user_name, team_id),
        "container": {"type": "view", "view_id": full_view["id"]},
        "api_app_id": api_app_id,
        "token": token,
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "team": _team(team_id, team_domain),
        "enterprise": None,
        "is_enterprise_install": False,
        "view": full_view,
    }
    return _encode_payload(payload)


def view_closed(
    *,
    callback_id: str | None = None,
    private_metadata: str | None = None,
    view: Mapping[str, Any] | None = None,
    view_id: str | None = None,
    is_cleared: bool = False,
    user_id: str = USER_ID,
    user_name: str = USER_NAME,
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = APP_ID,
    token: str = VERIFICATION_TOKEN,
) -> tuple[bytes, str]:
    """A ``view_closed`` payload (sent only for views opened with ``notify_on_close``).

    Unlike ``view_submission`` it has no ``trigger_id``; ``is_cleared`` is true when the whole
    view stack was closed at once.
    """
    payload: dict[str, Any] = {
        "type": "view_closed",
        "team": _team(team_id, team_domain),
        "user": _user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": token,
        "view": _modal(
            view,
            view_id=view_id,
            callback_id=callback_id,
            private_metadata=private_metadata,
            state_values=None,
            team_id=team_id,
            api_app_id=api_app_id,
        ),
        "is_cleared": is_cleared,
        "enterprise": None,
        "is_enterprise_install": False,
    }
    return _encode_payload(payload)


# --- Events API -------------------------------------------------------------------------------


def event_callback(
    event: Mapping[str, Any],
    *,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    bot_user_id: str = BOT_USER_ID,
    event_id: str | None = None,
    event_time: int | None = None,
    token: str = VERIFICATION_TOKEN,
) -> tuple[bytes, str]:
    """Wrap ``event`` in the Events API ``event_callback`` envelope (a JSON POST)."""
    envelope = {
        "token": token,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": copy.deepcopy(dict(event)),
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_ids):08d}",
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    return json.dumps(envelope, separators=(",", ":")).encode("utf-8"), JSON


def app_home_opened(
    user_id: str = USER_ID,
    *,
    tab: str = "home",
    channel_id: str = "D0FAKEDM01",
    view: Mapping[str, Any] | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    bot_user_id: str = BOT_USER_ID,
    event_id: str | None = None,
    event_time: int | None = None,
) -> tuple[bytes, str]:
    """The ``app_home_opened`` event in its envelope.

    ``channel_id`` is the user's DM with the app (``fake.dm_channel_id(user)`` to match the
    fake); ``view`` is present only once a Home tab has been published
    (``fake.home_views[user]``). ``tab`` is ``home`` or ``messages``.
    """
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": channel_id,
        "tab": tab,
        "event_ts": _now_ts(),
    }
    if view is not None:
        event["view"] = copy.deepcopy(dict(view))
    return event_callback(
        event,
        team_id=team_id,
        api_app_id=api_app_id,
        bot_user_id=bot_user_id,
        event_id=event_id,
        event_time=event_time,
    )


def url_verification(challenge: str, *, token: str = VERIFICATION_TOKEN) -> tuple[bytes, str]:
    """The one-off handshake Slack sends when an Events API Request URL is saved."""
    body = {"token": token, "challenge": challenge, "type": "url_verification"}
    return json.dumps(body, separators=(",", ":")).encode("utf-8"), JSON
