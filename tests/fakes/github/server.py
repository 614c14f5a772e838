"""A stateful fake of GitHub's REST API on 127.0.0.1, built from GitHub's published OpenAPI
description (tests/reference/github/api.github.com-teams-subset.json): objects are rendered from
the description's own examples with this fake's ids and names, and every answer is checked
against its schemas in tests/adapters/github/test_spec_conformance.py.

Real behaviours kept: bearer tokens (a personal access token, or an installation token) whose
holder may or may not change members, GitHub App JWTs (RS256, `iss` = app id, at most ten
minutes, `exp` after `iat`) that buy one-hour installation tokens (`POST
/app/installations/{id}/access_tokens`, 201) for an org where the app is installed (`GET
/orgs/{org}/installation`); team memberships with `role` member / maintainer and `state`; PUT
adding or changing a role (200), DELETE (204), GET (404 when not in the team); organization
owners reported as maintainers; a team synchronized with an identity provider refusing changes
(403); org membership checks (204 / 404); `/search/users` over public emails; 403 with
`X-Accepted-GitHub-Permissions` when the credentials lack the permission; rate limits as 403
with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` (epoch seconds). A `rate_limit` counts
content-creating requests only (POST, PUT, PATCH, DELETE; buying an installation token is not
one), as GitHub's secondary limit of 80 a minute does.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization

from tests.fakes.pagerduty.harness import FakeServer
from tests.reference_files import REFERENCE

DOCS = "https://docs.github.com/rest"
CALLER = web.RequestKey("caller", object)


@cache
def _examples() -> dict[str, Any]:
    doc = json.loads((REFERENCE / "github" / "api.github.com-teams-subset.json").read_text())
    return {k: v["value"] for k, v in doc["components"]["examples"].items()}


def example(name: str) -> Any:
    return copy.deepcopy(_examples()[name])


@dataclass
class Account:
    login: str
    id: int
    email: str | None = None  # public, verified


@dataclass
class Team:
    org: str
    slug: str
    name: str
    id: int
    members: dict[str, str] = field(default_factory=dict)  # login -> member | maintainer
    synced: bool = False
    invited: dict[str, str] = field(default_factory=dict)  # outsiders invited: login -> role


@dataclass
class Caller:
    """Who a bearer token speaks for: an owner may change any team; `permissions` is what an
    app installation or fine-grained token holds (`members`: read | write)."""

    members: str = "write"
    org: str | None = None


@dataclass
class App:
    app_id: str
    public_key: Any
    installations: dict[str, int] = field(default_factory=dict)  # org -> installation id
    members: str = "write"


class FakeGitHub(FakeServer):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.tokens: dict[str, Caller] = {}
        self.apps: dict[str, App] = {}
        self.accounts: dict[str, Account] = {}
        self.org_members: dict[str, dict[str, str]] = {}  # org -> login -> member | admin
        self.teams: dict[tuple[str, str], Team] = {}
        self.changes: list[tuple[str, str, str, str]] = []  # (op, org/slug, login, role)
        self.installation_tokens = 0
        self._next_id = 1000

    # -- seeding ----------------------------------------------------------------------------
    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_token(self, members: str = "write") -> str:
        token = "github_pat_" + secrets.token_urlsafe(30)
        self.tokens[token] = Caller(members)
        return token

    def add_app(self, public_key_pem: str, orgs: Iterable[str], members: str = "write") -> App:
        key = serialization.load_pem_public_key(public_key_pem.encode())
        app = App(str(self._id()), key, {org.lower(): self._id() for org in orgs}, members)
        self.apps[app.app_id] = app
        return app

    def add_account(self, login: str, email: str | None = None, org: str | None = None) -> Account:
        account = Account(login, self._id(), email)
        self.accounts[login.lower()] = account
        if org:
            self.org_members.setdefault(org.lower(), {})[login.lower()] = "member"
        return account

    def add_team(self, org: str, slug: str, name: str = "", **kw: Any) -> Team:
        team = Team(org, slug, name or slug, self._id(), **kw)
        self.teams[(org.lower(), slug.lower())] = team
        self.org_members.setdefault(org.lower(), {})
        return team

    # -- protocol ---------------------------------------------------------------------------
    def error(self, status: int, message: str) -> web.Response:
        text = {401: "Bad credentials", 404: "Not Found", 429: "API rate limit exceeded"}.get(
            status, message
        )
        return self.gh_error(status, text)

    @staticmethod
    def gh_error(status: int, message: str, **headers: str) -> web.Response:
        body = {"message": message, "documentation_url": DOCS, "status": str(status)}
        return web.json_response(body, status=status, headers=headers)

    def throttle_headers(self, reset: float) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.rate_limit[0] if self.rate_limit else 5000),
            "x-ratelimit-remaining": "0",
            "x-ratelimit-used": str(self.rate_limit[0] if self.rate_limit else 5000),
            "x-ratelimit-reset": str(int(time.time() + max(1.0, reset))),
            "x-ratelimit-resource": "core",
        }

    def limited(self, request: web.Request) -> bool:
        return request.method not in ("GET", "HEAD", "OPTIONS") and not request.path.startswith(
            "/app/"
        )

    def authenticate(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        if request.path.startswith("/app/") or request.path.endswith("/installation"):
            app = self._app_of(token)
            if app is None:
                return self.gh_error(401, "A JSON web token could not be decoded")
            request[CALLER] = app
            return None
        caller = self.tokens.get(token)
        if caller is None:
            return self.error(401, "")
        request[CALLER] = caller
        return None

    def _app_of(self, token: str) -> App | None:
        try:
            app_id = str(jwt.decode(token, options={"verify_signature": False})["iss"])
        except (jwt.PyJWTError, KeyError):
            return None
        app = self.apps.get(app_id)
        if app is None:
            return None
        try:
            claims = jwt.decode(token, app.public_key, algorithms=["RS256"], leeway=60)
        except jwt.PyJWTError:
            return None
        if int(claims["exp"]) - int(claims["iat"]) > 660:  # ten minutes, with the drift allowed
            return None
        return app

    def _needs(self, request: web.Request, level: str) -> web.Response | None:
        caller = request[CALLER]
        held = getattr(caller, "members", "")
        if level == "read" and held in ("read", "write"):
            return None
        if level == "write" and held == "write":
            return None
        return self.gh_error(
            403,
            "Resource not accessible by integration",
            **{"X-Accepted-GitHub-Permissions": f"members={level}"},
        )

    def routes(self, app: web.Application) -> None:
        app.router.add_post(
            "/app/installations/{installation_id}/access_tokens", self.installation_token
        )
        app.router.add_get("/orgs/{org}/installation", self.get_installation)
        app.router.add_get("/orgs/{org}/members", self.list_members)
        app.router.add_get("/orgs/{org}/members/{username}", self.check_member)
        app.router.add_get("/orgs/{org}/teams/{team_slug}", self.get_team)
        path = "/orgs/{org}/teams/{team_slug}/memberships/{username}"
        app.router.add_get(path, self.get_membership)
        app.router.add_put(path, self.put_membership)
        app.router.add_delete(path, self.delete_membership)
        app.router.add_get("/search/users", self.search_users)

    # -- apps -------------------------------------------------------------------------------
    async def get_installation(self, request: web.Request) -> web.Response:
        app: App = request[CALLER]  # type: ignore[assignment]
        org = request.match_info["org"].lower()
        if org not in app.installations:
            return self.error(404, "")
        body = example("installation")
        body.update(id=app.installations[org], app_id=int(app.app_id), target_type="Organization")
        body["account"]["login"] = request.match_info["org"]
        body["access_tokens_url"] = f"{self.url}/app/installations/{body['id']}/access_tokens"
        body["permissions"] = {"members": app.members, "metadata": "read"}
        return web.json_response(body)

    async def installation_token(self, request: web.Request) -> web.Response:
        app: App = request[CALLER]  # type: ignore[assignment]
        wanted = int(request.match_info["installation_id"])
        orgs = [org for org, ident in app.installations.items() if ident == wanted]
        if not orgs:
            return self.error(404, "")
        token = "ghs_" + secrets.token_urlsafe(30)
        self.tokens[token] = Caller(app.members, orgs[0])
        self.installation_tokens += 1
        body = example("installation-token")
        body.pop("repositories", None)
        body.update(
            token=token,
            expires_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600)),
            permissions={"members": app.members, "metadata": "read"},
            repository_selection="all",
        )
        return web.json_response(body, status=201)

    # -- users and org membership -----------------------------------------------------------
    def user(self, account: Account) -> dict[str, Any]:
        body = example("simple-user-items")[0]
        body.update(login=account.login, id=account.id, url=f"{self.url}/users/{account.login}")
        return body

    async def list_members(self, request: web.Request) -> web.Response:
        denied = self._needs(request, "read")
        if denied:
            return denied
        org = request.match_info["org"].lower()
        if org not in self.org_members:
            return self.error(404, "")
        per_page = int(request.query.get("per_page", "30"))
        logins = sorted(self.org_members[org])[:per_page]
        return web.json_response([self.user(self.accounts[login]) for login in logins])

    async def check_member(self, request: web.Request) -> web.Response:
        denied = self._needs(request, "read")
        if denied:
            return denied
        members = self.org_members.get(request.match_info["org"].lower(), {})
        if request.match_info["username"].lower() in members:
            return web.Response(status=204)
        return self.error(404, "")

    async def search_users(self, request: web.Request) -> web.Response:
        terms = request.query.get("q", "").split()
        wanted = next((t for t in terms if "@" in t), "").lower()
        found = [a for a in self.accounts.values() if a.email and a.email.lower() == wanted]
        body = example("user-search-result-item-paginated")
        template = body["items"][0]
        items = []
        for account in found:
            item = copy.deepcopy(template)
            item.update(login=account.login, id=account.id, url=f"{self.url}/users/{account.login}")
            items.append(item)
        body.update(total_count=len(items), incomplete_results=False, items=items)
        return web.json_response(body)

    # -- teams ------------------------------------------------------------------------------
    def _team(self, request: web.Request) -> Team | None:
        return self.teams.get(
            (request.match_info["org"].lower(), request.match_info["team_slug"].lower())
        )

    async def get_team(self, request: web.Request) -> web.Response:
        denied = self._needs(request, "read")
        if denied:
            return denied
        team = self._team(request)
        if team is None:
            return self.error(404, "")
        body = example("team-full")
        body.update(id=team.id, name=team.name, slug=team.slug, members_count=len(team.members))
        body["url"] = f"{self.url}/orgs/{team.org}/teams/{team.slug}"
        body["type"] = "organization"  # required by the schema, absent from its example
        body["organization"].update(login=team.org, archived_at=None)
        return web.json_response(body)

    def _role(self, team: Team, login: str) -> str | None:
        owners = self.org_members.get(team.org.lower(), {})
        if owners.get(login) == "admin":
            return "maintainer"  # "The role for organization owners is set to maintainer."
        return team.members.get(login)

    def membership(self, team: Team, login: str, role: str) -> web.Response:
        body = example("team-membership-response-if-user-is-a-team-maintainer")
        body.update(
            url=f"{self.url}/orgs/{team.org}/teams/{team.slug}/memberships/{login}",
            role=role,
            state="active",
        )
        return web.json_response(body)

    async def get_membership(self, request: web.Request) -> web.Response:
        denied = self._needs(request, "read")
        if denied:
            return denied
        team = self._team(request)
        login = request.match_info["username"].lower()
        role = self._role(team, login) if team else None
        if team is None or role is None:
            return self.error(404, "")
        return self.membership(team, login, role)

    async def put_membership(self, request: web.Request) -> web.Response:
        denied = self._needs(request, "write")
        if denied:
            return denied
        team = self._team(request)
        if team is None:
            return self.error(404, "")
        if team.synced:
            return self.gh_error(
                403,
                "This team is synchronized with an identity provider; team membership must be "
                "managed there.",
            )
        login = request.match_info["username"].lower()
        body = await request.json() if request.body_exists else {}
        role = str((body or {}).get("role") or "member")
        if login not in self.org_members.get(team.org.lower(), {}):
            team.invited[login] = role  # an invitation by email; pending until accepted
            self.changes.append(("invited", f"{team.org}/{team.slug}", login, role))
            response = self.membership(team, login, role)
            response.text = response.text.replace('"active"', '"pending"')
            return response
        before = team.members.get(login)
        if before != role:
            team.members[login] = role
            self.changes.append(("set", f"{team.org}/{team.slug}", login, role))
        return self.membership(team, login, role)

    async def delete_membership(self, request: web.Request) -> web.Response:
        denied = self._needs(request, "write")
        if denied:
            return denied
        team = self._team(request)
        if team is None:
            return self.error(404, "")
        if team.synced:
            return self.gh_error(403, "This team is synchronized with an identity provider.")
        login = request.match_info["username"].lower()
        if login in team.members:
            del team.members[login]
            self.changes.append(("removed", f"{team.org}/{team.slug}", login, ""))
        return web.Response(status=204)
