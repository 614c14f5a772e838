"""Who is talking: a Teams user becomes the email the core knows them by.

The email comes from the Teams member info (``TeamsInfo.get_member``: ``email``, else
``userPrincipalName``); the Entra object id from the activity's ``from.aadObjectId``, because the
member info names it ``objectId`` and botbuilder's model leaves it empty. Answers are cached per
process for a while: an email changes rarely, and every replica can look it up again itself.

Activities from a tenant the operator did not list are refused before anything else: in another
tenant, anyone can be given any email address. Only an operator who opens the bot to every
tenant explicitly (``tenants=None``) is served by any.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import Activity
from botbuilder.schema.teams import TeamsChannelData
from msrest.exceptions import HttpOperationError

from adapters.teams.references import SURFACE
from core.errors import DomainError
from core.identity import is_email, normalize_email
from core.ports import NO_METRICS, Metrics
from core.timefmt import zone

CACHE_SECONDS = 3600.0


NOT_A_MEMBER = (
    "Teams does not list you as a member of this conversation, so I cannot tell which person "
    "you are."
)


class IdentityRefused(DomainError):
    """This Teams user cannot be mapped to a person the core knows (one sentence why)."""


@dataclass(frozen=True)
class TeamsUser:
    email: str
    user_id: str
    aad_object_id: str | None
    tenant_id: str | None
    name: str
    tz: str


def channel_data_of(activity: Activity) -> TeamsChannelData | None:
    if not isinstance(activity.channel_data, dict):
        return None
    data: TeamsChannelData = TeamsChannelData().deserialize(activity.channel_data)
    return data


def tenant_of(activity: Activity) -> str | None:
    if activity.conversation is not None and activity.conversation.tenant_id:
        return str(activity.conversation.tenant_id)
    channel_data = channel_data_of(activity)
    if channel_data is not None and channel_data.tenant is not None:
        return channel_data.tenant.id or None
    return None


def time_zone_of(activity: Activity) -> str:
    """The sender's IANA time zone as the Teams client reports it, else UTC."""
    tz = activity.local_timezone or "UTC"
    return tz if zone(tz).key == tz else "UTC"


class TeamsIdentity:
    def __init__(
        self,
        tenants: frozenset[str] | None,
        *,
        cache_seconds: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        trust_sender_name: bool = False,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        """``trust_sender_name``: development without authentication only (the Emulator has no
        member directory): a sender whose name or id is an email is taken at their word."""
        self.tenants = frozenset(t.lower() for t in tenants) if tenants is not None else None
        self._trust_sender_name = trust_sender_name
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}
        self._metrics = metrics  # a member lookup the connector fails counts as a Teams API error

    def check_tenant(self, activity: Activity) -> None:
        tenant = (tenant_of(activity) or "").lower()
        if self.tenants is None:
            if not tenant and not self._trust_sender_name:
                # A user id names nobody without the organisation it belongs to.
                raise IdentityRefused(
                    "I cannot tell which Microsoft 365 organisation this is from."
                )
            return
        if tenant not in self.tenants:
            raise IdentityRefused("This bot serves another Microsoft 365 organisation.")

    async def resolve(self, turn_context: TurnContext) -> TeamsUser:
        """The sender of this turn's activity, tenant checked; IdentityRefused says why not."""
        activity = turn_context.activity
        self.check_tenant(activity)
        sender = activity.from_property
        if sender is None or not sender.id:
            raise IdentityRefused("I cannot tell who sent this.")
        aad_object_id = getattr(sender, "aad_object_id", None) or None
        tenant = tenant_of(activity)
        key = ((tenant or "").lower(), (aad_object_id or sender.id).lower())
        email = self._cached(key) or self._claimed_email(sender.name, sender.id)
        if email is None:
            try:
                member = await TeamsInfo.get_member(turn_context, sender.id)
            except HttpOperationError as exc:
                if getattr(exc.response, "status_code", None) == 404:
                    raise IdentityRefused(NOT_A_MEMBER) from None
                self._metrics.chat_api_failed(SURFACE)
                raise
            except Exception:
                self._metrics.chat_api_failed(SURFACE)
                raise
            found = member.email or member.user_principal_name or ""
            if not is_email(found):
                raise IdentityRefused(
                    "Your Teams account has no email address, so I cannot tell which person "
                    "you are (guests and anonymous users cannot use this bot)."
                )
            email = normalize_email(found)
            self._cache[key] = (self._monotonic() + self._cache_seconds, email)
        return TeamsUser(
            email=email,
            user_id=sender.id,
            aad_object_id=aad_object_id,
            tenant_id=tenant.lower() if tenant else None,
            name=sender.name or "",
            tz=time_zone_of(activity),
        )

    def _claimed_email(self, *claims: str | None) -> str | None:
        if not self._trust_sender_name:
            return None
        return next((normalize_email(c) for c in claims if c and is_email(c)), None)

    def _cached(self, key: tuple[str, str]) -> str | None:
        hit = self._cache.get(key)
        if hit is None:
            return None
        expires, email = hit
        if self._monotonic() >= expires:
            del self._cache[key]
            return None
        return email
