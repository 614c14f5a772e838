"""Builds the Teams surface: authentication, ``CloudAdapter``, the activity handler, the
``POST /api/messages`` route and the proactive notifier, from plain settings and core objects.

The composition root (``bot/teams_wiring.py``) mounts the route and adds the notifier; nothing
here reads the environment.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import ClientError
from aiohttp.typedefs import Handler
from azure.core.exceptions import DeserializationError
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import ActivityEventNames, ActivityTypes
from botframework.connector.auth import (
    BotFrameworkAuthentication,
    BotFrameworkAuthenticationFactory,
    PasswordServiceClientCredentialFactory,
)
from msrest.exceptions import ClientRequestError, HttpOperationError

from adapters.teams.adapter import CountingCloudAdapter
from adapters.teams.auth import build_bot_framework_authentication
from adapters.teams.dialogs import Dialogs
from adapters.teams.handler import AccessTeamsBot
from adapters.teams.identity import TeamsIdentity
from adapters.teams.notifier import TeamsNotifier
from adapters.teams.references import ConversationReferences, KeyValues
from adapters.teams.route import AuthMode, messages_route
from core.dispatcher import Dispatcher
from core.errors import Unavailable
from core.identity import IdentityMap
from core.notice_views import NoticeViews
from core.ports import NO_METRICS, Metrics

log = logging.getLogger(__name__)

ANY_TENANT_WARNING = (
    "ONCALL_ACCESS_TEAMS_ALLOW_ANY_TENANT is on: Teams users of ANY Microsoft 365 organisation "
    "that installs the app are served, as whoever their own organisation's directory says they "
    "are; someone who controls another tenant can give themselves your admins' and approvers' "
    "email addresses. List your tenants in MICROSOFT_APP_TENANT_ID or ONCALL_ACCESS_TEAMS_TENANTS "
    "instead."
)
NO_TENANTS = (
    "Teams needs the Microsoft 365 tenants it serves: set MICROSOFT_APP_TENANT_ID or "
    "ONCALL_ACCESS_TEAMS_TENANTS (or, to serve every organisation that installs the app, "
    "ONCALL_ACCESS_TEAMS_ALLOW_ANY_TENANT=true)"
)
DEV_NO_AUTH_WARNING = (
    "ONCALL_ACCESS_TEAMS_DEV_NO_AUTH is on: /api/messages accepts activities WITHOUT checking "
    "who sent them. Use it only on your own machine with the Bot Framework Emulator; anyone "
    "who can reach this port can act as anyone."
)


@dataclass(frozen=True)
class TeamsSettings:
    app_id: str | None = None
    app_password: str | None = None
    app_type: str = "MultiTenant"
    tenant_id: str | None = None
    openid_metadata_url: str | None = None
    token_issuer: str | None = None
    login_url: str | None = None
    dev_no_auth: bool = False
    tenants: frozenset[str] = frozenset()
    """More tenants served besides ``tenant_id`` (ONCALL_ACCESS_TEAMS_TENANTS)."""
    allow_any_tenant: bool = False

    @property
    def allowed_tenants(self) -> frozenset[str] | None:
        """The tenants whose users may act; None when every tenant is (explicitly) allowed."""
        listed = {t.lower() for t in self.tenants} | (
            {self.tenant_id.lower()} if self.tenant_id else set()
        )
        if not listed and (self.allow_any_tenant or self.mode is AuthMode.NO_AUTH):
            return None
        return frozenset(listed)

    @property
    def mode(self) -> AuthMode:
        if self.app_id:
            return AuthMode.VERIFY
        return AuthMode.NO_AUTH if self.dev_no_auth else AuthMode.REFUSE_ALL


@dataclass
class TeamsSurface:
    mode: AuthMode
    route: Handler
    adapter: CloudAdapter | None = None
    handler: AccessTeamsBot | None = None
    notifier: TeamsNotifier | None = None
    outbound: TeamsOutbound | None = None


@dataclass(frozen=True)
class TeamsOutbound:
    """What the bot says in Teams on its own: the Bot Framework adapter, the conversations it may
    write to, and the notifier. Built before the service that tells it (the notifier reads only
    the time, the admins and the policy), in one pass with the rest of the bot."""

    settings: TeamsSettings
    adapter: CloudAdapter
    references: ConversationReferences
    notifier: TeamsNotifier


def build_teams_outbound(
    settings: TeamsSettings,
    *,
    kv: KeyValues,
    notices: NoticeViews,
    identity: Callable[[], Awaitable[IdentityMap]],
    metrics: Metrics = NO_METRICS,
) -> TeamsOutbound | None:
    """None when Teams is not configured; raises ValueError naming the setting when Teams
    would serve no tenant in particular."""
    mode = settings.mode
    if mode is AuthMode.REFUSE_ALL:
        return None
    if mode is AuthMode.NO_AUTH:
        log.warning("%s", DEV_NO_AUTH_WARNING)
    elif settings.dev_no_auth:
        log.warning("ONCALL_ACCESS_TEAMS_DEV_NO_AUTH is ignored: MICROSOFT_APP_ID is set")
    tenants = settings.allowed_tenants
    if mode is AuthMode.VERIFY and tenants is not None and not tenants:
        raise ValueError(NO_TENANTS)
    if tenants is None and mode is AuthMode.VERIFY:
        log.warning("%s", ANY_TENANT_WARNING)
    elif tenants and settings.allow_any_tenant:
        log.warning(
            "ONCALL_ACCESS_TEAMS_ALLOW_ANY_TENANT is ignored: only the listed tenants are served"
        )
    adapter = CountingCloudAdapter(_authentication(settings), metrics=metrics)
    adapter.on_turn_error = _on_turn_error
    references = ConversationReferences(kv, tenants)
    notifier = TeamsNotifier(
        adapter=adapter,
        app_id=settings.app_id or None,
        references=references,
        views=notices,
        identity=identity,
    )
    return TeamsOutbound(settings, adapter, references, notifier)


def build_teams_surface(
    outbound: TeamsOutbound | None, *, dispatcher: Dispatcher, metrics: Metrics = NO_METRICS
) -> TeamsSurface:
    """The route on `outbound`, or one that answers 401 to everything when Teams is off."""
    if outbound is None:
        log.info("Teams is not configured (MICROSOFT_APP_ID unset): /api/messages answers 401")
        return TeamsSurface(AuthMode.REFUSE_ALL, messages_route(None, None, AuthMode.REFUSE_ALL))
    settings = outbound.settings
    mode = settings.mode
    handler = AccessTeamsBot(
        dispatcher=dispatcher,
        identity=TeamsIdentity(
            settings.allowed_tenants, trust_sender_name=mode is AuthMode.NO_AUTH, metrics=metrics
        ),
        references=outbound.references,
        dialogs=Dialogs(dispatcher),
    )
    return TeamsSurface(
        mode,
        messages_route(outbound.adapter, handler, mode),
        outbound.adapter,
        handler,
        outbound.notifier,
        outbound,
    )


def _authentication(settings: TeamsSettings) -> BotFrameworkAuthentication:
    if settings.mode is AuthMode.NO_AUTH:
        # No app id: botbuilder's emulator mode (no inbound token check, anonymous replies).
        return BotFrameworkAuthenticationFactory.create(
            credential_factory=PasswordServiceClientCredentialFactory()
        )
    assert settings.app_id
    return build_bot_framework_authentication(
        settings.app_id,
        settings.app_password,
        settings.app_type,
        settings.tenant_id,
        openid_metadata_url=settings.openid_metadata_url,
        token_issuer=settings.token_issuer,
        login_url=settings.login_url,
    )


_PROACTIVE = frozenset(
    {ActivityEventNames.continue_conversation.value, ActivityEventNames.create_conversation.value}
)


CONNECTOR_FAILED = "Teams did not take a call I needed to answer you; try again in a minute."
_CONNECTOR_REFUSED = (HttpOperationError, ClientRequestError, DeserializationError, ClientError)


async def _on_turn_error(turn_context: TurnContext, error: Exception) -> None:
    """Log with an error id and tell the person only that id; never the exception text. A
    database outage is told in its one sentence instead, and logged without a traceback.

    Proactive turns re-raise so the notifier learns the message was not delivered; a
    ``PermissionError`` (the bot's own credentials refused) re-raises so Teams gets a 401.
    """
    activity = turn_context.activity
    if activity.type == ActivityTypes.event and activity.name in _PROACTIVE:
        raise error
    if isinstance(error, PermissionError):
        log.error("Teams refused the bot's credentials: check MICROSOFT_APP_ID/PASSWORD/TYPE")
        raise error
    if isinstance(error, Unavailable):
        log.warning(
            "database unavailable handling a Teams %s activity: %s", activity.type, error.detail
        )
        try:
            await turn_context.send_activity(error.message)
        except Exception:
            log.warning("could not tell the sender that the database is unavailable")
        return
    if isinstance(error, _CONNECTOR_REFUSED):
        # A call to the Bot Connector failed (the conversation is gone, the service is down,
        # or it answered what is not the Bot Framework's JSON): not a bug of ours, so no
        # traceback and no error id; the sender is told when the connector still takes that.
        log.warning(
            "could not answer a Teams %s activity: the connector refused it (%s)",
            activity.type,
            type(error).__name__,
        )
        try:
            await turn_context.send_activity(CONNECTOR_FAILED)
        except Exception:
            log.warning("could not tell the sender that the connector refused a call")
        return
    incident = secrets.token_hex(4)
    log.error(
        "unexpected error [%s] handling a Teams %s activity",
        incident,
        activity.type,
        exc_info=error,
    )
    try:
        await turn_context.send_activity(
            f"Something went wrong on our side (error id {incident}); an admin can look it up."
        )
    except Exception:
        log.warning("could not tell the sender about error [%s]", incident)
