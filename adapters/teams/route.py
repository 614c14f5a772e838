"""``POST /api/messages``: the one HTTP entry of the Teams surface.

Same contract as ``CloudAdapter.process`` (415 for a body that is not JSON, 400 for an activity
without a type, 401 when authentication fails, 201 for an accepted activity, the invoke response
otherwise), with one fix: botbuilder-integration-aiohttp 4.17.1 serializes an invoke response
body a second time and answers 500 for the dict every ``ActivityHandler`` invoke handler returns,
so Universal Actions and dialogs would never work behind it. A body that is not UTF-8 JSON
nesting at most ``MAX_DEPTH`` levels is a 400, whatever it holds, never a 500. While the channel's signing keys
have never been fetched, activities get 503: an outage, not a refusal.

Three modes: authenticated (an app id is configured), ``refuse_all`` (Teams is not configured:
401 for everything, so an unconfigured bot never acts on unauthenticated input), and
``no_auth`` (local development with the Bot Framework Emulator only).
"""

from __future__ import annotations

import json
from enum import StrEnum

from aiohttp import web
from aiohttp.typedefs import Handler
from azure.core.exceptions import DeserializationError, SerializationError
from botbuilder.core import Bot, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity
from msrest.serialization import Model

from adapters.teams.signing_keys import KeysUnavailable
from core.limits import depth_at_most

MAX_DEPTH = 32  # an activity with an Adaptive Card nests about 12 levels
MAX_ID = 512  # Teams conversation ids run to about 150 characters


def _plain_ids(body: dict[str, object]) -> bool:
    """The ids the bot sends back in connector URLs are short printable ASCII strings, as the
    Bot Framework Service issues them (`a:1x…`, `19:…@thread.tacv2`, `f:…`); anything else (an
    object msrest would quietly turn into its text, say) would fail on the way out, after the
    work was done. Read from the JSON itself, before deserializing coerces it."""

    def inner(key: str) -> object:
        holder = body.get(key)
        return holder.get("id") if isinstance(holder, dict) else None

    ids = (body.get("id"), body.get("replyToId"), inner("conversation"), inner("from"))
    return all(
        i is None or (isinstance(i, str) and len(i) <= MAX_ID and i.isascii() and i.isprintable())
        for i in ids
    )


def _invoke_value_is_an_object(activity: Activity) -> bool:
    """An invoke's value is an object (a card action, a dialog's data), and a card action's
    `action` is one too: botbuilder reads it with `.get` before any handler of ours runs."""
    value = activity.value
    if value is None:
        return True
    if not isinstance(value, dict):
        return False
    action = value.get("action")
    return activity.name != "adaptiveCard/action" or action is None or isinstance(action, dict)


class AuthMode(StrEnum):
    VERIFY = "verify"
    REFUSE_ALL = "refuse_all"
    NO_AUTH = "no_auth"


def messages_route(adapter: CloudAdapter | None, bot: Bot | None, mode: AuthMode) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if mode is AuthMode.REFUSE_ALL or adapter is None or bot is None:
            raise web.HTTPUnauthorized()
        if "application/json" not in request.headers.get("Content-Type", ""):
            raise web.HTTPUnsupportedMediaType()
        try:  # UTF-8 whatever charset the request claims: JSON on the wire is (RFC 8259)
            body = json.loads((await request.read()).decode("utf-8"))
        except (ValueError, RecursionError):  # not UTF-8, not JSON, a 5,000-digit number, deep
            raise web.HTTPBadRequest() from None
        if not isinstance(body, dict) or not depth_at_most(body, MAX_DEPTH):
            raise web.HTTPBadRequest()
        try:
            activity = Activity().deserialize(body)
        except DeserializationError:
            raise web.HTTPBadRequest() from None
        # Every activity the Bot Framework Service sends says where it came from; without that
        # there is nowhere to answer.
        if not (
            activity.type and activity.service_url and getattr(activity.conversation, "id", None)
        ):
            raise web.HTTPBadRequest()
        if not _plain_ids(body):
            raise web.HTTPBadRequest()
        if activity.type == "invoke" and not _invoke_value_is_an_object(activity):
            raise web.HTTPBadRequest()
        # Without an app id, botbuilder skips token validation when the header is empty.
        auth_header = "" if mode is AuthMode.NO_AUTH else request.headers.get("Authorization", "")
        try:
            invoke_response = await adapter.process_activity(auth_header, activity, bot.on_turn)
        except PermissionError:
            raise web.HTTPUnauthorized() from None
        except KeysUnavailable:  # logged where the fetch failed
            raise web.HTTPServiceUnavailable() from None
        if invoke_response is None:
            return web.Response(status=201)
        payload = invoke_response.body
        if isinstance(payload, Model):
            try:
                payload = serializer_helper(payload)
            except SerializationError:
                # botbuilder's own answer to an invoke without a `value` holds an Exception
                # where the error's JSON belongs; what it means is "bad request".
                raise web.HTTPBadRequest() from None
        if payload is None:
            return web.Response(status=int(invoke_response.status))
        return web.json_response(payload, status=int(invoke_response.status), dumps=json.dumps)

    return handle
