"""Who is who in Slack: a Slack user id becomes an email (the join key with rosters and policy),
an approver's email becomes a Slack user to message, and the workspace the app serves is known.

Lookups are cached with a time to live: every click and command needs the clicker's email, and
Slack rate-limits `users.info`; a cache miss only costs a call, so no replica depends on another's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core.errors import DomainError
from core.identity import Actor, normalize_email

log = logging.getLogger(__name__)

T = TypeVar("T")

NO_EMAIL = (
    "I can't read the email address of your Slack account, so I can't match you to the on-call "
    "roster. Ask a Slack admin to check that your profile has an email and that the app has the "
    "users:read.email scope."
)
NOT_A_PERSON = "Only people can use access requests, not bots or deactivated accounts."
SLACK_UNAVAILABLE = "Slack did not tell me who you are just now; please try again in a minute."
OTHER_WORKSPACE = (
    "This app serves one Slack workspace only; requests from other workspaces are refused."
)
OTHER_ORGANISATION = (
    "Only members of this Slack workspace can use access requests here, not accounts of "
    "another organisation in a shared channel."
)


class SlackIdentityError(DomainError):
    """The person could not be identified; the message says what to do about it."""


class TtlCache(Generic[T]):
    """A small bounded cache whose entries expire; the clock is injectable for tests."""

    def __init__(
        self, ttl: float, *, size: int = 5000, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl, self._size, self._now = ttl, size, now
        self._items: OrderedDict[str, tuple[float, T]] = OrderedDict()

    def get(self, key: str) -> tuple[bool, T | None]:
        found = self._items.get(key)
        if found is None:
            return False, None
        expires, value = found
        if self._now() >= expires:
            del self._items[key]
            return False, None
        return True, value

    def put(self, key: str, value: T, ttl: float | None = None) -> None:
        self._items[key] = (self._now() + (self._ttl if ttl is None else ttl), value)
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


@dataclass(frozen=True, slots=True)
class SlackUser:
    id: str
    email: str | None
    tz: str
    team_id: str
    is_person: bool
    enterprise_id: str | None = None  # the Enterprise Grid organisation, if any


def _user_of(raw: dict[str, Any]) -> SlackUser:
    email = (raw.get("profile") or {}).get("email")
    return SlackUser(
        id=str(raw.get("id", "")),
        email=normalize_email(email) if email else None,
        tz=str(raw.get("tz") or "UTC"),
        team_id=str(raw.get("team_id") or ""),
        is_person=not (raw.get("deleted") or raw.get("is_bot") or raw.get("id") == "USLACKBOT"),
        enterprise_id=(raw.get("enterprise_user") or {}).get("enterprise_id") or None,
    )


SLACK_FAILURES = (SlackApiError, aiohttp.ClientError, TimeoutError)
"""What a Web API call raises when Slack says no, or cannot be reached."""


def user_key(user_id: str) -> str:
    """How the core's identity mappings name a Slack user."""
    return f"slack:{user_id}"


def failure(exc: BaseException) -> str:
    """What went wrong, safe to log: Slack's error code or the exception's type, never the
    token or the request body."""
    if isinstance(exc, SlackApiError):
        try:
            return str(exc.response.get("error") or exc.response.status_code)
        except Exception:
            return "unknown"
    return type(exc).__name__


class SlackDirectory:
    """Slack users by id and by email, and the bot's DM channel with each, all cached.

    `admits` says whether a user belongs to the organisation the app serves: in a shared channel
    (Slack Connect) people of other workspaces can click buttons and be looked up, and their
    email is whatever their own organisation gave them."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl: float = 600.0,
        miss_ttl: float = 120.0,
        now: Callable[[], float] = time.monotonic,
        admits: Callable[[SlackUser], Awaitable[bool]] | None = None,
    ) -> None:
        self._client = client
        self._admits = admits
        self._by_id: TtlCache[SlackUser] = TtlCache(ttl, now=now)
        self._by_email: TtlCache[SlackUser | None] = TtlCache(ttl, now=now)
        self._dms: TtlCache[str] = TtlCache(24 * 3600.0, now=now)
        self._miss_ttl = miss_ttl

    async def user(self, user_id: str) -> SlackUser:
        """`users.info`; raises SlackIdentityError when Slack cannot say."""
        hit, cached = self._by_id.get(user_id)
        if hit and cached is not None:
            return cached
        try:
            resp = await self._client.users_info(user=user_id)
        except SLACK_FAILURES as exc:
            log.warning("users.info failed for %s: %s", user_id, failure(exc))
            raise SlackIdentityError(SLACK_UNAVAILABLE) from None
        user = _user_of(resp.get("user") or {})
        if user.email:  # an unreadable email is not cached: a scope fix takes effect at once
            self._by_id.put(user_id, user)
        return user

    async def actor(self, user_id: str) -> Actor:
        """The Slack account behind a user id as the platform states it: its profile email
        (empty when Slack will not show it) and its key `slack:U…`, which the core's front door
        resolves to a person (an admin's mapping may stand in for a missing email)."""
        user = await self.user(user_id)
        if not user.is_person:
            raise SlackIdentityError(NOT_A_PERSON)
        if not await self._member(user):
            log.warning("refused Slack user %s of team %s", user_id, user.team_id or "unknown")
            raise SlackIdentityError(OTHER_ORGANISATION)
        if not user.email:
            log.info("no email readable for Slack user %s (users:read.email?)", user_id)
        return Actor(
            user.email or "",
            surface="slack",
            tz=user.tz,
            user_key=user_key(user_id),
            workspace=user.team_id or None,
        )

    async def _member(self, user: SlackUser) -> bool:
        return self._admits is None or await self._admits(user)

    async def user_for_email(self, email: str) -> SlackUser | None:
        """`users.lookupByEmail`; None when nobody in the workspace has that email."""
        key = normalize_email(email)
        hit, cached = self._by_email.get(key)
        if hit:
            return cached
        try:
            resp = await self._client.users_lookupByEmail(email=key)
        except SlackApiError as exc:
            code = failure(exc)
            if code != "users_not_found":
                raise
            self._by_email.put(key, None, ttl=self._miss_ttl)
            return None
        user = _user_of(resp.get("user") or {})
        # Someone of another organisation is never messaged as the person with this email.
        found = user if user.is_person and await self._member(user) else None
        self._by_email.put(key, found)
        return found

    async def dm_channel(self, user_id: str) -> str:
        """The bot's direct-message channel with a user (`conversations.open`, scope im:write)."""
        hit, cached = self._dms.get(user_id)
        if hit and cached:
            return cached
        resp = await self._client.conversations_open(users=user_id)
        channel = str((resp.get("channel") or {})["id"])
        self._dms.put(user_id, channel)
        return channel


@dataclass(frozen=True, slots=True)
class BotIdentity:
    team_id: str
    user_id: str
    bot_id: str
    enterprise_id: str | None = None


class SlackWorkspace:
    """The workspace this app serves: the configured team id, else the bot token's own team.

    `auth.test` is asked once and remembered, ahead of the first request, so acknowledging a
    command never waits on the Web API.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        configured_team: str | None = None,
        enterprise_ids: frozenset[str] = frozenset(),
    ) -> None:
        self._client = client
        self._configured = configured_team or None
        self._enterprises = enterprise_ids
        self._bot: BotIdentity | None = None
        self._lock = asyncio.Lock()

    async def bot(self) -> BotIdentity:
        if self._bot is not None:
            return self._bot
        async with self._lock:
            if self._bot is None:
                resp = await self._client.auth_test()
                self._bot = BotIdentity(
                    team_id=str(resp.get("team_id") or ""),
                    user_id=str(resp.get("user_id") or ""),
                    bot_id=str(resp.get("bot_id") or ""),
                    enterprise_id=resp.get("enterprise_id") or None,
                )
        return self._bot

    async def warm(self) -> None:
        """Ask `auth.test` now; a failure is logged and retried on the first request."""
        try:
            await self.bot()
        except SLACK_FAILURES as exc:
            log.warning("Slack auth.test failed at start (%s); will retry on demand", failure(exc))

    async def team_id(self) -> str:
        return self._configured or (await self.bot()).team_id

    async def serves(self, team_id: str | None) -> bool:
        return bool(team_id) and team_id == await self.team_id()

    async def admits(self, user: SlackUser) -> bool:
        """A member of this workspace, or of an Enterprise Grid organisation the operator
        listed (ONCALL_ACCESS_SLACK_ENTERPRISE_IDS); never a guest from another organisation."""
        if user.enterprise_id and user.enterprise_id in self._enterprises:
            return True
        return await self.serves(user.team_id)
