"""PagerDuty's OAuth user flow for admins who prefer to authorize as themselves.

`start` stores the PKCE verifier and `state` sealed in the database (any replica can finish the
flow; a link works once and for ten minutes), and returns PagerDuty's authorize URL. The callback
at `GET /oauth/pagerduty/callback` checks `state`, exchanges the code, stores the tokens sealed,
verifies, and runs the first sync. Rotated refresh tokens are written back as they change.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from aiohttp import web

from adapters.pagerduty.client import PagerDutyClient
from adapters.pagerduty.oauth import (
    ROSTER_SCOPES,
    AuthorizationCodeFlow,
    AuthorizationRequest,
    TokenSet,
    UserTokenAuth,
)
from adapters.pagerduty.provider import PagerDutyRosterProvider
from adapters.providerhttp import ProviderError
from adapters.storage.crypto import SecretBox
from adapters.storage.kv import SqlKeyValues as KeyValues
from bot.settings import Settings
from core.connections import ConnectForm, ConnectResult

log = logging.getLogger(__name__)
CALLBACK_PATH = "/oauth/pagerduty/callback"
LINK_LIFETIME = 600.0


def _flow(settings: Settings, client_id: str, client_secret: str) -> AuthorizationCodeFlow:
    options: dict[str, Any] = {}
    if settings.pagerduty_identity_url:
        options["identity_url"] = settings.pagerduty_identity_url
    return AuthorizationCodeFlow(client_id, client_secret, **options)


Rotate = Callable[[dict[str, Any]], Awaitable[None]]
"""Stores rotated tokens (the provider admin's `rotated`), so every replica uses the new ones."""
Complete = Callable[[dict[str, Any], dict[str, Any], str], Awaitable[ConnectResult]]
"""Verifies, stores and syncs a connection the callback finished (the provider admin's)."""


class PagerDutyUserFlow:
    """The flow's three steps, built once from settings: `start` (from a connect form),
    `route` (PagerDuty's redirect back), and `provider` (acting with the stored tokens)."""

    def __init__(self, settings: Settings, kv: KeyValues, now: Callable[[], datetime]) -> None:
        self._settings = settings
        self._kv = kv
        self._now = now

    def provider(
        self, config: dict[str, Any], secrets: dict[str, Any], on_rotate: Rotate
    ) -> PagerDutyRosterProvider:
        """A provider that acts with the admin's own (refreshing) token."""
        flow = _flow(self._settings, config["client_id"], secrets["client_secret"])
        tokens = TokenSet(
            access_token=secrets["access_token"],
            expires_at=float(secrets["expires_at"]),
            scope=tuple(config.get("granted_scopes") or ()),
            refresh_token=secrets.get("refresh_token"),
        )

        async def keep(rotated: TokenSet) -> None:
            await on_rotate({**secrets, **_token_secrets(rotated)})

        auth = UserTokenAuth(flow, tokens, on_rotate=keep)
        client = PagerDutyClient(
            auth=auth, region=config.get("region", "us"), base_url=self._settings.pagerduty_api_url
        )
        return PagerDutyRosterProvider(client, now=self._now)

    async def start(
        self, form: ConnectForm, actor: str, scopes: Sequence[str] = ROSTER_SCOPES
    ) -> ConnectResult:
        return await start(self._settings, self._kv, form, actor, scopes)

    def route(self, complete: Complete) -> web.RouteDef:
        return callback_route(self._settings, self._kv, complete)


def _token_secrets(tokens: TokenSet) -> dict[str, Any]:
    return {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": tokens.expires_at,
    }


async def start(
    settings: Settings,
    kv: KeyValues,
    form: ConnectForm,
    actor: str,
    scopes: Sequence[str] = ROSTER_SCOPES,
) -> ConnectResult:
    """Keep what the callback needs, sealed, under the link's `state`; answer with the link."""
    if not settings.public_url:
        return ConnectResult(
            False,
            "The OAuth user flow needs ONCALL_ACCESS_PUBLIC_URL (the bot's public https address) for "
            "PagerDuty to send the admin back to; use the client-credentials app instead, or set it.",
            field="auth",
        )
    flow = _flow(settings, form.client_id, form.client_secret)
    try:
        redirect_uri = settings.public_url.rstrip("/") + CALLBACK_PATH
        request = flow.start(redirect_uri, scopes)
    finally:
        await flow.aclose()
    pending = {
        "client_id": form.client_id,
        "client_secret": form.client_secret,
        "verifier": request.code_verifier,
        "redirect_uri": request.redirect_uri,
        "region": form.region,
        "scopes": list(scopes),
        "actor": actor,
        "expires": time.time() + LINK_LIFETIME,
    }
    await kv.put(f"oauth:pagerduty:{request.state}", SecretBox(settings.secret_key).seal(pending))
    return ConnectResult(
        True,
        "Open the link to authorize oncall-access in PagerDuty (valid 10 minutes, once); "
        "the connection completes there and the first sync runs.",
        authorize_url=request.url,
    )


def _page(title: str, body: str, status: int) -> web.Response:
    text = (
        "<!doctype html><meta charset=utf-8><title>oncall-access</title>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(body)}</p>"
    )
    return web.Response(text=text, content_type="text/html", status=status)


def callback_route(settings: Settings, kv: KeyValues, complete: Complete) -> web.RouteDef:
    async def callback(request: web.Request) -> web.Response:
        # An answer without a code spends nothing: whoever sends someone's state with an error
        # (or nothing) cannot use up the link they are still signing in with.
        if "error" in request.query:
            return _page("Not connected", "PagerDuty sign-in was declined.", 400)
        if not request.query.get("code"):
            return _page("Not connected", "PagerDuty's sign-in answer has no code.", 400)
        state = request.query.get("state", "")
        key = f"oauth:pagerduty:{state}"
        sealed = await kv.get(key) if state else None
        if not sealed:
            return _page(
                "Link expired",
                "This sign-in link expired or was already used; start again from the connect form.",
                400,
            )
        await kv.delete(key)  # one use only
        pending = SecretBox(settings.secret_key).open(sealed)
        if time.time() > float(pending["expires"]):
            return _page(
                "Link expired", "This sign-in link expired; start again from the connect form.", 400
            )
        flow = _flow(settings, pending["client_id"], pending["client_secret"])
        try:
            auth_request = AuthorizationRequest(
                "", state, pending["verifier"], pending["redirect_uri"]
            )
            tokens = await flow.finish(auth_request, dict(request.query))
        except ProviderError as exc:
            return _page("Not connected", exc.message, 400)
        finally:
            await flow.aclose()
        config = {
            "region": pending["region"],
            "auth": "oauth_user",
            "client_id": pending["client_id"],
            "scopes": pending.get("scopes") or list(ROSTER_SCOPES),
            "granted_scopes": sorted(tokens.scope),
        }
        secrets = {"client_secret": pending["client_secret"], **_token_secrets(tokens)}
        result = await complete(config, secrets, pending["actor"])
        if not result.ok:
            return _page("Not connected", result.message, 400)
        return _page("PagerDuty connected", f"{result.message} {result.sync_summary}", 200)

    return web.get(CALLBACK_PATH, callback)
