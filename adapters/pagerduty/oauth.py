"""PagerDuty Scoped OAuth: app tokens (client credentials) and user tokens (code + PKCE).

Endpoints and parameters follow PagerDuty's developer docs (`identity.pagerduty.com`):
- App token: form `POST /oauth/token` with `grant_type=client_credentials`, `client_id`,
  `client_secret` and `scope="as_account-{us|eu}.{subdomain} <scopes…>"`. It lasts `expires_in`
  seconds (a day) and has no refresh token, so we ask for a new one shortly before it expires,
  or at once when the API answers 401.
- User token: `GET /oauth/authorize?response_type=code&client_id&redirect_uri&scope
  &code_challenge&code_challenge_method=S256&state`, then `grant_type=authorization_code` with
  the `code_verifier`. PKCE S256 is mandatory for Scoped OAuth. A refresh returns a new refresh
  token too (rotation), so the caller must persist each new pair (`on_rotate`).
- Asking for a scope the app lacks does not fail: the token just comes without it, so the
  granted scopes are kept and reported.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from adapters.pagerduty.client import Region
from adapters.providerhttp import (
    BadResponse,
    Forbidden,
    ProviderHTTP,
    RequestRejected,
    StaticAuth,
    Unauthorized,
)

IDENTITY_URL = "https://identity.pagerduty.com"
AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/token"
ROSTER_SCOPES = (
    "oncalls.read",
    "schedules.read",
    "users.read",
    "teams.read",
    "escalation_policies.read",
    "services.read",  # services are groups, for incident access
    "incidents.read",  # who works which incident, asked live
)
RENEW_MARGIN = 300.0

WallClock = Callable[[], float]


@dataclass(frozen=True)
class TokenSet:
    """What the token endpoint granted; `expires_at` is epoch seconds. Tokens never in repr."""

    access_token: str = field(repr=False)
    expires_at: float
    scope: tuple[str, ...] = ()
    refresh_token: str | None = field(default=None, repr=False)

    def expires_within(self, seconds: float, now: float) -> bool:
        return now + seconds >= self.expires_at


def _token_set(body: Any, now: float) -> TokenSet:
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise BadResponse("PagerDuty's token endpoint answered without an access token.")
    expires_in = body.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
    refresh = body.get("refresh_token")
    return TokenSet(
        access_token=body["access_token"],
        expires_at=now + lifetime,
        scope=tuple(str(body.get("scope") or "").split()),
        refresh_token=refresh if isinstance(refresh, str) else None,
    )


class _TokenEndpoint:
    """Form posts to /oauth/token through the shared HTTP layer (no rate limit, no auth)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        identity_url: str,
        transport: httpx.AsyncBaseTransport | None,
        clock: WallClock,
    ) -> None:
        self.client_id = client_id
        self._secret = client_secret
        self.identity_url = identity_url.rstrip("/")
        self.clock = clock
        self.http = ProviderHTTP(
            "PagerDuty", self.identity_url, auth=StaticAuth(""), transport=transport
        )

    async def grant(self, form: Mapping[str, str]) -> TokenSet:
        data = {**form, "client_id": self.client_id, "client_secret": self._secret}
        try:
            body = await self.http.request("POST", TOKEN_PATH, data=data, authorize=False)
        except (Unauthorized, RequestRejected) as error:
            raise Unauthorized(
                "PagerDuty did not grant a token: check the client id and secret, and that "
                "the code or refresh token has not expired.",
                provider="PagerDuty",
                status=error.status,
            ) from None
        return _token_set(body, self.clock())

    async def aclose(self) -> None:
        await self.http.aclose()


class ClientCredentialsAuth:
    """App token for one account, renewed `renew_margin` seconds before it expires."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        subdomain: str,
        *,
        region: Region | str = Region.US,
        scopes: Sequence[str] = ROSTER_SCOPES,
        identity_url: str = IDENTITY_URL,
        renew_margin: float = RENEW_MARGIN,
        clock: WallClock = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.region = Region(str(region).lower())
        self.subdomain = subdomain
        self.scopes = tuple(scopes)
        self.renew_margin = renew_margin
        self.token: TokenSet | None = None
        self.grants = 0
        self._endpoint = _TokenEndpoint(client_id, client_secret, identity_url, transport, clock)
        self._lock = asyncio.Lock()

    @property
    def requested_scope(self) -> str:
        return " ".join((f"as_account-{self.region.value}.{self.subdomain}", *self.scopes))

    @property
    def missing_scopes(self) -> tuple[str, ...]:
        granted = set(self.token.scope) if self.token else set()
        return tuple(s for s in self.scopes if s not in granted)

    async def authorization(self) -> str:
        async with self._lock:  # one renewal even when many requests notice expiry at once
            now = self._endpoint.clock()
            if self.token is None or self.token.expires_within(self.renew_margin, now):
                form = {"grant_type": "client_credentials", "scope": self.requested_scope}
                self.token = await self._endpoint.grant(form)
                self.grants += 1
            return f"Bearer {self.token.access_token}"

    def invalidate(self) -> bool:
        self.token = None
        return True

    async def aclose(self) -> None:
        await self._endpoint.aclose()

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth({self.subdomain!r}, region={self.region.value!r})"


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636: challenge = b64url(sha256(verifier))."""
    verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-], within 43..128
    return verifier, s256_challenge(verifier)


def s256_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class AuthorizationRequest:
    """Keep this server-side between redirect and callback: it holds the PKCE verifier."""

    url: str
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str


class AuthorizationCodeFlow:
    """Per-user tokens: authorize URL, code exchange with state check, rotating refresh."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        identity_url: str = IDENTITY_URL,
        clock: WallClock = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.client_id = client_id
        self.clock = clock
        self._endpoint = _TokenEndpoint(client_id, client_secret, identity_url, transport, clock)

    def start(
        self, redirect_uri: str, scopes: Sequence[str] = ROSTER_SCOPES
    ) -> AuthorizationRequest:
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(32)
        query = urlencode(
            {
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": " ".join(scopes),
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": state,
            }
        )
        url = f"{self._endpoint.identity_url}{AUTHORIZE_PATH}?{query}"
        return AuthorizationRequest(url, state, verifier, redirect_uri)

    async def finish(self, request: AuthorizationRequest, callback: Mapping[str, str]) -> TokenSet:
        """Exchange the code from the redirect's query, after checking its `state`."""
        if not hmac.compare_digest(callback.get("state", ""), request.state):
            raise Forbidden(
                "The PagerDuty sign-in answer does not match the request (state differs); "
                "start again.",
                provider="PagerDuty",
            )
        if "error" in callback:
            raise Forbidden("PagerDuty sign-in was declined.", provider="PagerDuty")
        code = callback.get("code")
        if not code:
            raise BadResponse("PagerDuty's sign-in answer has no code.", provider="PagerDuty")
        return await self._endpoint.grant(
            {
                "grant_type": "authorization_code",
                "redirect_uri": request.redirect_uri,
                "code": code,
                "code_verifier": request.code_verifier,
            }
        )

    async def refresh(self, tokens: TokenSet) -> TokenSet:
        if not tokens.refresh_token:
            raise Unauthorized("This PagerDuty token cannot be refreshed.", provider="PagerDuty")
        return await self._endpoint.grant(
            {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        )

    async def aclose(self) -> None:
        await self._endpoint.aclose()


class UserTokenAuth:
    """A user token that refreshes itself; `on_rotate` must persist every new pair."""

    def __init__(
        self,
        flow: AuthorizationCodeFlow,
        tokens: TokenSet,
        *,
        on_rotate: Callable[[TokenSet], Awaitable[None]] | None = None,
        renew_margin: float = RENEW_MARGIN,
    ) -> None:
        self.flow = flow
        self.tokens = tokens
        self._on_rotate = on_rotate
        self._margin = renew_margin
        self._stale = False
        self._lock = asyncio.Lock()

    async def authorization(self) -> str:
        async with self._lock:
            now = self.flow.clock()
            if self._stale or self.tokens.expires_within(self._margin, now):
                self.tokens = await self.flow.refresh(self.tokens)
                self._stale = False
                if self._on_rotate is not None:
                    await self._on_rotate(self.tokens)
            return f"Bearer {self.tokens.access_token}"

    def invalidate(self) -> bool:
        self._stale = self.tokens.refresh_token is not None
        return self._stale


__all__ = [
    "IDENTITY_URL",
    "ROSTER_SCOPES",
    "AuthorizationCodeFlow",
    "AuthorizationRequest",
    "ClientCredentialsAuth",
    "TokenSet",
    "UserTokenAuth",
    "pkce_pair",
    "s256_challenge",
]
