"""Builders for inbound Teams activities, as JSON dicts ready to POST to ``/api/messages``.

Shapes follow the reference examples (``reference/teams/activities/``): Teams user ids ``29:…``
with ``aadObjectId``, the bot as ``28:{app id}``, ``channelData.tenant``, a ``clientInfo`` entity,
``<at>…</at>`` plus a ``mention`` entity in channels. The docs publish no complete ``task/*`` or
``adaptiveCard/action`` envelope, so those put the SDK's value models (``TaskModuleRequest``,
``AdaptiveCardInvokeValue``) in the same envelope.

Every builder takes the same envelope keywords (``Envelope``); only ``service_url`` is required,
and it must be the URL the token's ``serviceurl`` claim names (normally ``FakeConnector``'s).
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Required, TypedDict, Unpack

# Defaults: the user from the reference connector response (Larry Brown), Microsoft's docs tenant.
DEFAULT_APP_ID = "00000000-0000-4000-8000-00000000b07a"
DEFAULT_BOT_NAME = "On-call Access"
DEFAULT_TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
DEFAULT_USER_ID = (
    "29:1GcS4EyB_oSI8A88XmWBN7NJFyMqe3QGnJdgLfFGkJnVelzRGos0bPbpsfJjcbAD22bmKc4GMbrY2g4JDrrA8vM06X"
    "1-cHHle4zOE6U4ttcc"
)
DEFAULT_USER_NAME = "Larry Brown"
DEFAULT_AAD_OBJECT_ID = "9d3e08f9-a7ae-43aa-a4d3-de3f319a8a9c"
DEFAULT_USER_EMAIL = "Larry.Brown@fabrikam.com"
DEFAULT_USER_UPN = "labrown@fabrikam.com"
DEFAULT_PERSONAL_CONVERSATION_ID = "a:1bSnHZ7Js2STWrgk6ScEErLk1Lp2zQuD5H2qQ960rtvstKp8tKLl"
DEFAULT_TEAM_ID = "19:712c61d0ef384e5fa681ba90ca943398@thread.skype"
DEFAULT_CHANNEL_ID = "19:dc5ba12695be4eb7bf457cad6b4709eb@thread.skype"

ADAPTIVE_CARD_ACTION = "adaptiveCard/action"
TASK_FETCH = "task/fetch"
TASK_SUBMIT = "task/submit"

_message_ids = itertools.count(int(time.time() * 1000))


class Envelope(TypedDict, total=False):
    """Who sends what where; every builder accepts these keywords."""

    service_url: Required[str]
    app_id: str  # the bot's Microsoft App ID; the recipient is "28:{app_id}"
    bot_name: str
    user_id: str  # Teams user id, "29:…"
    user_name: str
    aad_object_id: str  # the user's Entra object id
    tenant_id: str
    conversation_id: str  # defaults to a personal chat, or the channel thread for channel builders
    activity_id: str
    locale: str


def next_message_id() -> str:
    """A fresh Teams-style message id (milliseconds since the epoch, unique per process)."""
    return str(next(_message_ids))


def personal_message(text: str, **envelope: Unpack[Envelope]) -> dict[str, Any]:
    """A user typing ``text`` to the bot in a 1:1 chat."""
    return {**_personal("message", envelope), "text": text, "textFormat": "plain"}


def channel_mention_message(
    text: str,
    *,
    team_id: str = DEFAULT_TEAM_ID,
    channel_id: str = DEFAULT_CHANNEL_ID,
    **envelope: Unpack[Envelope],
) -> dict[str, Any]:
    """``@bot text`` in a team channel: ``<at>`` markup in ``text`` plus a ``mention`` entity."""
    activity = _channel("message", envelope, team_id=team_id, channel_id=channel_id)
    at_bot = f"<at>{activity['recipient']['name']}</at>"
    activity["text"] = f"{at_bot} {text}"
    activity["textFormat"] = "plain"
    activity["entities"].append(
        {"type": "mention", "mentioned": dict(activity["recipient"]), "text": at_bot}
    )
    return activity


def installation_update(
    action: Literal["add", "remove"] = "add",
    *,
    team_id: str | None = None,
    channel_id: str = DEFAULT_CHANNEL_ID,
    **envelope: Unpack[Envelope],
) -> dict[str, Any]:
    """The app being installed (``add``) or removed, personally or in ``team_id``."""
    if team_id is None:
        activity = _personal("installationUpdate", envelope)
    else:
        activity = _channel("installationUpdate", envelope, team_id=team_id, channel_id=channel_id)
    return {**activity, "action": action}


def members_added(
    member_ids: Sequence[str] | None = None,
    *,
    team_id: str | None = None,
    channel_id: str = DEFAULT_CHANNEL_ID,
    **envelope: Unpack[Envelope],
) -> dict[str, Any]:
    """``conversationUpdate`` with ``membersAdded`` (default: the bot itself, i.e. installed)."""
    if team_id is None:
        activity = _personal("conversationUpdate", envelope)
    else:
        activity = _channel("conversationUpdate", envelope, team_id=team_id, channel_id=channel_id)
        activity["channelData"]["eventType"] = "teamMemberAdded"
    ids = list(member_ids) if member_ids is not None else [activity["recipient"]["id"]]
    return {**activity, "membersAdded": [{"id": member_id} for member_id in ids]}


def adaptive_card_action(
    verb: str,
    data: Mapping[str, Any] | None = None,
    *,
    reply_to_id: str | None = None,
    action_id: str = "",
    trigger: Literal["manual", "automatic"] = "manual",
    **envelope: Unpack[Envelope],
) -> dict[str, Any]:
    """``invoke`` ``adaptiveCard/action``: a user pressing an ``Action.Execute`` button.

    ``reply_to_id`` is the id of the message holding the card (what an update replaces).
    """
    value = {
        "action": {
            "type": "Action.Execute",
            "id": action_id,
            "verb": verb,
            "data": dict(data or {}),
        },
        "trigger": trigger,
    }
    return _invoke(ADAPTIVE_CARD_ACTION, value, reply_to_id, envelope)


def card_submit(
    value: Mapping[str, Any], *, reply_to_id: str | None = None, **envelope: Unpack[Envelope]
) -> dict[str, Any]:
    """``Action.Submit`` (the fallback for clients without ``Action.Execute``).

    Teams sends a ``message`` with no text whose ``value`` is the action's ``data`` merged with
    the card's inputs.
    """
    activity = {**_personal("message", envelope), "value": dict(value)}
    if reply_to_id is not None:
        activity["replyToId"] = reply_to_id
    return activity


def task_fetch(
    data: Mapping[str, Any] | None = None,
    *,
    reply_to_id: str | None = None,
    **envelope: Unpack[Envelope],
) -> dict[str, Any]:
    """``invoke`` ``task/fetch``: a button asking the bot for a dialog (task module)."""
    return _invoke(TASK_FETCH, _task_request(data), reply_to_id, envelope)


def task_submit(
    data: Mapping[str, Any] | None = None,
    *,
    reply_to_id: str | None = None,
    **envelope: Unpack[Envelope],
) -> dict[str, Any]:
    """``invoke`` ``task/submit``: the dialog's ``Action.Submit`` data with its inputs."""
    return _invoke(TASK_SUBMIT, _task_request(data), reply_to_id, envelope)


# -- envelope ----------------------------------------------------------------------------------


def _task_request(data: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"data": dict(data or {}), "context": {"theme": "default"}}


def _invoke(
    name: str, value: dict[str, Any], reply_to_id: str | None, envelope: Envelope
) -> dict[str, Any]:
    activity = {**_personal("invoke", envelope), "name": name, "value": value}
    if "activity_id" not in envelope:
        activity["id"] = "f:" + next_message_id()  # invokes carry "f:…" ids (reference)
    if reply_to_id is not None:
        activity["replyToId"] = reply_to_id
    return activity


def _personal(kind: str, envelope: Envelope) -> dict[str, Any]:
    activity = _base(kind, envelope)
    activity["conversation"] = {
        "conversationType": "personal",
        "tenantId": activity["channelData"]["tenant"]["id"],
        "id": envelope.get("conversation_id", DEFAULT_PERSONAL_CONVERSATION_ID),
    }
    return activity


def _channel(kind: str, envelope: Envelope, *, team_id: str, channel_id: str) -> dict[str, Any]:
    activity = _base(kind, envelope)
    tenant_id = activity["channelData"]["tenant"]["id"]
    activity["conversation"] = {
        "isGroup": True,
        "conversationType": "channel",
        "tenantId": tenant_id,
        "id": envelope.get("conversation_id", f"{channel_id};messageid={activity['id']}"),
    }
    activity["channelData"].update(
        {
            "teamsChannelId": channel_id,
            "teamsTeamId": team_id,
            "channel": {"id": channel_id},
            "team": {"id": team_id},
        }
    )
    return activity


def _base(kind: str, envelope: Envelope) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    locale = envelope.get("locale", "en-US")
    return {
        "type": kind,
        "id": envelope.get("activity_id") or next_message_id(),
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "localTimestamp": now.isoformat(),
        "serviceUrl": envelope["service_url"],
        "channelId": "msteams",
        "from": {
            "id": envelope.get("user_id", DEFAULT_USER_ID),
            "name": envelope.get("user_name", DEFAULT_USER_NAME),
            "aadObjectId": envelope.get("aad_object_id", DEFAULT_AAD_OBJECT_ID),
        },
        "recipient": {
            "id": "28:" + envelope.get("app_id", DEFAULT_APP_ID),
            "name": envelope.get("bot_name", DEFAULT_BOT_NAME),
        },
        "locale": locale,
        "entities": [{"locale": locale, "country": "US", "platform": "Web", "type": "clientInfo"}],
        "channelData": {"tenant": {"id": envelope.get("tenant_id", DEFAULT_TENANT_ID)}},
    }
