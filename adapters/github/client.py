"""GitHub's REST API, the calls that give and take back a team membership.

Two ways in: a token (a fine-grained or classic personal access token, sent as a bearer token),
or a GitHub App: a JWT signed with the app's private key (RS256, `iss` = the app's id, at most
ten minutes) buys an installation token for the organization (`GET /orgs/{org}/installation`,
`POST /app/installations/{id}/access_tokens`), which lasts an hour and is bought again before it
ends. Operations and shapes follow GitHub's published OpenAPI description (tests/reference/github).

GitHub's secondary limit lets no more than 80 content-creating requests through in a minute, so
the client paces its writes (the PUT and DELETE of a membership) at that, over every
organization it acts in, instead of spending requests on being refused; reads are not held.
Rate limits come as 403 or 429: `retry-after` (secondary limits), or `x-ratelimit-remaining: 0`
with `x-ratelimit-reset` in epoch seconds (the primary limit); both are waited out. Any other
403 is explained by `X-Accepted-GitHub-Permissions` (what an app or fine-grained token lacks) or
`X-Accepted-OAuth-Scopes` (a classic token), named exactly.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import httpx
import jwt
from cryptography.hazmat.primitives import serialization

from adapters.providerhttp import (
    Forbidden,
    NotFound,
    ProviderError,
    ProviderHTTP,
    RateLimit,
    RetryPolicy,
    SlidingWindow,
    StaticAuth,
)
from adapters.providerhttp.client import Auth
from adapters.providerhttp.limiter import MonotonicClock, Sleep
from adapters.providerhttp.tokens import BearerTokenAuth, Token
from core.errors import DomainError
from core.ports import Verification

API_URL = "https://api.github.com"
NAME = "GitHub"
API_VERSION = "2022-11-28"
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
SECONDARY_WAIT = 60.0  # GitHub: "wait at least one minute" when a secondary limit names no time
CONTENT_LIMIT = RateLimit(80, 60.0)  # GitHub: at most 80 content-creating requests a minute
NEEDS = (
    "a GitHub App needs the organization permission Members (read and write); a fine-grained "
    "token the same, from an organization owner or a maintainer of the team; a classic token "
    "the admin:org scope"
)


def _wait(response: httpx.Response) -> float | None:
    """Seconds GitHub asks us to wait, when this 403 or 429 is a rate limit."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    after = headers.get("retry-after")
    if after is not None:
        try:
            return max(0.0, float(after))
        except ValueError:
            return SECONDARY_WAIT
    if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
        try:
            return max(1.0, float(headers["x-ratelimit-reset"]) - time.time())
        except ValueError:
            return SECONDARY_WAIT
    if "rate limit" in _message(response).lower():
        return SECONDARY_WAIT
    return None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("message") or "") if isinstance(body, dict) else ""


def _facts(response: httpx.Response) -> dict[str, str]:
    facts = {"message": _message(response)[:200]}
    for header, key in (
        ("x-accepted-github-permissions", "permissions"),
        ("x-accepted-oauth-scopes", "scopes"),
    ):
        if response.headers.get(header):
            facts[key] = response.headers[header]
    return facts


class _AppLogin:
    """A GitHub App's JWT, and the installation token it buys for one organization."""

    def __init__(self, http: ProviderHTTP, app_id: str, key: Any, installation_id: str) -> None:
        self._http, self._app_id, self._key = http, app_id, key
        self.installation_id = installation_id
        self.permissions: dict[str, str] = {}  # what the installation was granted, as GitHub says

    def jwt(self) -> str:
        now = int(time.time())
        claims = {"iat": now - 60, "exp": now + 540, "iss": self._app_id}  # clock drift allowed
        return jwt.encode(claims, self._key, algorithm="RS256")

    async def installation_token(self, org: str) -> Token:
        headers = {"Authorization": f"Bearer {self.jwt()}"}
        try:
            if not self.installation_id:
                found = await self._http.request(
                    "GET",
                    f"/orgs/{quote(org, safe='')}/installation",
                    headers=headers,
                    authorize=False,
                )
                self.installation_id = str(found["id"])
            body = await self._http.request(
                "POST",
                f"/app/installations/{quote(self.installation_id, safe='')}/access_tokens",
                headers=headers,
                authorize=False,
            )
        except NotFound:
            raise DomainError(
                f"The GitHub App is not installed on the {org} organization: install it there."
            ) from None
        except ProviderError as exc:
            if exc.status == 401:
                raise DomainError(
                    "GitHub refused the app's JWT (401): check the app id and that the private "
                    "key is one of the app's keys."
                ) from None
            raise
        if not isinstance(body, dict) or not isinstance(body.get("token"), str):
            raise DomainError("GitHub answered without an installation token.")
        granted = body.get("permissions")
        if isinstance(granted, dict):
            self.permissions = {str(k): str(v) for k, v in granted.items()}
        return Token(body["token"], 3600.0)  # installation tokens last one hour


class GitHubClient:
    """One GitHub connection: a token, or an app (one installation token per organization)."""

    def __init__(
        self,
        *,
        token: str = "",
        app_id: str = "",
        private_key: str = "",
        installation_id: str = "",
        api_url: str | None = None,
        retry: RetryPolicy | None = None,
        clock: MonotonicClock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_concurrency: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
        content_limit: RateLimit = CONTENT_LIMIT,
    ) -> None:
        self.base_url = (api_url or API_URL).rstrip("/")
        self.writes = SlidingWindow(content_limit, clock=clock, sleep=sleep)
        self._http_options: dict[str, Any] = {"retry": retry, "clock": clock, "sleep": sleep}
        if transport is not None:
            self._http_options["transport"] = transport
        self._max_concurrency = max_concurrency
        self._clock = clock
        self._orgs: dict[str, ProviderHTTP] = {}
        self._app: _AppLogin | None = None
        self._token = token
        if token:
            self.kind = "token"
        elif app_id and private_key:
            try:
                key = serialization.load_pem_private_key(private_key.encode(), None)
            except ValueError:
                raise DomainError("The GitHub App's private key must be its PEM key.") from None
            self._app = _AppLogin(
                self._make(StaticAuth(""), paced=False), app_id, key, installation_id
            )  # buying installation tokens creates no content
            self.kind = "app"
        else:
            raise DomainError("GitHub needs a token, or an app id with its private key.")

    def _make(self, auth: Auth, *, paced: bool = True) -> ProviderHTTP:
        return ProviderHTTP(
            NAME,
            self.base_url,
            auth=auth,
            headers=HEADERS,
            max_concurrency=self._max_concurrency,
            throttle_hint=_wait,
            error_facts=_facts,
            write_limit=self.writes if paced else None,
            **self._http_options,
        )

    def http(self, org: str) -> ProviderHTTP:
        """The HTTP client acting in `org` (an app's installation token is per organization)."""
        key = org.lower()
        if key not in self._orgs:
            if self._app is not None:
                app = self._app

                async def fetch() -> Token:
                    return await app.installation_token(org)

                auth: Auth = BearerTokenAuth(fetch, clock=self._clock)
            else:
                auth = StaticAuth(f"Bearer {self._token}")
            self._orgs[key] = self._make(auth)
        return self._orgs[key]

    async def aclose(self) -> None:
        for http in self._orgs.values():
            await http.aclose()
        if self._app is not None:
            await self._app._http.aclose()

    # -- reads ----------------------------------------------------------------------------------
    async def team(self, org: str, slug: str) -> dict[str, Any]:
        try:
            found = await self.http(org).get(f"/orgs/{_q(org)}/teams/{_q(slug)}")
        except NotFound:
            raise DomainError(
                f"GitHub has no team {slug} in {org} that these credentials can see."
            ) from None
        except Forbidden as exc:
            raise DomainError(_refusal(exc, f"read team {org}/{slug}")) from None
        return found if isinstance(found, dict) else {}

    async def membership(self, org: str, slug: str, login: str) -> dict[str, Any] | None:
        """`{role, state}` of the person in the team (child teams count), None when not in it."""
        path = f"/orgs/{_q(org)}/teams/{_q(slug)}/memberships/{_q(login)}"
        try:
            found = await self.http(org).get(path)
        except NotFound:
            return None
        except Forbidden as exc:
            raise DomainError(_refusal(exc, f"read the members of {org}/{slug}")) from None
        return found if isinstance(found, dict) else None

    async def is_org_member(self, org: str, login: str) -> bool:
        try:
            await self.http(org).request("GET", f"/orgs/{_q(org)}/members/{_q(login)}")
        except NotFound:
            return False
        except Forbidden as exc:
            raise DomainError(_refusal(exc, f"read the members of {org}")) from None
        return True

    async def login_by_email(self, org: str, email: str) -> str | None:
        """The one account whose public, verified email is `email`, if there is exactly one."""
        try:
            body = await self.http(org).get(
                "/search/users", {"q": f"{email} in:email type:user", "per_page": "5"}
            )
        except Forbidden as exc:
            raise DomainError(_refusal(exc, "search users")) from None
        items = body.get("items") if isinstance(body, dict) else None
        logins = [str(i["login"]) for i in items or () if isinstance(i, dict) and i.get("login")]
        return logins[0] if len(logins) == 1 else None

    # -- writes ---------------------------------------------------------------------------------
    async def set_membership(self, org: str, slug: str, login: str, role: str) -> dict[str, Any]:
        path = f"/orgs/{_q(org)}/teams/{_q(slug)}/memberships/{_q(login)}"
        try:
            found = await self.http(org).request("PUT", path, json={"role": role})
        except Forbidden as exc:
            raise DomainError(_refusal(exc, f"change the members of {org}/{slug}")) from None
        return found if isinstance(found, dict) else {}

    async def remove_membership(self, org: str, slug: str, login: str) -> None:
        path = f"/orgs/{_q(org)}/teams/{_q(slug)}/memberships/{_q(login)}"
        try:
            await self.http(org).request("DELETE", path)
        except NotFound:
            return  # not in the team (any more): what we wanted
        except Forbidden as exc:
            raise DomainError(_refusal(exc, f"change the members of {org}/{slug}")) from None

    # -- checks ---------------------------------------------------------------------------------
    async def verify(self, org: str) -> Verification:
        """A live call in `org` with these credentials: the app's installation token is bought,
        or the token is used, to read the organization's teams' access."""
        http = self.http(org)
        try:
            await http.get(f"/orgs/{_q(org)}/members", {"per_page": "1"})
        except NotFound:
            return Verification(False, f"GitHub has no organization {org} these credentials see.")
        except Forbidden as exc:
            return Verification(False, _refusal(exc, f"read the members of {org}"))
        if self._app is not None and self._app.permissions.get("members") != "write":
            held = self._app.permissions.get("members", "none")
            return Verification(
                False,
                f"The GitHub App's installation on {org} holds the organization permission "
                f"Members: {held}; grants need Members: read and write (members=write). Change it "
                "in the app's settings and approve the change in the organization.",
            )
        who = "The GitHub App's installation" if self.kind == "app" else "The token"
        return Verification(
            True,
            f"{who} reads {org}'s members; changing team members needs {NEEDS}.",
            ("team members",),
        )


def _q(part: str) -> str:
    return quote(part, safe="")


def _refusal(exc: ProviderError, doing: str) -> str:
    message = exc.facts.get("message", "")
    if "synchroniz" in message.lower():
        return (
            f"GitHub refused to {doing} (403): the team is synchronized with an identity "
            "provider, so its members are changed there."
        )
    if exc.facts.get("permissions"):
        return (
            f"GitHub refused to {doing} (403): the credentials lack the permission "
            f"{exc.facts['permissions']} (GitHub's X-Accepted-GitHub-Permissions)."
        )
    if exc.facts.get("scopes"):
        return (
            f"GitHub refused to {doing} (403): the token lacks one of the scopes "
            f"{exc.facts['scopes']}."
        )
    return f"GitHub refused to {doing} (403): {NEEDS}."


__all__ = ["API_URL", "GitHubClient"]
