"""Okta's management API, the calls that give and take back a group membership.

Two ways in, as Okta offers them: an API token (`Authorization: SSWS …`, acting with the roles of
the admin who made it), or an OAuth 2.0 service app signing in with client credentials and a
private-key JWT (`okta.groups.manage okta.users.read`). Paths, scopes and error bodies follow
Okta's published OpenAPI description (tests/reference/okta). A 429 carries `X-Rate-Limit-Reset`
(epoch seconds), which is waited for; a 403 names the scope (from `WWW-Authenticate`) or the
admin role that is missing.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives import serialization

from adapters.providerhttp import (
    Forbidden,
    NotFound,
    ProviderError,
    ProviderHTTP,
    RetryPolicy,
    StaticAuth,
)
from adapters.providerhttp.client import Auth
from adapters.providerhttp.heldroles import Gone
from adapters.providerhttp.limiter import MonotonicClock, Sleep
from adapters.providerhttp.tokens import BearerTokenAuth, Token
from core.errors import DomainError
from core.ports import Verification

NAME = "Okta"
SCOPES = ("okta.groups.manage", "okta.users.read")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_PAGES = 1000
GROUP_ID = re.compile(r"^00g[0-9A-Za-z]{17}$")
ADMIN_ROLE = (
    "the admin who made the API token needs the Group Membership Administrator role (or Super "
    "or Org Administrator) for this group"
)


def org_url(url: str) -> str:
    """`https://acme.okta.com` from what an admin typed (`acme.okta.com`, with a path, ...)."""
    text = url.strip()
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    if not parts.hostname:
        raise DomainError("The Okta org URL must look like https://acme.okta.com.")
    if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise DomainError("The Okta org URL must be https (plain http only to this machine).")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def _okta_facts(response: httpx.Response) -> dict[str, str]:
    facts: dict[str, str] = {}
    challenge = response.headers.get("www-authenticate", "")
    scope = re.search(r'scope="([^"]*)"', challenge)
    if scope:
        facts["scope"] = scope.group(1)
    try:
        body = response.json()
    except ValueError:
        return facts
    if isinstance(body, dict):
        for key in ("errorCode", "error"):
            if body.get(key):
                facts[key] = str(body[key])
    return facts


def _okta_wait(response: httpx.Response) -> float | None:
    """Okta's 429 says when its window resets, in epoch seconds (`X-Rate-Limit-Reset`)."""
    if response.status_code != 429:
        return None
    reset = response.headers.get("x-rate-limit-reset")
    try:
        return max(1.0, float(reset) - time.time()) if reset else None
    except ValueError:
        return None


class OktaClient:
    """One Okta org, reached with an API token or a service app."""

    def __init__(
        self,
        *,
        org: str,
        api_token: str = "",
        client_id: str = "",
        private_key: str = "",
        key_id: str = "",
        retry: RetryPolicy | None = None,
        clock: MonotonicClock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_concurrency: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.org = org_url(org)
        http: dict[str, Any] = {"retry": retry, "clock": clock, "sleep": sleep}
        if transport is not None:
            http["transport"] = transport
        self.granted_scopes: frozenset[str] | None = None  # known for a service app only
        auth: Auth
        if api_token:
            auth = StaticAuth(f"SSWS {api_token}")
            self.kind = "api_token"
        elif client_id and private_key:
            self._client_id, self._key_id = client_id, key_id
            try:
                self._key = serialization.load_pem_private_key(private_key.encode(), None)
            except ValueError:
                raise DomainError(
                    "The service app's private key must be an unencrypted PEM key."
                ) from None
            auth = BearerTokenAuth(self._token, clock=clock)
            self.kind = "service_app"
        else:
            raise DomainError("Okta needs an API token, or a service app's client id and key.")
        self.auth = auth
        self.http = ProviderHTTP(
            NAME,
            self.org,
            auth=auth,
            headers={"Accept": "application/json"},
            max_concurrency=max_concurrency,
            throttle_hint=_okta_wait,
            error_facts=_okta_facts,
            **http,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _token(self) -> Token:
        url = f"{self.org}/oauth2/v1/token"
        now = int(time.time())
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": url,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        headers = {"kid": self._key_id} if self._key_id else None
        assertion = jwt.encode(claims, self._key, algorithm="RS256", headers=headers)  # type: ignore[arg-type]
        form = {
            "grant_type": "client_credentials",
            "scope": " ".join(SCOPES),
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }
        try:
            body = await self.http.request("POST", "/oauth2/v1/token", data=form, authorize=False)
        except ProviderError as exc:
            raise DomainError(_login_refusal(exc)) from None
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise DomainError("Okta answered the sign-in without a token.")
        self.granted_scopes = frozenset(str(body.get("scope") or "").split())
        return Token(body["access_token"], float(body.get("expires_in") or 3600))

    # -- reads ----------------------------------------------------------------------------------
    async def user(self, email: str) -> dict[str, Any]:
        """The user whose login is `email`, else the one whose primary email is."""
        if '"' in email or "\\" in email:
            raise DomainError(f"Okta users cannot be looked up by {email!r}.")
        try:
            found = await self._get(f"/api/v1/users/{quote(email, safe='@')}", None, "read users")
        except NotFound:
            found = None
        if isinstance(found, dict) and found.get("id"):
            return found
        users = await self._pages(
            "/api/v1/users", {"search": f'profile.email eq "{email}"', "limit": "200"}, "read users"
        )
        if not users:
            raise DomainError(f"Okta has no user whose login or primary email is {email}.")
        if len(users) > 1:
            raise DomainError(f"Okta has {len(users)} users whose primary email is {email}.")
        return users[0]

    async def group(self, ref: str) -> dict[str, Any]:
        """A group by id (`00g…`) or by its exact name."""
        if GROUP_ID.match(ref):
            try:
                found = await self._get(f"/api/v1/groups/{ref}", None, "read groups")
            except NotFound:
                raise DomainError(f"Okta has no group with the id {ref}.") from None
            return found if isinstance(found, dict) else {}
        if '"' in ref or "\\" in ref:
            raise DomainError("An Okta group name cannot hold a quote or a backslash.")
        groups = await self._pages(
            "/api/v1/groups", {"search": f'profile.name eq "{ref}"', "limit": "200"}, "read groups"
        )
        named = [g for g in groups if (g.get("profile") or {}).get("name") == ref]
        if not named:
            raise DomainError(f"Okta has no group named '{ref}'.")
        if len(named) > 1:
            raise DomainError(f"Okta has {len(named)} groups named '{ref}'; give the group's id.")
        return named[0]

    async def groups_of(self, user_id: str) -> set[str]:
        """The ids of the groups the user is a member of."""
        try:
            groups = await self._pages(
                f"/api/v1/users/{quote(user_id, safe='')}/groups", None, "read users"
            )
        except NotFound:
            raise Gone(f"Okta has no user {user_id} any more.") from None
        return {str(g.get("id")) for g in groups}

    # -- writes ---------------------------------------------------------------------------------
    async def add_member(self, group: dict[str, Any], user_id: str) -> None:
        await self._membership("PUT", group, user_id)

    async def remove_member(self, group: dict[str, Any], user_id: str) -> None:
        try:
            await self._membership("DELETE", group, user_id)
        except NotFound:
            return  # the membership (or the user) is gone: nothing left to take back

    async def _membership(self, method: str, group: dict[str, Any], user_id: str) -> None:
        path = f"/api/v1/groups/{quote(str(group['id']), safe='')}/users/{quote(user_id, safe='')}"
        try:
            await self.http.request(method, path)
        except Forbidden as exc:
            name = (group.get("profile") or {}).get("name") or group["id"]
            raise DomainError(
                f"Okta refused to change the members of group {name} (403): {self._lacks(exc, 'okta.groups.manage')}."
            ) from None

    # -- checks ---------------------------------------------------------------------------------
    async def verify(self) -> Verification:
        """A live sign-in and two reads; the write itself is proven by the first grant, since
        Okta cannot say what an API token may change without changing something."""
        await self._get("/api/v1/users", {"limit": "1"}, "read users")
        await self._get("/api/v1/groups", {"limit": "1"}, "read groups")
        if self.granted_scopes is not None:
            missing = [s for s in SCOPES if s not in self.granted_scopes]
            if missing:
                return Verification(
                    False,
                    f"The service app signed in without the scope{'s' if len(missing) > 1 else ''} "
                    f"{' and '.join(missing)}: grant {'them' if len(missing) > 1 else 'it'} under "
                    "Okta API Scopes, and give the app the Group Membership Administrator role.",
                )
            return Verification(
                True,
                f"Signed in to {self.org} as service app {self._client_id} with "
                f"{' and '.join(SCOPES)}.",
                ("group members",),
            )
        return Verification(
            True,
            f"The API token reads users and groups at {self.org}; it changes group members if its "
            "admin holds the Group Membership Administrator role for the groups.",
            ("group members",),
        )

    async def _get(self, path: str, params: dict[str, str] | None, doing: str) -> Any:
        try:
            return await self.http.get(path, params)
        except Forbidden as exc:
            scope = "okta.users.read" if "users" in doing else "okta.groups.read"
            raise DomainError(
                f"Okta refused to {doing} (403): {self._lacks(exc, scope)}."
            ) from None

    async def _pages(
        self, path: str, params: dict[str, str] | None, doing: str
    ) -> list[dict[str, Any]]:
        """Every item of a listing, following `Link: <…>; rel="next"` as Okta pages."""
        items: list[dict[str, Any]] = []
        url: str | None = path
        for _ in range(MAX_PAGES):
            if url is None:
                return items
            try:
                body, url = await self.http.page(url, params)
            except Forbidden as exc:
                scope = "okta.users.read" if "users" in doing else "okta.groups.read"
                raise DomainError(
                    f"Okta refused to {doing} (403): {self._lacks(exc, scope)}."
                ) from None
            params = None
            if isinstance(body, list):
                items.extend(i for i in body if isinstance(i, dict))
        raise DomainError("Okta kept paging without end.")

    def _lacks(self, exc: ProviderError, scope: str) -> str:
        if self.kind == "service_app" or exc.facts.get("scope"):
            named = exc.facts.get("scope") or scope
            return f"the service app's token lacks the scope {named}"
        return (
            ADMIN_ROLE
            if "groups.manage" in scope
            else (
                "the admin who made the API token needs a role that may read users and groups "
                "(Read-only Administrator or more)"
            )
        )


def _login_refusal(exc: ProviderError) -> str:
    error = exc.facts.get("error", "")
    if error == "invalid_client":
        return (
            "Okta refused the service app's sign-in (invalid_client): check the client id, and "
            "that its public key (and key id) is registered with the app."
        )
    if error == "invalid_scope":
        return (
            "Okta refused the scopes okta.groups.manage and okta.users.read (invalid_scope): "
            "grant them to the service app under Okta API Scopes."
        )
    if error.startswith("invalid_dpop") or error == "use_dpop_nonce":
        return (
            "The Okta service app requires DPoP, which this bot does not send: turn off "
            '"Require Demonstrating Proof of Possession (DPoP) header" for it.'
        )
    if error:
        return f"Okta refused the service app's sign-in ({error})."
    return exc.message


__all__ = ["NAME", "SCOPES", "OktaClient", "org_url"]
