"""A stateful fake of the Bot Framework connector (the Teams ``serviceUrl``).

The bot's replies, card updates, proactive conversations and roster look-ups all go to the
activity's ``serviceUrl``; pointing that at this fake lets a test catch them over real HTTP,
with the bearer token checked against those the ``FakeIdentityProvider`` issued, as the real
connector checks Entra tokens.

Routes (Bot Connector REST v3, reference ``bot-connector/ConnectorAPI.json`` plus the
``members/{memberId}`` call ``TeamsInfo.get_member`` makes), under ``service_url``:

* ``POST /v3/conversations`` - create a conversation (proactive 1:1)
* ``POST /v3/conversations/{id}/activities[/{activityId}]`` - send / reply
* ``PUT|DELETE /v3/conversations/{id}/activities/{activityId}`` - update / delete
* ``GET /v3/conversations/{id}/members[/{memberId}]`` and ``.../pagedmembers``

Member JSON follows the reference connector responses: the Entra object id is ``objectId``
(not ``aadObjectId``), so botbuilder's ``TeamsChannelAccount.aad_object_id`` stays empty.
"""

from __future__ import annotations

import functools
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from jsonschema import Draft6Validator

from tests.fakes.teams import activities
from tests.fakes.teams._server import BackgroundServer, Observations, ThreadedFake
from tests.fakes.teams.identity import FakeIdentityProvider
from tests.reference_files import REFERENCE

_PAGE_SIZE_MIN, _PAGE_SIZE_MAX = 50, 500  # Teams clamps pageSize to this range
CARD_TYPE = "application/vnd.microsoft.card.adaptive"


@dataclass(frozen=True)
class TeamsMember:
    """A roster entry, served in the REST shape of ``GET .../members/{memberId}``."""

    id: str
    name: str
    aad_object_id: str
    email: str | None
    user_principal_name: str | None
    tenant_id: str
    given_name: str | None = None
    surname: str | None = None
    user_role: str = "user"

    def to_rest(self) -> dict[str, str]:
        fields = {
            "id": self.id,
            "name": self.name,
            "objectId": self.aad_object_id,
            "givenName": self.given_name,
            "surname": self.surname,
            "email": self.email,
            "userPrincipalName": self.user_principal_name,
            "tenantId": self.tenant_id,
            "userRole": self.user_role,
        }
        return {key: value for key, value in fields.items() if value is not None}


REFERENCE_USER = TeamsMember(
    id=activities.DEFAULT_USER_ID,
    name=activities.DEFAULT_USER_NAME,
    aad_object_id=activities.DEFAULT_AAD_OBJECT_ID,
    email=activities.DEFAULT_USER_EMAIL,
    user_principal_name=activities.DEFAULT_USER_UPN,
    tenant_id=activities.DEFAULT_TENANT_ID,
    given_name="Larry",
    surname="Brown",
)
"""The reference ``members/{id}`` user; the activity builders' default sender."""


@dataclass(frozen=True)
class ConnectorCall:
    """One HTTP request the connector received, with whether its bearer token was accepted."""

    method: str
    path: str
    authorized: bool


@dataclass(frozen=True)
class SentActivity:
    """An activity the bot sent; ``reply_to_id`` is set when it was posted as a reply."""

    conversation_id: str
    activity_id: str
    reply_to_id: str | None
    activity: dict[str, Any]
    token: str

    @property
    def type(self) -> str | None:
        return self.activity.get("type")

    @property
    def text(self) -> str | None:
        return self.activity.get("text")

    @property
    def attachments(self) -> list[dict[str, Any]]:
        return list(self.activity.get("attachments") or [])


@dataclass(frozen=True)
class UpdatedActivity:
    """A ``PUT`` replacing an earlier message (e.g. an approval card after a decision)."""

    conversation_id: str
    activity_id: str
    activity: dict[str, Any]
    token: str

    @property
    def text(self) -> str | None:
        return self.activity.get("text")

    @property
    def attachments(self) -> list[dict[str, Any]]:
        return list(self.activity.get("attachments") or [])


@dataclass(frozen=True)
class DeletedActivity:
    conversation_id: str
    activity_id: str


@dataclass(frozen=True)
class CreatedConversation:
    """A ``POST /v3/conversations`` (``ConversationParameters``) and the id it was given."""

    conversation_id: str
    parameters: dict[str, Any]
    token: str
    activity_id: str | None = None

    @property
    def member_ids(self) -> list[str]:
        return [member.get("id", "") for member in self.parameters.get("members") or []]

    @property
    def tenant_id(self) -> str | None:
        # The REST API names it "tenantId"; botbuilder-python's model serializes "tenantID".
        tenant = self.parameters.get("tenantId") or self.parameters.get("tenantID")
        return str(tenant) if tenant else None


@dataclass
class _Roster:
    everywhere: dict[str, TeamsMember] = field(default_factory=dict)
    by_conversation: dict[str, dict[str, TeamsMember]] = field(default_factory=dict)

    def members(self, conversation_id: str) -> list[TeamsMember]:
        merged = {**self.everywhere, **self.by_conversation.get(conversation_id, {})}
        return list(merged.values())


class FakeConnector(ThreadedFake):
    """Bot Connector fake on ``127.0.0.1``; see the module docstring for what it serves."""

    def __init__(
        self,
        identity: FakeIdentityProvider,
        *,
        path_prefix: str = "/amer",
        accept_anonymous: bool = False,
    ) -> None:
        """``accept_anonymous``: serve calls without a valid token too (still recorded as
        unauthorized), as the Bot Framework Emulator does for a bot without an app id."""
        self._identity = identity
        self._accept_anonymous = accept_anonymous
        self._prefix = "/" + path_prefix.strip("/") if path_prefix.strip("/") else ""
        self._lock = threading.Lock()
        self._roster = _Roster()
        self._ids = itertools.count(int(time.time() * 1000))
        self._calls: Observations[ConnectorCall] = Observations("connector call")
        self._activities: Observations[SentActivity] = Observations("activity")
        self._updates: Observations[UpdatedActivity] = Observations("activity update")
        self._deletions: Observations[DeletedActivity] = Observations("activity deletion")
        self._conversations: Observations[CreatedConversation] = Observations("new conversation")
        self._closed: set[str] = set()
        self._broken: set[str] = set()
        self._server = BackgroundServer(self._build_app, name="fake-bot-connector")

    @property
    def service_url(self) -> str:
        """Put this in the activity's ``serviceUrl`` (and the token's ``serviceurl`` claim)."""
        return f"http://127.0.0.1:{self._server.port}{self._prefix}/"

    # -- seeding ---------------------------------------------------------------------------------

    def close_conversation(self, conversation_id: str) -> None:
        """The chat is gone (the app was removed, the chat deleted): sends to it get the
        service's 404 ``ConversationNotFound``."""
        with self._lock:
            self._closed.add(conversation_id)

    def break_conversation(self, conversation_id: str) -> None:
        """Every call about this conversation gets a proxy's plain-text 502, as when the
        service is down behind its load balancer."""
        with self._lock:
            self._broken.add(conversation_id)

    def add_member(self, member: TeamsMember, *, conversation_id: str | None = None) -> None:
        """Make ``member`` resolvable in ``conversation_id``, or in every conversation if None."""
        with self._lock:
            if conversation_id is None:
                self._roster.everywhere[member.id] = member
            else:
                self._roster.by_conversation.setdefault(conversation_id, {})[member.id] = member

    # -- observations ----------------------------------------------------------------------------

    @property
    def calls(self) -> list[ConnectorCall]:
        return self._calls.all()

    @property
    def activities(self) -> list[SentActivity]:
        return self._activities.all()

    @property
    def updates(self) -> list[UpdatedActivity]:
        return self._updates.all()

    @property
    def deletions(self) -> list[DeletedActivity]:
        return self._deletions.all()

    @property
    def conversations(self) -> list[CreatedConversation]:
        return self._conversations.all()

    async def next_activity(
        self,
        conversation_id: str | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - a per-call deadline is the point of this API
    ) -> SentActivity:
        """The oldest activity not yet returned (in ``conversation_id`` if given)."""
        return await self._activities.next(
            _in_conversation(conversation_id), timeout=timeout, detail=_detail(conversation_id)
        )

    async def next_update(
        self,
        conversation_id: str | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - a per-call deadline is the point of this API
    ) -> UpdatedActivity:
        return await self._updates.next(
            _in_conversation(conversation_id), timeout=timeout, detail=_detail(conversation_id)
        )

    async def next_conversation(
        self,
        timeout: float = 10.0,  # noqa: ASYNC109 - a per-call deadline is the point of this API
    ) -> CreatedConversation:
        return await self._conversations.next(lambda _: True, timeout=timeout)

    # -- HTTP ------------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._authorize])
        conv = self._prefix + "/v3/conversations"
        one = conv + "/{conversation_id}"
        app.router.add_post(conv, self._create_conversation)
        app.router.add_post(one + "/activities", self._send)
        app.router.add_post(one + "/activities/{activity_id}", self._send)
        app.router.add_put(one + "/activities/{activity_id}", self._update)
        app.router.add_delete(one + "/activities/{activity_id}", self._delete)
        app.router.add_get(one + "/members", self._members)
        app.router.add_get(one + "/members/{member_id}", self._member)
        app.router.add_get(one + "/pagedmembers", self._paged_members)
        return app

    @web.middleware
    async def _authorize(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        token = _bearer(request)
        authorized = token is not None and self._identity.is_issued_access_token(token)
        self._calls.publish(ConnectorCall(request.method, request.path, authorized))
        if not authorized and not self._accept_anonymous:
            return _error(401, "Unauthorized", "Authorization has been denied for this request.")
        if request.match_info.get("conversation_id") in self._broken:
            return web.Response(status=502, text="502 Bad Gateway", content_type="text/plain")
        response: web.StreamResponse = await handler(request)
        return response

    def _next_id(self) -> str:
        with self._lock:
            return str(next(self._ids))

    async def _create_conversation(self, request: web.Request) -> web.Response:
        parameters: dict[str, Any] = await request.json()
        conversation_id = "a:" + secrets.token_urlsafe(24)
        activity_id = None
        if parameters.get("activity"):
            activity_id = self._next_id()
            self._activities.publish(
                SentActivity(
                    conversation_id,
                    activity_id,
                    None,
                    parameters["activity"],
                    _bearer(request) or "",
                )
            )
        self._conversations.publish(
            CreatedConversation(conversation_id, parameters, _bearer(request) or "", activity_id)
        )
        body = {"id": conversation_id, "serviceUrl": self.service_url}
        if activity_id is not None:
            body["activityId"] = activity_id
        return web.json_response(body, status=201)

    async def _send(self, request: web.Request) -> web.Response:
        activity: dict[str, Any] = await request.json()
        if request.match_info["conversation_id"] in self._closed:
            return _error(404, "ConversationNotFound", "The conversation was not found.")
        refused = _refusal(activity)
        if refused is not None:
            return refused
        activity_id = self._next_id()
        self._activities.publish(
            SentActivity(
                request.match_info["conversation_id"],
                activity_id,
                request.match_info.get("activity_id"),
                activity,
                _bearer(request) or "",
            )
        )
        return web.json_response({"id": activity_id}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        activity: dict[str, Any] = await request.json()
        refused = _refusal(activity)
        if refused is not None:
            return refused
        activity_id = request.match_info["activity_id"]
        self._updates.publish(
            UpdatedActivity(
                request.match_info["conversation_id"], activity_id, activity, _bearer(request) or ""
            )
        )
        return web.json_response({"id": activity_id})

    async def _delete(self, request: web.Request) -> web.Response:
        self._deletions.publish(
            DeletedActivity(
                request.match_info["conversation_id"], request.match_info["activity_id"]
            )
        )
        return web.Response(status=200)

    def _roster_of(self, conversation_id: str) -> list[TeamsMember]:
        with self._lock:
            return self._roster.members(conversation_id)

    async def _members(self, request: web.Request) -> web.Response:
        members = self._roster_of(request.match_info["conversation_id"])
        return web.json_response([member.to_rest() for member in members])

    async def _member(self, request: web.Request) -> web.Response:
        member_id = request.match_info["member_id"]
        for member in self._roster_of(request.match_info["conversation_id"]):
            if member.id == member_id:
                return web.json_response(member.to_rest())
        return _error(404, "MemberNotFoundInConversation", "The member was not found.")

    async def _paged_members(self, request: web.Request) -> web.Response:
        members = self._roster_of(request.match_info["conversation_id"])
        # Teams' default page size is not documented in the reference; the maximum is used.
        requested = int(request.query.get("pageSize") or _PAGE_SIZE_MAX)
        size = min(max(requested, _PAGE_SIZE_MIN), _PAGE_SIZE_MAX)
        start = int(request.query.get("continuationToken") or 0)
        page = members[start : start + size]
        body: dict[str, Any] = {"members": [member.to_rest() for member in page]}
        if start + size < len(members):
            body["continuationToken"] = str(start + size)
        return web.json_response(body)


MESSAGE_SIZE_LIMIT = 100 * 1024
"""Teams refuses a bot message whose payload, encoded as UTF-16, passes 100 KB (413
MessageSizeTooBig; learn.microsoft.com, "Format your bot messages")."""


def utf16_size(activity: Any) -> int:
    """An activity's size as Teams measures it: its JSON's text encoded as UTF-16."""
    return len(json.dumps(activity, ensure_ascii=False).encode("utf-16-le"))


@functools.cache
def card_validator() -> Draft6Validator:
    """The Adaptive Cards 1.5 schema (what Teams renders for bots), from tests/reference."""
    schema = REFERENCE / "teams" / "adaptive-card.schema.1.5.0.json"
    return Draft6Validator(json.loads(schema.read_text()))


def card_problems(activity: Any) -> list[str]:
    """Where the activity's Adaptive Cards break the 1.5 schema."""
    found: list[str] = []
    for attachment in (activity.get("attachments") or []) if isinstance(activity, dict) else []:
        if isinstance(attachment, dict) and attachment.get("contentType") == CARD_TYPE:
            found += [e.message for e in card_validator().iter_errors(attachment.get("content"))]
    return found


def _refusal(activity: Any) -> web.Response | None:
    if utf16_size(activity) > MESSAGE_SIZE_LIMIT:
        return _error(413, "MessageSizeTooBig", "Message size too large.")
    problems = card_problems(activity)
    if problems:  # Teams shows such a card as an error; a test should see it fail
        return _error(400, "BadArgument", "; ".join(problems)[:500])
    return None


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme == "Bearer" and token else None


def _in_conversation(conversation_id: str | None) -> Callable[[Any], bool]:
    return lambda item: conversation_id is None or item.conversation_id == conversation_id


def _detail(conversation_id: str | None) -> str:
    return f" in conversation {conversation_id!r}" if conversation_id else ""


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)
