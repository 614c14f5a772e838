"""A stateful fake of the Slack Web API, served over real HTTP on loopback.

The bot's own ``slack_sdk`` client talks to it unchanged (``base_url=fake.base_url``), so the
tests cover the same request encoding, auth header and response parsing as production.
Responses follow the shapes of Slack's published examples (``data/web-api.*.json``).

Observations never poll or sleep: every request is recorded when it arrives and wakes anyone
waiting in ``next_call`` / ``wait_until``. Injected latency (``delay``, ``hold``) only postpones
the HTTP answer; the call has already taken effect, like a slow network on the way back.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Self
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from tests.fakes.slack import constants, limits
from tests.fakes.slack.server import LOOPBACK

RESPONSE_URL: Final = "response_url:"
"""Prefix of the method name under which POSTs to ``fake.response_url(name)`` are recorded."""

_JSON_FIELDS: Final = ("blocks", "attachments", "view", "metadata")
"""Arguments Slack accepts as JSON strings in form bodies; decoded so tests see one shape."""


def _truthy(value: Any) -> bool:
    """Slack's loose booleans: ``true``, ``"true"`` and ``"1"`` all count (see the docs'
    ``"replace_original": "true"``)."""
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def _bearer(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@dataclass(frozen=True)
class RecordedCall:
    """One request the fake received and what it answered.

    ``method`` is the Web API method (``chat.postMessage``) or ``response_url:<name>``;
    ``params`` merges query string and body, with JSON-string fields decoded.
    """

    method: str
    params: dict[str, Any]
    headers: CIMultiDictProxy[str]
    http_method: str
    content_type: str
    status: int
    response: Any

    @property
    def ok(self) -> bool:
        """Whether the fake answered success (``ok: true``, or ``ok`` on a response_url)."""
        if isinstance(self.response, dict):
            return bool(self.response.get("ok"))
        return self.status == 200

    @property
    def token(self) -> str | None:
        """The bearer token the caller sent, if any."""
        return _bearer(self.headers)


@dataclass
class FakeUser:
    """A seeded workspace member; ``email=None`` models a token without ``users:read.email``."""

    id: str
    name: str
    team_id: str
    email: str | None
    tz: str
    real_name: str
    deleted: bool = False
    is_bot: bool = False
    enterprise_id: str | None = None  # a member of an Enterprise Grid organisation

    def to_api(self, *, include_email: bool) -> dict[str, Any]:
        """The ``user`` object of ``users.info``, in the shape of Slack's example."""
        now = datetime.now(ZoneInfo(self.tz))
        offset = now.utcoffset()
        profile: dict[str, Any] = {
            "avatar_hash": "g0fake",
            "display_name": self.name,
            "display_name_normalized": self.name,
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "status_emoji": "",
            "status_text": "",
            "team": self.team_id,
        }
        if include_email and self.email is not None:
            profile["email"] = self.email
        grid: dict[str, Any] = {}
        if self.enterprise_id is not None:
            grid["enterprise_user"] = {
                "id": self.id,
                "enterprise_id": self.enterprise_id,
                "enterprise_name": "Example Grid",
                "is_admin": False,
                "is_owner": False,
                "teams": [self.team_id],
            }
        return {
            **grid,
            "color": "9f69e7",
            "deleted": self.deleted,
            "has_2fa": False,
            "id": self.id,
            "is_admin": False,
            "is_app_user": False,
            "is_bot": self.is_bot,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "name": self.name,
            "profile": profile,
            "real_name": self.real_name,
            "team_id": self.team_id,
            "tz": self.tz,
            # Slack spells the zone out ("Pacific Daylight Time"); the abbreviation is enough here.
            "tz_label": now.tzname() or self.tz,
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "updated": 1_700_000_000,
        }


@dataclass
class _Failure:
    error: str
    status: int
    retry_after: int | None
    remaining: int | None


class CallTimeout(AssertionError):
    """An awaited observation did not happen before its deadline."""


class _ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class FakeSlackApi:
    """Stateful Slack Web API fake: seed users, run the bot, then observe what it called.

    Use as ``async with FakeSlackApi() as fake:`` (or ``await fake.start()`` /
    ``await fake.close()``) and build the client with
    ``AsyncWebClient(token=fake.token, base_url=fake.base_url)``.
    """

    def __init__(
        self,
        *,
        token: str = constants.BOT_TOKEN,
        extra_tokens: Iterable[str] = (),
        team_id: str = constants.TEAM_ID,
        team_domain: str = constants.TEAM_DOMAIN,
        team_name: str = constants.TEAM_NAME,
        app_id: str = constants.APP_ID,
        bot_id: str = constants.BOT_ID,
        bot_user_id: str = constants.BOT_USER_ID,
        bot_user_name: str = constants.BOT_USER_NAME,
        scopes: Iterable[str] = constants.DEFAULT_SCOPES,
    ) -> None:
        self.token = token
        self.team_id = team_id
        self.team_domain = team_domain
        self.team_name = team_name
        self.app_id = app_id
        self.bot_id = bot_id
        self.bot_user_id = bot_user_id
        self.bot_user_name = bot_user_name
        self.scopes: tuple[str, ...] = tuple(scopes)
        self._tokens: set[str] = {token, *extra_tokens}

        self.users: dict[str, FakeUser] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        """Current messages by ``(channel, ts)``: posted, updated, deleted as Slack would."""
        self.ephemerals: list[dict[str, Any]] = []
        """Ephemeral messages (``chat.postEphemeral`` and ephemeral response_url replies)."""
        self.views: dict[str, dict[str, Any]] = {}
        """Modals by view id, as Slack returned them (with ``id``, ``hash``, ``state``...)."""
        self.home_views: dict[str, dict[str, Any]] = {}
        """The published Home tab per user id."""

        self._calls: list[RecordedCall] = []
        self._by_method: defaultdict[str, list[RecordedCall]] = defaultdict(list)
        self._cursor: defaultdict[str, int] = defaultdict(int)
        self._changed = asyncio.Event()
        self._closed = asyncio.Event()
        self._delays: dict[str, float] = {}
        self._holds: dict[str, asyncio.Event] = {}
        self._failures: dict[str, _Failure] = {}
        self._dm_ids: dict[str, str] = {}
        self._mpim_ids: dict[frozenset[str], str] = {}
        self._response_urls: dict[str, tuple[str | None, str | None, str | None]] = {}
        self._seq = itertools.count(1)
        self._ts_base = int(time.time())
        self._runner: web.AppRunner | None = None
        self._root_url: str | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "conversations.open": self._conversations_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
        }

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> Self:
        """Listen on ``127.0.0.1`` with a port chosen by the OS."""
        if self._runner is not None:
            return self
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response_url/{name}", self._handle_response_url)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, LOOPBACK, 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        self._runner = runner
        self._root_url = f"http://{host}:{port}"
        return self

    async def close(self) -> None:
        """Stop serving; releases held and delayed answers first so shutdown is immediate."""
        self._closed.set()
        for gate in self._holds.values():
            gate.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def root_url(self) -> str:
        if self._root_url is None:
            raise RuntimeError("FakeSlackApi is not started")
        return self._root_url

    @property
    def base_url(self) -> str:
        """Value for ``AsyncWebClient(base_url=...)``; ends in ``/api/`` like Slack's."""
        return f"{self.root_url}/api/"

    # --- seeding ------------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        email: str | None = None,
        tz: str = "Europe/Berlin",
        *,
        team_id: str | None = None,
        name: str | None = None,
        real_name: str | None = None,
        deleted: bool = False,
        is_bot: bool = False,
        enterprise_id: str | None = None,
    ) -> FakeUser:
        """Seed a member. Without ``email`` ``users.info`` omits ``profile.email``, which is what a
        token lacking ``users:read.email`` sees."""
        ZoneInfo(tz)  # fail at seeding time, not inside a request handler
        handle = name or user_id.lower()
        user = FakeUser(
            id=user_id,
            name=handle,
            team_id=team_id or self.team_id,
            email=email,
            tz=tz,
            real_name=real_name or handle.replace(".", " ").title(),
            deleted=deleted,
            is_bot=is_bot,
            enterprise_id=enterprise_id,
        )
        self.users[user_id] = user
        return user

    def add_message(
        self,
        channel: str,
        text: str = "",
        *,
        blocks: list[dict[str, Any]] | None = None,
        user: str | None = None,
    ) -> dict[str, Any]:
        """Seed a message (by the bot unless ``user`` is given) and return it, ``ts`` included."""
        msg = self._new_message(channel, {"text": text, "blocks": blocks})
        if user is not None:
            msg["user"] = user
            msg.pop("bot_id", None)
            msg.pop("app_id", None)
        return msg

    def dm_channel_id(self, user_id: str) -> str:
        """The stable DM channel id of the bot with ``user_id`` (what ``conversations.open``
        returns)."""
        if user_id not in self._dm_ids:
            self._dm_ids[user_id] = f"D{next(self._seq):09d}"
        return self._dm_ids[user_id]

    def response_url(
        self,
        name: str,
        *,
        channel: str | None = None,
        message_ts: str | None = None,
        user: str | None = None,
    ) -> str:
        """A ``response_url`` served by the fake. POSTs to it are recorded as method
        ``"response_url:<name>"``. Bind it to the source message (``channel`` + ``message_ts``)
        so ``replace_original`` / ``delete_original`` act on ``fake.messages``, or to a channel
        (slash commands) so ``in_channel`` replies land there."""
        self._response_urls[name] = (channel, message_ts, user)
        return f"{self.root_url}/response_url/{name}"

    # --- fault injection ----------------------------------------------------------------------

    def delay(self, method: str, seconds: float) -> None:
        """Answer ``method`` ``seconds`` late (0 removes the delay). The call still takes effect
        on arrival."""
        if seconds > 0:
            self._delays[method] = seconds
        else:
            self._delays.pop(method, None)

    def hold(self, method: str) -> asyncio.Event:
        """Withhold answers to ``method`` until the returned event is set (or ``release``);
        deterministic alternative to ``delay`` for "slow Slack" tests."""
        gate = self._holds.get(method)
        if gate is None or gate.is_set():
            gate = self._holds[method] = asyncio.Event()
        return gate

    def release(self, method: str) -> None:
        """Let held answers to ``method`` go, and stop holding it."""
        gate = self._holds.pop(method, None)
        if gate is not None:
            gate.set()

    def fail(
        self,
        method: str,
        error: str,
        *,
        status: int = 200,
        retry_after: int | None = None,
        times: int | None = None,
    ) -> None:
        """Answer ``method`` with ``{"ok": false, "error": error}``. Slack reports most errors
        with HTTP 200; rate limits use 429 plus ``Retry-After``. ``times=None`` keeps failing
        until ``clear_failures``; otherwise only the next ``times`` calls fail."""
        self._failures[method] = _Failure(error, status, retry_after, times)

    def clear_failures(self, method: str | None = None) -> None:
        if method is None:
            self._failures.clear()
        else:
            self._failures.pop(method, None)

    # --- observation --------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Every call so far (of ``method``, if given), oldest first; does not consume."""
        return list(self._calls if method is None else self._by_method[method])

    async def next_call(self, method: str, timeout: float = 10.0) -> RecordedCall:  # noqa: ASYNC109
        """The next not-yet-consumed call of ``method``, waiting up to ``timeout`` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            seen = self._by_method[method]
            index = self._cursor[method]
            if index < len(seen):
                self._cursor[method] = index + 1
                return seen[index]
            if not await self._wait_change(deadline):
                raise CallTimeout(
                    f"no new {method} call within {timeout}s; "
                    f"calls so far: {[c.method for c in self._calls]}"
                )

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - a per-observation deadline is the point
        *,
        what: str = "condition",
    ) -> None:
        """Wait until ``predicate()`` holds, re-checking after every recorded call."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            if not await self._wait_change(deadline):
                raise CallTimeout(f"{what} not met within {timeout}s")

    async def _wait_change(self, deadline: float) -> bool:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return False
        changed = self._changed
        try:
            async with asyncio.timeout(remaining):
                await changed.wait()
        except TimeoutError:
            return False
        return True

    def _record(self, call: RecordedCall) -> None:
        self._calls.append(call)
        self._by_method[call.method].append(call)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # --- HTTP plumbing ------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, parse_error = await _read_params(request)
        status, body, headers = self._answer(method, params, request.headers, parse_error)
        self._record(
            RecordedCall(
                method=method,
                params=params,
                headers=CIMultiDictProxy(CIMultiDict(request.headers)),
                http_method=request.method,
                content_type=request.headers.get("Content-Type", ""),
                status=status,
                response=body,
            )
        )
        await self._slow_down(method)
        return web.json_response(body, status=status, headers=headers)

    def _answer(
        self,
        method: str,
        params: dict[str, Any],
        headers: Mapping[str, str],
        parse_error: str | None,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        handler = self._handlers.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        token = _bearer(headers)
        if token is None:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if token not in self._tokens:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        scope_header = {"X-OAuth-Scopes": ",".join(self.scopes)}
        if parse_error is not None:
            return 200, {"ok": False, "error": parse_error}, scope_header
        failure = self._take_failure(method)
        if failure is not None:
            extra = {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
            return failure.status, {"ok": False, "error": failure.error}, extra
        try:
            return 200, handler(params), scope_header
        except _ApiError as e:
            return 200, {"ok": False, "error": e.error, **e.extra}, scope_header

    def _take_failure(self, method: str) -> _Failure | None:
        failure = self._failures.get(method)
        if failure is None:
            return None
        if failure.remaining is not None:
            failure.remaining -= 1
            if failure.remaining <= 0:
                del self._failures[method]
        return failure

    async def _slow_down(self, method: str) -> None:
        seconds = self._delays.get(method)
        if seconds:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self._closed.wait()
        gate = self._holds.get(method)
        if gate is not None and not self._closed.is_set():
            await gate.wait()

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        method = RESPONSE_URL + name
        params, parse_error = await _read_params(request)
        failure = self._take_failure(method)
        if failure is not None:
            status, text = failure.status, failure.error
        elif parse_error is not None:
            status, text = 400, parse_error
        elif (problem := limits.message_problem(params)) is not None:
            status, text = 400, problem
        else:
            self._apply_response(name, params)
            status, text = 200, "ok"
        self._record(
            RecordedCall(
                method=method,
                params=params,
                headers=CIMultiDictProxy(CIMultiDict(request.headers)),
                http_method=request.method,
                content_type=request.headers.get("Content-Type", ""),
                status=status,
                response=text,
            )
        )
        await self._slow_down(method)
        return web.Response(status=status, text=text)

    def _apply_response(self, name: str, params: dict[str, Any]) -> None:
        channel, message_ts, user = self._response_urls.get(name, (None, None, None))
        key = (channel or "", message_ts or "")
        if _truthy(params.get("delete_original")):
            self.messages.pop(key, None)
        elif _truthy(params.get("replace_original")):
            if key in self.messages:
                self._edit(self.messages[key], params)
        elif params.get("response_type") == "in_channel" and channel is not None:
            self._new_message(channel, params)
        else:
            self.ephemerals.append(
                {
                    "channel": channel,
                    "user": user,
                    "text": params.get("text", ""),
                    "blocks": params.get("blocks"),
                    "response_url": name,
                }
            )

    # --- state helpers ------------------------------------------------------------------------

    def _ts(self) -> str:
        return f"{self._ts_base}.{next(self._seq):06d}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._seq):09d}"

    def _new_hash(self) -> str:
        return f"{self._ts_base}.{next(self._seq):08x}"

    def _channel(self, params: Mapping[str, Any]) -> str:
        """Resolve ``channel``; a user id means the bot's DM with that user, as in Slack."""
        channel = params.get("channel")
        if not channel:
            raise _ApiError("channel_not_found")
        channel = str(channel)
        if channel[0] in "UW":
            if channel not in self.users:
                raise _ApiError("channel_not_found")
            return self.dm_channel_id(channel)
        return channel

    def _user(self, user_id: Any) -> FakeUser:
        user = self.users.get(str(user_id)) if user_id else None
        if user is None:
            raise _ApiError("user_not_found")
        return user

    def _new_message(self, channel: str, params: Mapping[str, Any]) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": params.get("text") or "",
            "ts": self._ts(),
            "team": self.team_id,
        }
        for key in ("blocks", "attachments", "metadata", "thread_ts"):
            if params.get(key) is not None:
                msg[key] = copy.deepcopy(params[key])
        self.messages[(channel, msg["ts"])] = msg
        return msg

    def _edit(self, msg: dict[str, Any], params: Mapping[str, Any]) -> None:
        """Apply an update: given fields replace, omitted ``blocks``/``attachments`` are kept."""
        if "text" in params:
            msg["text"] = params.get("text") or ""
        for key in ("blocks", "attachments", "metadata"):
            if key in params and params[key] is not None:
                msg[key] = copy.deepcopy(params[key])
        msg["edited"] = {"user": self.bot_user_id, "ts": self._ts()}

    @staticmethod
    def _require_content(params: Mapping[str, Any]) -> None:
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            raise _ApiError("no_text")
        problem = limits.message_problem(params)
        if problem is not None:
            raise _ApiError(problem)

    def _materialize_view(
        self,
        view: Any,
        *,
        view_id: str,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
    ) -> dict[str, Any]:
        """The view as Slack returns it: the app's fields plus ids, hash and empty state."""
        if not isinstance(view, dict) or "type" not in view:
            raise _ApiError("invalid_arguments", response_metadata={"messages": ["invalid `view`"]})
        problem = limits.view_problem(view)
        if problem is not None:
            raise _ApiError("invalid_arguments", response_metadata={"messages": [problem]})
        full: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view["type"],
            "blocks": copy.deepcopy(view.get("blocks", [])),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": self._new_hash(),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": copy.deepcopy(view.get("close")),
            "submit": copy.deepcopy(view.get("submit")),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id or view_id,
            "app_id": self.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        if "title" in view:
            full["title"] = copy.deepcopy(view["title"])
        return full

    @staticmethod
    def _require_trigger(params: Mapping[str, Any]) -> None:
        if not params.get("trigger_id"):
            raise _ApiError(
                "invalid_arguments", response_metadata={"messages": ["invalid `trigger_id`"]}
            )

    # --- Web API methods ----------------------------------------------------------------------

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_user_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._user(params.get("user"))
        include_email = "users:read.email" in self.scopes
        return {"ok": True, "user": user.to_api(include_email=include_email)}

    def _users_lookup_by_email(self, params: dict[str, Any]) -> dict[str, Any]:
        if "users:read.email" not in self.scopes:
            raise _ApiError(
                "missing_scope", needed="users:read.email", provided=",".join(self.scopes)
            )
        email = str(params.get("email", "")).lower()
        for user in self.users.values():
            if user.email is not None and user.email.lower() == email:
                return {"ok": True, "user": user.to_api(include_email=True)}
        raise _ApiError("users_not_found")

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            return {"ok": True, "channel": {"id": str(params["channel"])}}
        raw = params.get("users")
        ids = raw if isinstance(raw, list) else str(raw or "").split(",")
        users = [u.strip() for u in ids if u and u.strip()]
        if not users:
            raise _ApiError("users_list_not_supplied")
        for user_id in users:
            self._user(user_id)
        if len(users) == 1:
            return {"ok": True, "channel": {"id": self.dm_channel_id(users[0])}}
        group = frozenset(users)
        if group not in self._mpim_ids:
            self._mpim_ids[group] = self._new_id("G")
        return {"ok": True, "channel": {"id": self._mpim_ids[group]}}

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        self._require_content(params)
        msg = self._new_message(channel, params)
        return {"ok": True, "channel": channel, "ts": msg["ts"], "message": copy.deepcopy(msg)}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        key = (channel, str(params.get("ts", "")))
        msg = self.messages.get(key)
        if msg is None:
            raise _ApiError("message_not_found")
        problem = limits.message_problem(params)
        if problem is not None:
            raise _ApiError(problem)
        self._edit(msg, params)
        return {
            "ok": True,
            "channel": channel,
            "ts": key[1],
            "text": msg["text"],
            "message": copy.deepcopy(msg),
        }

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        key = (channel, str(params.get("ts", "")))
        if self.messages.pop(key, None) is None:
            raise _ApiError("message_not_found")
        return {"ok": True, "channel": channel, "ts": key[1]}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        user = params.get("user")
        if not user or str(user) not in self.users:
            raise _ApiError("user_not_in_channel")
        self._require_content(params)
        message_ts = self._ts()
        self.ephemerals.append(
            {
                "channel": channel,
                "user": str(user),
                "text": params.get("text") or "",
                "blocks": copy.deepcopy(params.get("blocks")),
                "message_ts": message_ts,
            }
        )
        return {"ok": True, "message_ts": message_ts}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        self._require_trigger(params)
        view = self._materialize_view(params.get("view"), view_id=self._new_id("V"))
        self.views[view["id"]] = view
        return {"ok": True, "view": copy.deepcopy(view)}

    def _views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        self._require_trigger(params)
        view = self._materialize_view(params.get("view"), view_id=self._new_id("V"))
        self.views[view["id"]] = view
        return {"ok": True, "view": copy.deepcopy(view)}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        current: dict[str, Any] | None = None
        if params.get("view_id"):
            current = self.views.get(str(params["view_id"]))
        elif params.get("external_id"):
            wanted = str(params["external_id"])
            current = next((v for v in self.views.values() if v["external_id"] == wanted), None)
        else:
            raise _ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["either `view_id` or `external_id` is required"]},
            )
        if current is None:
            raise _ApiError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        view = self._materialize_view(
            params.get("view"),
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
        )
        self.views[view["id"]] = view
        return {"ok": True, "view": copy.deepcopy(view)}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._user(params.get("user_id"))
        current = self.home_views.get(user.id)
        if current is not None and params.get("hash") and params["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        view_id = current["id"] if current is not None else self._new_id("V")
        view = self._materialize_view(params.get("view"), view_id=view_id)
        if view["type"] != "home":
            raise _ApiError(
                "invalid_arguments", response_metadata={"messages": ["not a home view"]}
            )
        self.home_views[user.id] = view
        return {"ok": True, "view": copy.deepcopy(view)}


async def _read_params(request: web.Request) -> tuple[dict[str, Any], str | None]:
    """Merge query string and body the way Slack reads them; JSON and form bodies both work."""
    params: dict[str, Any] = dict(request.query)
    error: str | None = None
    if request.can_read_body:
        if request.content_type == "application/json":
            raw = await request.read()
            try:
                doc = json.loads(raw) if raw else {}
            except ValueError:
                doc, error = {}, "invalid_json"
            if isinstance(doc, dict):
                params.update(doc)
            else:
                error = "json_not_object"
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        else:
            error = "invalid_form_data"
    for key in _JSON_FIELDS:
        value = params.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
    return params, error
