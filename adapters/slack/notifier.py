"""The core's `Notifier` port in Slack: approval messages as DMs to each approver (and to an
approvals channel), updates of every copy when the request changes, personal DMs, admin alerts.

Each copy is referenced as `CHANNEL:TS`; the time zone it was drawn in is kept in the bot's
key-value store, so an update written by any replica (or after a restart) shows times the way
the first message did.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import constants as k
from adapters.slack import render
from adapters.slack.identity import (
    SLACK_FAILURES,
    SlackDirectory,
    SlackIdentityError,
    SlackUser,
    failure,
    user_key,
)
from core.identity import IdentityMap, normalize_email
from core.ports import Clock, MessageRef
from core.requests import AccessRequest

log = logging.getLogger(__name__)

CHANNEL_TZ = "UTC"
"""A channel has many readers; its copy shows UTC, which the message says."""


class KeyValues(Protocol):
    """The bot's small shared store (what `adapters.storage.kv.SqlKeyValues` offers)."""

    async def get(self, key: str, default: Any = None) -> Any: ...

    async def put(self, key: str, value: Any) -> None: ...


def make_ref(channel: str, ts: str) -> MessageRef:
    return MessageRef(k.SURFACE, f"{channel}:{ts}")


def parse_ref(ref: MessageRef) -> tuple[str, str] | None:
    channel, sep, ts = ref.ref.partition(":")
    return (channel, ts) if sep and channel and ts else None


class SlackNotifier:
    surface = k.SURFACE

    def __init__(
        self,
        client: AsyncWebClient,
        directory: SlackDirectory,
        clock: Clock,
        *,
        admins: Callable[[], Iterable[str]] = frozenset,
        approvals_channel: str | None = None,
        kv: KeyValues | None = None,
        identity: Callable[[], Awaitable[IdentityMap]] | None = None,
    ) -> None:
        self._client = client
        self._directory = directory
        self._clock = clock
        self._admins = admins
        self._channel = approvals_channel or None
        self._kv = kv
        self._zones: dict[str, str] = {}  # channel -> zone this process wrote or read
        self._identity = identity

    async def ask_approvers(
        self, request: AccessRequest, approvers: Sequence[str], summary: str
    ) -> list[MessageRef]:
        now = self._clock.now()
        requester = await self._quiet_lookup(request.requester)
        requester_id = requester.id if requester else None
        refs: list[MessageRef] = []
        for email in approvers:
            try:
                user = await self._find(email)
                if user is None:
                    log.info("approver %s of %s is not in Slack", email, request.id)
                    continue
                channel = await self._directory.dm_channel(user.id)
                message = render.approval_message(
                    request, user.tz, now, requester_user_id=requester_id
                )
                posted = await self._post(channel, message, user.tz)
                refs.append(MessageRef(posted.surface, posted.ref, email))
            except SLACK_FAILURES as exc:
                log.warning(
                    "could not send %s's approval message to %s: %s",
                    request.id,
                    email,
                    failure(exc),
                )
        if self._channel:
            try:
                message = render.approval_message(
                    request, CHANNEL_TZ, now, requester_user_id=requester_id
                )
                refs.append(await self._post(self._channel, message, CHANNEL_TZ))
            except SLACK_FAILURES as exc:
                log.warning(
                    "could not post %s to the approvals channel: %s", request.id, failure(exc)
                )
        return refs

    async def request_changed(self, request: AccessRequest, refs: Sequence[MessageRef]) -> None:
        now = self._clock.now()
        requester = await self._quiet_lookup(request.requester)
        for ref in refs:
            where = parse_ref(ref) if ref.surface == self.surface else None
            if where is None:
                continue
            channel, ts = where
            tz = await self._tz_of(channel)
            message = render.approval_message(
                request, tz, now, requester_user_id=requester.id if requester else None
            )
            try:
                await self._client.chat_update(channel=channel, ts=ts, **message)
            except SLACK_FAILURES as exc:
                log.warning(
                    "could not update %s's message %s: %s", request.id, ref.ref, failure(exc)
                )

    async def tell(self, email: str, text: str, request: AccessRequest | None = None) -> None:
        await self.direct_message(email, render.notice_message(text, request))

    async def alert_admins(self, text: str) -> None:
        for email in sorted(self._admins()):
            await self.direct_message(email, render.alert_message(text))

    async def direct_message(self, email: str, message: dict[str, Any]) -> str | None:
        """DM a person by email; returns the channel, or None when they are not in Slack."""
        try:
            user = await self._find(email)
            if user is None:
                log.info("%s is not in Slack; a notice was not delivered there", email)
                return None
            channel = await self._directory.dm_channel(user.id)
            await self._client.chat_postMessage(channel=channel, **message)
            return channel
        except SLACK_FAILURES as exc:
            log.warning("could not DM %s: %s", email, failure(exc))
            return None

    async def announce(self, text: str, request: AccessRequest | None = None) -> None:
        """One line in the approvals channel, when there is one."""
        if not self._channel:
            return
        try:
            await self._client.chat_postMessage(
                channel=self._channel, **render.notice_message(text, request)
            )
        except SLACK_FAILURES as exc:
            log.warning("could not post to the approvals channel: %s", failure(exc))

    async def _find(self, email: str) -> SlackUser | None:
        """The Slack account of a person: an admin's mapping `slack:U123 -> EMAIL` first (for
        people whose Slack email differs), else `users.lookupByEmail` on each address the
        mappings make this person (a profile at an alias domain, an `email:OLD` mapping), so
        whoever is this person when they click is also the one messaged."""
        if self._identity is None:
            return await self._directory.user_for_email(email)
        wanted = normalize_email(email)
        mapped = await self._identity()
        for user_id in mapped.ids_of(wanted, "slack"):
            try:
                return await self._directory.user(user_id)
            except SlackIdentityError:
                log.warning("mapped Slack user %s cannot be looked up", user_id)
        for address in mapped.addresses_of(wanted):
            user = await self._directory.user_for_email(address)
            if (
                user is not None
                and mapped.email(user.email or address, user_key(user.id)) == wanted
            ):
                return user
        return None

    async def _post(self, channel: str, message: dict[str, Any], tz: str) -> MessageRef:
        resp = await self._client.chat_postMessage(channel=channel, **message)
        posted_in = str(resp.get("channel") or channel)
        if self._kv is not None and self._zones.get(posted_in) != tz:
            try:
                await self._kv.put(f"slack:tz:{posted_in}", tz)
                self._zones[posted_in] = tz  # written once per channel and zone, not per post
            except Exception:  # updates then show UTC; the message itself went out
                log.exception("could not remember the time zone of %s", posted_in)
        return make_ref(posted_in, str(resp["ts"]))

    async def _tz_of(self, channel: str) -> str:
        if self._kv is None:
            return CHANNEL_TZ
        if channel in self._zones:
            return self._zones[channel]
        found = await self._kv.get(f"slack:tz:{channel}")
        return found if isinstance(found, str) and found else CHANNEL_TZ

    async def _quiet_lookup(self, email: str) -> SlackUser | None:
        """The requester's Slack user for a mention; the message works without it."""
        try:
            return await self._find(email)
        except SLACK_FAILURES as exc:
            log.info("no Slack user for %s: %s", email, failure(exc))
            return None
