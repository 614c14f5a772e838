"""A stateful fake of Okta's management API on 127.0.0.1, built from Okta's published OpenAPI
description (tests/reference/okta/okta-management-subset.yaml; its responses are checked
against it in tests/adapters/okta/test_spec_conformance.py).

Real behaviours kept: `SSWS` API tokens acting with their admin's role (403 `E0000006` without
one that may do it), OAuth service apps signing in at `/oauth2/v1/token` with a private-key JWT
(`invalid_client`, `invalid_scope`, `invalid_dpop_proof` when the app requires DPoP) whose
tokens carry the granted scopes (403 with `WWW-Authenticate: … error="insufficient_scope"`
naming the scope the operation needs, as in the description's `security`), users by id, login
or login shortname, `search=profile.email eq "…"` and `search=profile.name eq "…"`, listings
paged with `limit`/`after` and `Link: <…>; rel="next"`, memberships changed with PUT and DELETE
(204) on `OKTA_GROUP` groups, and 429 `E0000047` with `X-Rate-Limit-Limit`, `-Remaining` and
`-Reset` (epoch seconds).
"""

from __future__ import annotations

import random
import re
import secrets
import string
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization

from tests.fakes.pagerduty.harness import FakeServer

STAMP = "2026-01-05T10:11:28.000Z"
# An API token's admin role, and what it allows (the Okta admin roles, reduced to these calls).
ROLES = {
    "SUPER_ADMIN": {"read", "manage"},
    "GROUP_MEMBERSHIP_ADMIN": {"read", "manage"},
    "READ_ONLY_ADMIN": {"read"},
    "NONE": set(),
}
ALLOWS = web.RequestKey("allows", set)  # what an API token's admin role allows
SCOPES = web.RequestKey("scopes", object)  # a service app token's scopes; None for API tokens


def okta_id(prefix: str) -> str:
    return prefix + "".join(random.choices(string.ascii_letters + string.digits, k=17))


@dataclass
class User:
    id: str
    login: str
    email: str
    first: str = "Test"
    last: str = "User"


@dataclass
class Group:
    id: str
    name: str
    type: str = "OKTA_GROUP"
    members: set[str] = field(default_factory=set)


@dataclass
class ServiceApp:
    client_id: str
    public_key: Any
    scopes: set[str]
    key_id: str = ""
    requires_dpop: bool = False


class FakeOkta(FakeServer):
    def __init__(self, *, page_max: int = 200, **kw: Any) -> None:
        super().__init__(**kw)
        self.api_tokens: dict[str, str] = {}  # token -> its admin's role
        self.apps: dict[str, ServiceApp] = {}
        self.access_tokens: dict[str, set[str]] = {}  # issued bearer token -> scopes
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.page_max = page_max
        self.changes: list[tuple[str, str, str]] = []  # (added|removed, group id, user id)

    # -- seeding ----------------------------------------------------------------------------
    def add_token(self, role: str = "GROUP_MEMBERSHIP_ADMIN") -> str:
        token = "00" + secrets.token_urlsafe(30)
        self.api_tokens[token] = role
        return token

    def add_app(
        self, public_key_pem: str, scopes: Iterable[str], *, key_id: str = "", dpop: bool = False
    ) -> ServiceApp:
        key = serialization.load_pem_public_key(public_key_pem.encode())
        app = ServiceApp("0oa" + okta_id("")[:17], key, set(scopes), key_id, dpop)
        self.apps[app.client_id] = app
        return app

    def add_user(self, login: str, email: str | None = None) -> User:
        user = User(okta_id("00u"), login, email or login)
        self.users[user.id] = user
        return user

    def add_group(self, name: str, members: Iterable[User] = (), kind: str = "OKTA_GROUP") -> Group:
        group = Group(okta_id("00g"), name, kind, {u.id for u in members})
        self.groups[group.id] = group
        return group

    # -- protocol ---------------------------------------------------------------------------
    def error(self, status: int, message: str) -> web.Response:
        code, summary = {
            400: ("E0000001", "Api validation failed"),
            401: ("E0000011", "Invalid token provided"),
            403: ("E0000006", "You do not have permission to perform the requested action"),
            404: ("E0000007", f"Not found: {message}"),
            429: ("E0000047", "API call exceeded rate limit due to too many requests."),
        }.get(status, ("E0000009", "Internal Server Error"))
        return self.okta_error(status, code, summary)

    @staticmethod
    def okta_error(status: int, code: str, summary: str) -> web.Response:
        body = {
            "errorCode": code,
            "errorSummary": summary,
            "errorLink": code,
            "errorId": "oae" + secrets.token_hex(10),
            "errorCauses": [],
        }
        return web.json_response(body, status=status)

    def throttle_headers(self, reset: float) -> dict[str, str]:
        limit = self.rate_limit[0] if self.rate_limit else 600
        return {
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Reset": str(int(time.time() + max(1.0, reset))),
        }

    def authenticate(self, request: web.Request) -> web.Response | None:
        if request.path == "/oauth2/v1/token":
            return None
        header = request.headers.get("Authorization", "")
        if header.startswith("SSWS ") and header[5:] in self.api_tokens:
            request[ALLOWS] = ROLES[self.api_tokens[header[5:]]]
            request[SCOPES] = None
            return None
        if header.startswith("Bearer ") and header[7:] in self.access_tokens:
            request[SCOPES] = self.access_tokens[header[7:]]
            return None
        return self.error(401, "")

    def may(self, request: web.Request, scope: str, also: str = "") -> web.Response | None:
        """The description's `security` for the operation: the scope (a service app) or an
        admin role that allows it (an API token)."""
        scopes = request[SCOPES]
        if scopes is None:
            need = "manage" if scope.endswith(".manage") else "read"
            return None if need in request[ALLOWS] else self.error(403, "")
        if scope in scopes or (also and also in scopes):
            return None
        response = self.error(403, "")
        response.headers["WWW-Authenticate"] = (
            f'Bearer authorization_uri="{self.url}/oauth2/v1/authorize", realm="{self.url}", '
            f'scope="{scope}", error="insufficient_scope", error_description="The access token '
            f'provided does not contain the required scopes.", resource="{request.path}"'
        )
        return response

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/oauth2/v1/token", self.token)
        app.router.add_get("/api/v1/users", self.list_users)
        app.router.add_get("/api/v1/users/{id}", self.get_user)
        app.router.add_get("/api/v1/users/{id}/groups", self.list_user_groups)
        app.router.add_get("/api/v1/groups", self.list_groups)
        app.router.add_get("/api/v1/groups/{groupId}", self.get_group)
        app.router.add_put("/api/v1/groups/{groupId}/users/{userId}", self.assign)
        app.router.add_delete("/api/v1/groups/{groupId}/users/{userId}", self.unassign)

    # -- token endpoint ---------------------------------------------------------------------
    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()

        def oauth_error(error: str, text: str, status: int = 400) -> web.Response:
            return web.json_response({"error": error, "error_description": text}, status=status)

        if form.get("grant_type") != "client_credentials":
            return oauth_error("unsupported_grant_type", "The grant type is not supported.")
        assertion = str(form.get("client_assertion") or "")
        try:
            client_id = str(jwt.decode(assertion, options={"verify_signature": False})["sub"])
        except (jwt.PyJWTError, KeyError):
            return oauth_error("invalid_client", "The client_assertion is invalid.", 401)
        app = self.apps.get(client_id)
        if app is None:
            return oauth_error("invalid_client", "The client_id is invalid.", 401)
        try:
            claims = jwt.decode(
                assertion,
                app.public_key,
                algorithms=["RS256"],
                audience=f"{self.url}/oauth2/v1/token",
            )
        except jwt.PyJWTError:
            return oauth_error("invalid_client", "The client_assertion signature is invalid.", 401)
        if claims.get("iss") != client_id or (
            app.key_id and jwt.get_unverified_header(assertion).get("kid") != app.key_id
        ):
            return oauth_error("invalid_client", "The client_assertion is invalid.", 401)
        if app.requires_dpop and "DPoP" not in request.headers:
            return oauth_error("invalid_dpop_proof", "The DPoP proof JWT header is missing.")
        wanted = set(str(form.get("scope") or "").split())
        if not wanted or not wanted <= app.scopes:
            return oauth_error(
                "invalid_scope",
                "One or more scopes are not configured for the authorization server resource.",
            )
        token = secrets.token_urlsafe(40)
        self.access_tokens[token] = wanted
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": 3600,
                "access_token": token,
                "scope": " ".join(sorted(wanted)),
            }
        )

    # -- renderers --------------------------------------------------------------------------
    def user(self, u: User) -> dict[str, Any]:
        return {
            "id": u.id,
            "status": "ACTIVE",
            "created": STAMP,
            "activated": STAMP,
            "statusChanged": STAMP,
            "lastLogin": None,
            "lastUpdated": STAMP,
            "passwordChanged": STAMP,
            "type": {"id": "oty1a2b3c4d5e6f7g8h9"},
            "profile": {
                "login": u.login,
                "email": u.email,
                "firstName": u.first,
                "lastName": u.last,
            },
            "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
            "_links": {"self": {"href": f"{self.url}/api/v1/users/{u.id}"}},
        }

    def group(self, g: Group) -> dict[str, Any]:
        return {
            "id": g.id,
            "created": STAMP,
            "lastUpdated": STAMP,
            "lastMembershipUpdated": STAMP,
            "objectClass": ["okta:user_group"],
            "type": g.type,
            "profile": {"name": g.name, "description": ""},
            "_links": {
                "users": {"href": f"{self.url}/api/v1/groups/{g.id}/users"},
                "apps": {"href": f"{self.url}/api/v1/groups/{g.id}/apps"},
            },
        }

    def paged(self, request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        limit = min(int(request.query.get("limit", "200")), self.page_max)
        after = request.query.get("after")
        start = 0
        if after:
            start = next((i + 1 for i, item in enumerate(items) if item["id"] == after), len(items))
        page = items[start : start + limit]
        response = web.json_response(page)
        links = [f'<{self.url}{request.path_qs}>; rel="self"']
        if start + limit < len(items):
            query = {k: v for k, v in request.query.items() if k != "after"}
            query["after"] = page[-1]["id"]
            links.append(f'<{self.url}{request.path}?{urlencode(query)}>; rel="next"')
        response.headers["Link"] = ", ".join(links)
        return response

    # -- users ------------------------------------------------------------------------------
    def _find_user(self, ident: str) -> User | None:
        if ident in self.users:
            return self.users[ident]
        by_login = [u for u in self.users.values() if u.login.lower() == ident.lower()]
        if by_login:
            return by_login[0]
        short = [u for u in self.users.values() if u.login.split("@")[0].lower() == ident.lower()]
        return short[0] if len(short) == 1 else None

    async def get_user(self, request: web.Request) -> web.Response:
        denied = self.may(request, "okta.users.read", "okta.users.manage")
        if denied:
            return denied
        user = self._find_user(request.match_info["id"])
        if user is None:
            return self.error(404, f"User (id: {request.match_info['id']})")
        return web.json_response(self.user(user))

    async def list_users(self, request: web.Request) -> web.Response:
        denied = self.may(request, "okta.users.read", "okta.users.manage")
        if denied:
            return denied
        users = sorted(self.users.values(), key=lambda u: u.id)
        search = request.query.get("search")
        if search:
            match = re.fullmatch(r'profile\.email eq "([^"\\]*)"', search)
            if not match:
                return self.error(400, "")
            users = [u for u in users if u.email.lower() == match.group(1).lower()]
        return self.paged(request, [self.user(u) for u in users])

    async def list_user_groups(self, request: web.Request) -> web.Response:
        denied = self.may(request, "okta.users.read", "okta.users.manage")
        if denied:
            return denied
        user = self._find_user(request.match_info["id"])
        if user is None:
            return self.error(404, f"User (id: {request.match_info['id']})")
        groups = sorted(
            (g for g in self.groups.values() if user.id in g.members), key=lambda g: g.id
        )
        return web.json_response([self.group(g) for g in groups])

    # -- groups -----------------------------------------------------------------------------
    async def list_groups(self, request: web.Request) -> web.Response:
        denied = self.may(request, "okta.groups.read", "okta.groups.manage")
        if denied:
            return denied
        groups = sorted(self.groups.values(), key=lambda g: g.id)
        search = request.query.get("search")
        if search:
            match = re.fullmatch(r'profile\.name eq "([^"\\]*)"', search)
            if not match:
                return self.error(400, "")
            groups = [g for g in groups if g.name == match.group(1)]
        return self.paged(request, [self.group(g) for g in groups])

    async def get_group(self, request: web.Request) -> web.Response:
        denied = self.may(request, "okta.groups.read", "okta.groups.manage")
        if denied:
            return denied
        group = self.groups.get(request.match_info["groupId"])
        if group is None:
            return self.error(404, f"Group (id: {request.match_info['groupId']})")
        return web.json_response(self.group(group))

    def _membership(self, request: web.Request) -> tuple[Group, User] | web.Response:
        denied = self.may(request, "okta.groups.manage")
        if denied:
            return denied
        group = self.groups.get(request.match_info["groupId"])
        user = self.users.get(request.match_info["userId"])
        if group is None or user is None:
            return self.error(404, "Group or user")
        if group.type != "OKTA_GROUP":
            return self.error(403, "")
        return group, user

    async def assign(self, request: web.Request) -> web.Response:
        found = self._membership(request)
        if isinstance(found, web.Response):
            return found
        group, user = found
        if user.id not in group.members:
            group.members.add(user.id)
            self.changes.append(("added", group.id, user.id))
        return web.Response(status=204)

    async def unassign(self, request: web.Request) -> web.Response:
        found = self._membership(request)
        if isinstance(found, web.Response):
            return found
        group, user = found
        if user.id in group.members:
            group.members.discard(user.id)
            self.changes.append(("removed", group.id, user.id))
        return web.Response(status=204)
