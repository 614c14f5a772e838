"""A stateful fake PagerDuty REST API (and its OAuth token endpoint) on 127.0.0.1.

    async with FakePagerDuty(api_keys={"key1"}) as pd:
        alice = pd.add_user("Alice", "alice@example.com")
        ...
        client = PagerDutyClient(api_key="key1", base_url=pd.url)

Real behaviours kept: `Token token=` / `Bearer` auth (401 otherwise), scopes on bearer tokens
(403), classic pagination (`limit` ≤ 100, `more`, `total` only when asked, 400 past offset
10,000), `/oncalls` computed from escalation policies and schedule shifts, shift-based schedules under
`/v3/schedules` (pages of up to 1,000, computed shift assignments on the detail), rate limiting over a
rolling window with the `ratelimit-*` headers on every answer and the documented 429 body; role writes (`PUT /users/{id}`, `PUT` and
`DELETE /teams/{id}/users/{user_id}`) refused to read-only keys and to tokens without
`users.write` / `teams.write` (403), every change recorded in `role_changes`.
"""

from __future__ import annotations

import base64
import hashlib
import math
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from tests.fakes.pagerduty import render
from tests.fakes.pagerduty.harness import FakeServer
from tests.fakes.pagerduty.incidents import IncidentState
from tests.fakes.pagerduty.model import PagerDutyState, Schedule, Team, User

ERROR_CODES = {400: 2001, 401: 2006, 403: 2010, 404: 2100, 429: 2020}
ERROR_MESSAGES = {
    400: "Invalid Input Provided",
    401: "Authentication failed",
    403: "Access Denied",
    404: "Not Found",
    429: "Rate Limit Exceeded",
}
BASE_ROLES = ("admin", "limited_user", "observer", "owner", "read_only_user",
              "restricted_access", "read_only_limited_user", "user")  # fmt: skip
TEAM_ROLES = ("observer", "responder", "manager")
RoleChange = tuple[str, str, str | None, str | None]  # user id, "account" or team name, from, to
SCOPES = {
    "users": "users.read",
    "schedules": "schedules.read",
    "escalation_policies": "escalation_policies.read",
    "oncalls": "oncalls.read",
    "teams": "teams.read",
    "services": "services.read",
    "incidents": "incidents.read",
}


AUDIT_TYPES = {  # `root_resource_types[]` value → the reference type of the root resource
    "users": "user_reference",
    "teams": "team_reference",
    "schedules": "schedule_reference",
    "escalation_policies": "escalation_policy_reference",
    "services": "service_reference",
    "ip_allow_lists": "ip_allow_list_reference",
}


class FakePagerDuty(FakeServer, PagerDutyState, IncidentState):
    def __init__(
        self,
        *,
        api_keys: set[str] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        latency: float = 0.0,
        rate_limit: tuple[int, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        record_bodies: bool = True,
    ) -> None:
        FakeServer.__init__(
            self, latency=latency, rate_limit=rate_limit, clock=clock, record_bodies=record_bodies
        )
        PagerDutyState.__init__(self)
        IncidentState.__init__(self)
        self.api_keys = set(api_keys or {"testkey"})
        self.read_only_keys: set[str] = set()  # keys made read-only: 403 on any write
        self.role_changes: list[RoleChange] = []
        self.now = now
        self.wall_clock = wall_clock
        self.denied: set[str] = set()
        self.tokens: dict[str, tuple[set[str], float]] = {}
        self.apps: dict[str, tuple[str, str, str, set[str]]] = {}
        self._codes: dict[str, dict[str, str]] = {}
        self._refresh: dict[str, tuple[str, set[str]]] = {}
        self.token_lifetime = 86400
        self.offset_cap = 10_000  # PagerDuty refuses offset + limit beyond this
        self._oncalls_memo: tuple[tuple[Any, ...], list[render.OnCall]] | None = None
        # The account's audit trail (`GET /audit/records`): what `changed` recorded, and whether
        # the plan has the Audit Trail feature (without it the endpoint answers 402).
        self.audit_records: list[dict[str, Any]] = []
        self.audit_trail = True

    # -- errors, auth -----------------------------------------------------------------------
    def error(self, status: int, message: str) -> web.Response:
        code = ERROR_CODES.get(status, 2000 + status)
        text = ERROR_MESSAGES.get(status, message)
        return web.json_response({"error": {"message": text, "code": code}}, status=status)

    def throttle_headers(self, reset: float) -> dict[str, str]:
        limit = self.rate_limit[0] if self.rate_limit else 960
        return {
            "ratelimit-limit": str(limit),
            "ratelimit-remaining": "0",
            "ratelimit-reset": str(max(1, round(reset))),
        }

    def budget_headers(self, remaining: int, reset: float) -> dict[str, str]:
        """PagerDuty reports its count on every request it evaluated, not only on a 429."""
        limit = self.rate_limit[0] if self.rate_limit else 960
        return {
            "ratelimit-limit": str(limit),
            "ratelimit-remaining": str(remaining),
            "ratelimit-reset": str(math.ceil(reset)),
        }

    def deny(self, area: str) -> None:
        """Answer 403 on every request to an area (`users`, `teams`, …): a key without access."""
        self.denied.add(area)

    def authenticate(self, request: web.Request) -> web.Response | None:
        if request.path.startswith("/oauth/"):
            return None
        header = request.headers.get("Authorization", "")
        scopes: set[str] | None = None
        write = request.method not in ("GET", "HEAD")
        if header.startswith("Token token=") and header[12:] in self.api_keys:
            if write and header[12:] in self.read_only_keys:
                return self.error(403, "")
            scopes = set(SCOPES.values()) | {f"{area}.write" for area in ("users", "teams")}
        elif header.startswith("Bearer ") and header[7:] in self.tokens:
            granted, expires = self.tokens[header[7:]]
            if expires > self.wall_clock():
                scopes = granted
        if scopes is None:
            return self.error(401, "")
        area = request.path.strip("/").split("/")[0]
        if area in self.denied:
            return self.error(403, "")
        need = "users.read" if request.path.endswith("/users") else SCOPES.get(area)
        if write:
            need = f"{area}.write"
        if need and need not in scopes:
            return self.error(403, "")
        return None

    # -- OAuth ------------------------------------------------------------------------------
    def register_app(
        self, client_id: str, client_secret: str, subdomain: str, *, region: str = "us",
        scopes: set[str] | None = None,
    ) -> None:  # fmt: skip
        self.apps[client_id] = (client_secret, subdomain, region, set(scopes or SCOPES.values()))

    def approve(self, authorize_url: str) -> dict[str, str]:
        """Play the user who signs in and consents: the redirect's query (code, state)."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
        assert query["client_id"] in self.apps
        code = secrets.token_hex(16)
        self._codes[code] = query
        return {"code": code, "state": query.get("state", "")}

    def _issue(self, scopes: set[str], refresh: bool, client_id: str) -> dict[str, Any]:
        token = "pdus" + secrets.token_hex(16)
        self.tokens[token] = (scopes, self.wall_clock() + self.token_lifetime)
        body: dict[str, Any] = {
            "access_token": token,
            "token_type": "bearer",
            "scope": " ".join(sorted(scopes)),
            "expires_in": self.token_lifetime,
        }
        if refresh:
            rt = "pdrt" + secrets.token_hex(16)
            self._refresh[rt] = (client_id, scopes)
            body["refresh_token"] = rt
        return body

    async def token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        app = self.apps.get(form.get("client_id", ""))
        if app is None or form.get("client_secret") != app[0]:
            return web.json_response({"error": "invalid_client"}, status=401)
        _, subdomain, region, allowed = app
        grant = form.get("grant_type")
        if grant == "client_credentials":
            requested = form.get("scope", "").split()
            account = f"as_account-{region}.{subdomain}"
            if not requested or requested[0] != account:
                return web.json_response({"error": "invalid_scope"}, status=400)
            body = self._issue({s for s in requested[1:] if s in allowed}, False, form["client_id"])
            body["scope"] = f"{account} {body['scope']}".strip()
            return web.json_response(body)
        if grant == "authorization_code":
            asked = self._codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if (
                asked is None
                or asked["code_challenge"] != challenge
                or asked["redirect_uri"] != form.get("redirect_uri")
            ):
                return web.json_response({"error": "invalid_grant"}, status=400)
            scopes = {s for s in asked.get("scope", "").split() if s in allowed} | {"openid"}
            return web.json_response(self._issue(scopes, True, form["client_id"]))
        if grant == "refresh_token":
            known = self._refresh.pop(form.get("refresh_token", ""), None)  # rotation: one use
            if known is None or known[0] != form["client_id"]:
                return web.json_response({"error": "invalid_grant"}, status=400)
            return web.json_response(self._issue(known[1], True, form["client_id"]))
        return web.json_response({"error": "unsupported_grant_type"}, status=400)

    # -- API --------------------------------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        app.router.add_post("/oauth/token", self.token)
        app.router.add_get("/users", self.list_users)
        app.router.add_get("/users/{id}", self.get_user)
        app.router.add_get("/schedules", self.list_schedules)
        app.router.add_get("/schedules/{id}", self.get_schedule)
        app.router.add_get("/schedules/{id}/users", self.schedule_users)
        app.router.add_get("/v3/schedules", self.list_v3_schedules)
        app.router.add_get("/v3/schedules/{id}", self.get_v3_schedule)
        app.router.add_get("/escalation_policies", self.list_policies)
        app.router.add_get("/teams", self.list_teams)
        app.router.add_get("/teams/{id}/members", self.team_members)
        app.router.add_get("/oncalls", self.list_oncalls)
        app.router.add_get("/audit/records", self.list_audit_records)
        app.router.add_get("/services", self.list_services)
        app.router.add_get("/incidents", self.list_incidents)
        app.router.add_get("/incidents/{id}", self.get_incident)
        app.router.add_put("/users/{id}", self.update_user)
        app.router.add_put("/teams/{id}/users/{user_id}", self.put_team_user)
        app.router.add_delete("/teams/{id}/users/{user_id}", self.delete_team_user)

    def _page(
        self,
        request: web.Request,
        key: str,
        items: list[Any],
        render_one: Callable[[Any], Any] | None = None,
    ) -> web.Response:
        """Classic pagination; only the page's own items are rendered (large fakes stay fast)."""
        try:
            limit = min(100, max(1, int(request.query.get("limit", 25))))
            offset = max(0, int(request.query.get("offset", 0)))
        except ValueError:
            return self.error(400, "")
        if offset + limit > self.offset_cap:
            return self.error(400, "")
        total = len(items) if request.query.get("total") == "true" else None
        return web.json_response(
            {
                key: [render_one(i) if render_one else i for i in items[offset : offset + limit]],
                "limit": limit,
                "offset": offset,
                "more": offset + limit < len(items),
                "total": total,
            }
        )

    def _time_window(self, request: web.Request) -> tuple[datetime, datetime]:
        now = self.now()
        try:
            since = _time(request.query.get("since")) or now
            until = _time(request.query.get("until")) or (
                since if "since" in request.query else now
            )
        except ValueError:
            raise web.HTTPBadRequest() from None
        if until < since:
            raise web.HTTPBadRequest()
        return since, until

    async def list_users(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "").lower()
        teams = set(request.query.getall("team_ids[]", []))
        users = list(self.users.values())
        if (
            query or teams
        ):  # filtering 50,000 users for every page would make the fake the bottleneck
            users = [
                u
                for u in users
                if (not query or query in u.name.lower() or query in (u.email or "").lower())
                and (not teams or teams & set(u.team_ids))
            ]
        return self._page(request, "users", users, lambda u: render.user(self, u))

    async def get_user(self, request: web.Request) -> web.Response:
        u = self.users.get(request.match_info["id"])
        return web.json_response({"user": render.user(self, u)}) if u else self.error(404, "")

    async def list_schedules(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "").lower()
        want_final = "final_schedule" in request.query.getall("include[]", [])
        since, until = self._time_window(request)
        index = render.policy_index(self)
        schedules = [
            s
            for s in self.schedules.values()
            if not s.v3 and (not query or query in s.name.lower())
        ]

        shifts_of: dict[str, list[Any]] = {}
        for shift in self.shifts if want_final else ():
            shifts_of.setdefault(shift.schedule_id, []).append(shift)

        def one(s: Schedule) -> dict[str, Any]:
            entries = (
                render.entries(self, s, since, until, False, shifts_of.get(s.id, []))
                if want_final
                else None
            )
            return render.schedule(self, s, entries, index)

        return self._page(request, "schedules", schedules, one)

    async def get_schedule(self, request: web.Request) -> web.Response:
        s = self.schedules.get(request.match_info["id"])
        if s is None or s.v3:
            return self.error(404, "")
        since, until = self._time_window(request)
        overflow = request.query.get("overflow") == "true"
        window = "since" in request.query or "until" in request.query
        entries = render.entries(self, s, since, until, overflow) if window else []
        return web.json_response({"schedule": render.schedule_detail(self, s, entries)})

    async def list_v3_schedules(self, request: web.Request) -> web.Response:
        """Shift-based schedules as `schedule_v3_reference`s: pages of up to 1,000, no cap."""
        query = request.query.get("query", "").lower()
        found = [
            render.ref("schedule_v3", s.id, s.name)
            for s in self.schedules.values()
            if s.v3 and (not query or query in s.name.lower())
        ]
        try:
            limit = min(1000, max(1, int(request.query.get("limit", 100))))
            offset = max(0, int(request.query.get("offset", 0)))
        except ValueError:
            return self.error(400, "")
        body: dict[str, Any] = {
            "schedules": found[offset : offset + limit],
            "limit": limit,
            "offset": offset,
            "more": offset + limit < len(found),
        }
        if request.query.get("total") == "true":
            body["total"] = len(found)
        return web.json_response(body)

    async def get_v3_schedule(self, request: web.Request) -> web.Response:
        s = self.schedules.get(request.match_info["id"])
        if s is None or not s.v3:
            return self.error(404, "")
        since, until = self._time_window(request)
        final = "final_schedule" in request.query.getall("include[]", [])
        window = "since" in request.query and "until" in request.query
        overflow = request.query.get("overflow") == "true"
        entries = render.entries(self, s, since, until, overflow) if final and window else None
        return web.json_response({"schedule": render.schedule_v3(self, s, entries)})

    async def schedule_users(self, request: web.Request) -> web.Response:
        s = self.schedules.get(request.match_info["id"])
        if s is None:
            return self.error(404, "")
        users = [render.user(self, self.users[u]) for u in s.user_ids if u in self.users]
        return web.json_response({"users": users})

    async def list_policies(self, request: web.Request) -> web.Response:
        policies = list(self.policies.values())
        return self._page(
            request, "escalation_policies", policies, lambda p: render.policy(self, p)
        )

    def changed(self, root_type: str, resource_id: str, action: str = "update") -> None:
        """Record in the audit trail that a resource changed now (a test changes the state and
        says so, as PagerDuty records every change made in the web app or through the API)."""
        n = len(self.audit_records) + 1
        self.audit_records.append(
            {
                "id": f"AUDIT{n:06d}",
                "self": f"{self.url}/audit/records/AUDIT{n:06d}",
                "execution_time": self.now().isoformat().replace("+00:00", "Z"),
                "execution_context": {"request_id": f"req{n}", "remote_address": "192.0.2.1"},
                "actors": [],
                "method": {"type": "browser", "truncated_token": None, "description": None},
                "root_resource": {
                    "id": resource_id,
                    "type": AUDIT_TYPES[root_type],
                    "summary": resource_id,
                },
                "action": action,
                "details": None,
            }
        )

    async def list_audit_records(self, request: web.Request) -> web.Response:
        """Newest first, filtered by `since`, `until` and `root_resource_types[]`."""
        if not self.audit_trail:
            return self.error(402, "Account does not have the Audit Trail feature")
        since, until = request.query.get("since"), request.query.get("until")
        try:
            start = datetime.fromisoformat(since) if since else self.now() - timedelta(days=1)
            end = datetime.fromisoformat(until) if until else self.now()
            limit = min(100, max(1, int(request.query.get("limit", 100))))
        except ValueError:
            return self.error(400, "")
        kinds = set(request.query.getall("root_resource_types[]", []))
        found = [
            r
            for r in reversed(self.audit_records)
            if start <= datetime.fromisoformat(r["execution_time"]) <= end
            and (not kinds or any(AUDIT_TYPES.get(k) == r["root_resource"]["type"] for k in kinds))
        ]
        more = len(found) > limit
        return web.json_response(
            {
                "records": found[:limit],
                "response_metadata": None,
                "limit": limit,
                "next_cursor": f"c{limit}" if more else None,
            }
        )

    async def list_teams(self, request: web.Request) -> web.Response:
        return self._page(request, "teams", [render.team(t) for t in self.teams.values()])

    async def team_members(self, request: web.Request) -> web.Response:
        team = self.teams.get(request.match_info["id"])
        if team is None:
            return self.error(404, "")
        full = "users" in request.query.getall("include[]", [])
        members = [
            {
                "user": render.user(self, self.users[uid])
                if full
                else render.user_ref(self.users[uid]),
                "role": role,
            }
            for uid, role in team.members
            if uid in self.users
        ]
        return self._page(request, "members", members)

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json() if request.body_exists else {}
        except ValueError:
            raise web.HTTPBadRequest() from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest()
        return body

    async def update_user(self, request: web.Request) -> web.Response:
        u = self.users.get(request.match_info["id"])
        if u is None:
            return self.error(404, "")
        user = (await self._json(request)).get("user")
        if not isinstance(user, dict):
            return self.error(400, "")
        role = user.get("role", u.role)
        if role not in BASE_ROLES:
            return self.error(400, "")
        if role != u.role:
            self.role_changes.append((u.id, "account", u.role, role))
        u.role = role
        return web.json_response({"user": render.user(self, u)})

    def _membership(self, request: web.Request) -> tuple[Team, User]:
        team = self.teams.get(request.match_info["id"])
        user = self.users.get(request.match_info["user_id"])
        if team is None or user is None:
            raise web.HTTPNotFound()
        return team, user

    async def put_team_user(self, request: web.Request) -> web.Response:
        team, user = self._membership(request)
        role = (await self._json(request)).get("role", "manager")
        if role not in TEAM_ROLES or user.role == "read_only_user":
            return self.error(400, "")
        before = self.team_role(team, user)
        if before != role:
            self.role_changes.append((user.id, team.name, before, role))
        self.set_team_role(team, user, role)
        return web.Response(status=204)

    async def delete_team_user(self, request: web.Request) -> web.Response:
        team, user = self._membership(request)
        before = self.team_role(team, user)
        if before is not None:
            self.role_changes.append((user.id, team.name, before, None))
        self.set_team_role(team, user, None)
        return web.Response(status=204)

    async def list_oncalls(self, request: web.Request) -> web.Response:
        since, until = self._time_window(request)
        include_users = "users" in request.query.getall("include[]", [])
        users = set(request.query.getall("user_ids[]", []))
        policies = set(request.query.getall("escalation_policy_ids[]", []))
        schedules = set(request.query.getall("schedule_ids[]", []))
        found = [
            o
            for o in self._oncalls_between(since, until)
            if (not users or o.user_id in users)
            and (not policies or o.policy.id in policies)
            and (not schedules or (o.schedule.id if o.schedule else "null") in schedules)
        ]
        return self._page(
            request, "oncalls", found, lambda o: render.oncall(self, o, include_users)
        )

    def _oncalls_between(self, since: datetime, until: datetime) -> list[render.OnCall]:
        """`/oncalls` is computed once per window and state, not again for every page (at
        50,000 people that recomputation, not the client, set the pace of the bench)."""
        key = (since, until, id(self.shifts), len(self.shifts), len(self.policies),
               len(self.schedules), len(self.users))  # fmt: skip
        if self._oncalls_memo is None or self._oncalls_memo[0] != key:
            self._oncalls_memo = (key, render.oncalls(self, since, until))
        return self._oncalls_memo[1]


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
