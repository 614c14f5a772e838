"""A stateful fake of Microsoft Entra ID's token endpoint and Microsoft Graph v1.0 on 127.0.0.1.

Shapes follow Microsoft's documentation (see tests/reference/graph/README.md): the v2.0 token
endpoint with client secret or certificate assertion (`client_assertion`, RS256, `x5t#S256`,
audience = the token URL) and its `error` / `error_codes` answers; access tokens whose `roles`
claim lists the app's application permissions; `GET /v1.0/users` with a `$filter` of
`userPrincipalName eq '…' or mail eq '…'` (values compared case-insensitively, `''` for a quote);
`GET /v1.0/users/{id}/memberOf/microsoft.graph.group` paged with `@odata.nextLink` (absolute,
with `$skiptoken`); `GET /v1.0/groups/{id}`; `POST /v1.0/groups/{id}/members/$ref` (204; 400 when
already a member); `DELETE /v1.0/groups/{id}/members/{user}/$ref` (204; 404 when not a member);
403 `Authorization_RequestDenied` without the permission (role-assignable groups also need
RoleManagement.ReadWrite.Directory); 429 `TooManyRequests` with `Retry-After`. A `rate_limit`
counts the Graph writes only (POST, PATCH, PUT, DELETE under /v1.0), as Graph's identity and
access write quota does.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.fakes.pagerduty.harness import FakeServer

SIGNING_KEY = "fake-graph-token-signing-key-0123456789"
READ_USERS = {"User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All"}
READ_USERS |= {"Directory.ReadWrite.All"}
READ_GROUPS = {"GroupMember.Read.All", "GroupMember.ReadWrite.All", "Group.Read.All"}
READ_GROUPS |= {"Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
WRITE_MEMBERS = {"GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"}
ROLE_ASSIGNABLE = "RoleManagement.ReadWrite.Directory"
ROLES = web.RequestKey("roles", set)  # the calling app's application permissions


@dataclass
class App:
    tenant: str
    client_id: str
    secret: str = ""
    certificate_der: bytes = b""
    public_key: Any = None
    roles: set[str] = field(default_factory=set)


@dataclass
class User:
    id: str
    upn: str
    mail: str | None = None


@dataclass
class Group:
    id: str
    name: str
    members: set[str] = field(default_factory=set)
    dynamic: bool = False
    role_assignable: bool = False
    on_premises: bool = False


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeGraph(FakeServer):
    def __init__(self, *, page_max: int = 100, **kw: Any) -> None:
        super().__init__(**kw)
        self.apps: dict[str, App] = {}
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.page_max = page_max
        self.changes: list[tuple[str, str, str]] = []  # (added|removed, group id, user id)
        self.tokens_issued = 0

    # -- seeding ----------------------------------------------------------------------------
    def add_app(
        self,
        tenant: str,
        client_id: str,
        *,
        secret: str = "",
        certificate_pem: str = "",
        roles: Iterable[str] = ("GroupMember.ReadWrite.All", "User.Read.All"),
    ) -> App:
        app = App(tenant, client_id, secret, roles=set(roles))
        if certificate_pem:
            cert = x509.load_pem_x509_certificate(certificate_pem.encode())
            app.certificate_der = cert.public_bytes(serialization.Encoding.DER)
            app.public_key = cert.public_key()
        self.apps[client_id] = app
        return app

    def add_user(self, upn: str, mail: str | None = None) -> User:
        user = User(str(uuid.uuid4()), upn, mail if mail is not None else upn)
        self.users[user.id] = user
        return user

    def add_group(self, name: str, members: Iterable[User] = (), **kw: Any) -> Group:
        group = Group(str(uuid.uuid4()), name, {u.id for u in members}, **kw)
        self.groups[group.id] = group
        return group

    def member_of(self, user: User, *names: str) -> None:
        """Make `user` a member of many other groups at once (to exercise paging)."""
        for name in names:
            self.add_group(name, [user])

    # -- protocol ---------------------------------------------------------------------------
    def error(self, status: int, message: str) -> web.Response:
        code = {
            400: "Request_BadRequest",
            401: "InvalidAuthenticationToken",
            403: "Authorization_RequestDenied",
            404: "Request_ResourceNotFound",
            429: "TooManyRequests",
        }.get(status, "generalException" if status >= 500 else "BadRequest")
        return self.graph_error(status, code, message)

    @staticmethod
    def graph_error(status: int, code: str, message: str) -> web.Response:
        body = {
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": str(uuid.uuid4()),
                    "client-request-id": str(uuid.uuid4()),
                },
            }
        }
        return web.json_response(body, status=status)

    def throttle_headers(self, reset: float) -> dict[str, str]:
        return {"Retry-After": str(max(1, round(reset)))}

    def limited(self, request: web.Request) -> bool:
        return request.method not in ("GET", "HEAD", "OPTIONS") and request.path.startswith(
            "/v1.0/"
        )

    def authenticate(self, request: web.Request) -> web.Response | None:
        if request.path.endswith("/oauth2/v2.0/token"):
            return None
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return self.graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
        try:
            claims = jwt.decode(
                header[7:],
                SIGNING_KEY,
                algorithms=["HS256"],
                audience="https://graph.microsoft.com",
            )
        except jwt.ExpiredSignatureError:
            return self.graph_error(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            )
        except jwt.PyJWTError:
            return self.graph_error(
                401, "InvalidAuthenticationToken", "Access token validation failure."
            )
        app = self.apps.get(str(claims.get("appid")))
        request[ROLES] = app.roles if app else set()
        return None

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self.token)
        app.router.add_get("/v1.0/users", self.list_users)
        app.router.add_get("/v1.0/users/{id}/memberOf/microsoft.graph.group", self.member_of_page)
        app.router.add_get("/v1.0/groups/{id}", self.get_group)
        app.router.add_post("/v1.0/groups/{id}/members/$ref", self.add_member_ref)
        app.router.add_delete("/v1.0/groups/{id}/members/{user}/$ref", self.remove_member_ref)

    # -- token endpoint ---------------------------------------------------------------------
    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        tenant = request.match_info["tenant"]
        client_id = str(form.get("client_id") or "")
        app = self.apps.get(client_id)
        if not any(a.tenant == tenant for a in self.apps.values()):
            return self._login_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        if app is None or app.tenant != tenant:
            return self._login_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory.",
            )
        if form.get("grant_type") != "client_credentials" or form.get("scope") != (
            "https://graph.microsoft.com/.default"
        ):
            return self._login_error(400, "invalid_request", 900144, "Bad grant_type or scope.")
        if "client_assertion" in form:
            problem = self._check_assertion(app, str(form["client_assertion"]), request)
            if problem:
                return self._login_error(401, "invalid_client", 700027, problem)
        elif not app.secret or form.get("client_secret") != app.secret:
            return self._login_error(
                401, "invalid_client", 7000215, "Invalid client secret provided."
            )
        now = int(time.time())
        token = jwt.encode(
            {
                "aud": "https://graph.microsoft.com",
                "iss": f"https://sts.windows.net/{tenant}/",
                "tid": tenant,
                "appid": client_id,
                "roles": sorted(app.roles),
                "iat": now,
                "nbf": now,
                "exp": now + 3599,
            },
            SIGNING_KEY,
            algorithm="HS256",
        )
        self.tokens_issued += 1
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": token,
            }
        )

    def _check_assertion(self, app: App, assertion: str, request: web.Request) -> str | None:
        if app.public_key is None:
            return "The app has no certificate."
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(
                assertion,
                app.public_key,
                algorithms=["RS256"],
                audience=f"{self.url}{request.path}",
            )
        except jwt.PyJWTError as exc:
            return f"Client assertion failed signature validation ({type(exc).__name__})."
        thumb = _b64url(hashlib.sha256(app.certificate_der).digest())
        if header.get("x5t#S256") != thumb:
            return "The certificate with identifier used to sign the client assertion is not registered."
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            return "The client assertion's iss and sub must be the client id."
        return None

    def _login_error(self, status: int, error: str, code: int, text: str) -> web.Response:
        trace = str(uuid.uuid4())
        return web.json_response(
            {
                "error": error,
                "error_description": f"AADSTS{code}: {text} Trace ID: {trace}",
                "error_codes": [code],
                "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ"),
                "trace_id": trace,
                "correlation_id": str(uuid.uuid4()),
            },
            status=status,
        )

    # -- Graph ------------------------------------------------------------------------------
    def _denied(self, request: web.Request, allowed: set[str]) -> web.Response | None:
        if request[ROLES] & allowed:
            return None
        return self.graph_error(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )

    async def list_users(self, request: web.Request) -> web.Response:
        denied = self._denied(request, READ_USERS)
        if denied:
            return denied
        wanted = _parse_filter(request.query.get("$filter", ""))
        if wanted is None:
            return self.graph_error(400, "Request_UnsupportedQuery", "Unsupported query.")
        found = [
            u
            for u in self.users.values()
            if any(
                (getattr(u, prop) or "").casefold() == value.casefold() for prop, value in wanted
            )
        ]
        return web.json_response(
            {
                "@odata.context": f"{self.url}/v1.0/$metadata#users(id,userPrincipalName,mail,accountEnabled)",
                "value": [
                    {"id": u.id, "userPrincipalName": u.upn, "mail": u.mail, "accountEnabled": True}
                    for u in found
                ],
            }
        )

    async def member_of_page(self, request: web.Request) -> web.Response:
        denied = self._denied(request, READ_GROUPS)
        if denied:
            return denied
        user_id = request.match_info["id"]
        if user_id not in self.users:
            return self.graph_error(
                404,
                "Request_ResourceNotFound",
                f"Resource '{user_id}' does not exist or one of its queried reference-property "
                "objects are not present.",
            )
        top = min(int(request.query.get("$top", "100")), 999, self.page_max)
        skip = int(request.query.get("$skiptoken", "0"))
        groups = sorted(
            (g for g in self.groups.values() if user_id in g.members), key=lambda g: g.id
        )
        page = groups[skip : skip + top]
        body: dict[str, Any] = {
            "@odata.context": f"{self.url}/v1.0/$metadata#groups(id)",
            "value": [{"@odata.type": "#microsoft.graph.group", "id": g.id} for g in page],
        }
        if skip + top < len(groups):
            body["@odata.nextLink"] = (
                f"{self.url}/v1.0/users/{user_id}/memberOf/microsoft.graph.group"
                f"?$select=id&$top={top}&$skiptoken={skip + top}"
            )
        return web.json_response(body)

    def _group(self, group_id: str) -> Group | None:
        return self.groups.get(group_id)

    async def get_group(self, request: web.Request) -> web.Response:
        denied = self._denied(request, READ_GROUPS)
        if denied:
            return denied
        g = self._group(request.match_info["id"])
        if g is None:
            return self.error(404, f"Resource '{request.match_info['id']}' does not exist.")
        return web.json_response(
            {
                "@odata.context": f"{self.url}/v1.0/$metadata#groups/$entity",
                "id": g.id,
                "displayName": g.name,
                "groupTypes": ["DynamicMembership"] if g.dynamic else [],
                "membershipRule": 'user.department -eq "SRE"' if g.dynamic else None,
                "isAssignableToRole": g.role_assignable,
                "onPremisesSyncEnabled": True if g.on_premises else None,
                "securityEnabled": True,
                "mailEnabled": False,
            }
        )

    def _write_denied(self, request: web.Request, g: Group) -> web.Response | None:
        denied = self._denied(request, WRITE_MEMBERS)
        if denied is None and g.role_assignable and ROLE_ASSIGNABLE not in request[ROLES]:
            denied = self.error(403, "Insufficient privileges to complete the operation.")
        return denied

    async def add_member_ref(self, request: web.Request) -> web.Response:
        g = self._group(request.match_info["id"])
        if g is None:
            return self.error(404, f"Resource '{request.match_info['id']}' does not exist.")
        denied = self._write_denied(request, g)
        if denied:
            return denied
        body = await request.json()
        ref = str(body.get("@odata.id") or "") if isinstance(body, dict) else ""
        prefix = f"{self.url}/v1.0/directoryObjects/"
        user_id = ref[len(prefix) :] if ref.startswith(prefix) else ""
        if user_id not in self.users:
            return self.error(
                400 if not user_id else 404,
                "Invalid object identifier."
                if not user_id
                else f"Resource '{user_id}' does not exist.",
            )
        if g.dynamic or g.on_premises:
            return self.error(400, "Insufficient privileges to complete the write operation.")
        if user_id in g.members:
            return self.error(
                400,
                "One or more added object references already exist for the following modified "
                "properties: 'members'.",
            )
        g.members.add(user_id)
        self.changes.append(("added", g.id, user_id))
        return web.Response(status=204)

    async def remove_member_ref(self, request: web.Request) -> web.Response:
        g = self._group(request.match_info["id"])
        if g is None:
            return self.error(404, f"Resource '{request.match_info['id']}' does not exist.")
        denied = self._write_denied(request, g)
        if denied:
            return denied
        user_id = request.match_info["user"]
        if user_id not in g.members:
            return self.error(
                404,
                f"Resource '{user_id}' does not exist or one of its queried "
                "reference-property objects are not present.",
            )
        g.members.discard(user_id)
        self.changes.append(("removed", g.id, user_id))
        return web.Response(status=204)


def _parse_filter(text: str) -> list[tuple[str, str]] | None:
    """`prop eq 'value'` clauses joined by ` or `, for userPrincipalName and mail only."""
    names = {"userPrincipalName": "upn", "mail": "mail"}
    clauses: list[tuple[str, str]] = []
    rest = text.strip()
    while rest:
        prop, _, rest = rest.partition(" eq '")
        if prop not in names:
            return None
        value = []
        i = 0
        while i < len(rest):
            if rest[i] == "'":
                if rest[i + 1 : i + 2] == "'":
                    value.append("'")
                    i += 2
                    continue
                break
            value.append(rest[i])
            i += 1
        else:
            return None
        clauses.append((names[prop], "".join(value)))
        rest = rest[i + 1 :].strip()
        if rest and not rest.startswith("or "):
            return None
        rest = rest[3:] if rest else rest
    return clauses or None
