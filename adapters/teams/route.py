"""``POST /api/messages``: the one HTTP entry of the Teams surface.

Same contract as ``CloudAdapter.process`` (415 for a body that is not JSON, 400 for an activity
without a type, 401 when authentication fails, 201 for an accepted activity, the invoke response
otherwise), with one fix: botbuilder-integration-aiohttp 4.17.1 serializes an invoke response
body a second time and answers 500 for the dict every ``ActivityHandler`` invoke handler returns,
so Universal Actions and dialogs would never work behind it. While the channel's signing keys
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
from azure.core.exceptions import DeserializationError
from botbuilder.core import Bot, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity
from msrest.serialization import Model

from adapters.teams.signing_keys import KeysUnavailable


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
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest() from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest()
        try:
            activity = Activity().deserialize(body)
        except DeserializationError:
            raise web.HTTPBadRequest() from None
        if not activity.type:
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
            payload = serializer_helper(payload)
        if payload is None:
            return web.Response(status=int(invoke_response.status))
        return web.json_response(payload, status=int(invoke_response.status), dumps=json.dumps)

    return handle
