"""A stateful fake Opsgenie REST API v2 on 127.0.0.1.

Real behaviours kept: `GenieKey` auth (401), API-key access rights (403 without Read and
Configuration Access, and on writes without Create and Update), the `data`/`took`/`requestId`
envelope, user roles as `{id, name}` changed with `PATCH /v2/users/{id}` (every change recorded
in `role_changes`), custom user roles read, created and updated under `/v2/roles`, users paged
with `paging` links (full URLs), who-is-on-call with and without `flat`, schedule timelines
clipped to their window, rate limits counted per request domain (Search, Schedule-oncalls,
Configuration) over a rolling minute and optionally a second, 429 with `X-RateLimit-State` /
`-Reason` / `-Period-In-Sec`, and a `+`
in a query value read as a space, so a client that does not escape the `date` offset fails as it
would for real.

Services (`GET /v1/services`) and incidents (`GET /v1/incidents`, `GET /v1/incidents/{id}`) in
the shapes of the Incident API's spec and documentation and the Go SDK's `Service` (see
`tests/reference/opsgenie/README.md`), paged with `limit`/`offset` and full-URL `paging` links.
The list's `query` is required; this fake understands `status:open|resolved|closed` only and
answers any other query 422, so a client cannot come to rely on more.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.fakes.opsgenie.model import (
    CustomRole,
    IncidentRecord,
    OpsgenieState,
    Schedule,
    User,
)
from tests.fakes.pagerduty.harness import FakeServer

NEEDED_RIGHTS = {"read", "configuration"}
WRITE_RIGHT = "create-update"  # "Create and Update" in API key management
WRITE_RIGHTS = NEEDED_RIGHTS | {WRITE_RIGHT}
BUILT_IN_ROLES = ("owner", "admin", "user", "observer", "stakeholder")
UNITS = {"days": 1, "weeks": 7, "months": 30}


def ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class FakeOpsgenie(FakeServer, OpsgenieState):
    def __init__(
        self,
        *,
        api_keys: dict[str, set[str]] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        latency: float = 0.0,
        rate_limit: tuple[int, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        record_bodies: bool = True,
        users_page_max: int = 100,
        per_second: int | None = None,
    ) -> None:
        FakeServer.__init__(
            self,
            latency=latency,
            rate_limit=rate_limit,
            clock=clock,
            record_bodies=record_bodies,
            per_second=per_second,
        )
        OpsgenieState.__init__(self)
        self.api_keys = api_keys if api_keys is not None else {"testkey": set(NEEDED_RIGHTS)}
        self.now = now
        self.users_page_max = users_page_max
        self.role_changes: list[tuple[str, str, str]] = []  # (username, from, to)

    def _envelope(self, **fields: Any) -> dict[str, Any]:
        return {**fields, "took": 0.01, "requestId": str(uuid.uuid4())}

    def ok(self, data: Any, **extra: Any) -> web.Response:
        return web.json_response(
            self._envelope(data=data, **extra),
            headers={"X-Request-ID": str(uuid.uuid4()), "X-Response-Time": "0.010"},
        )

    def error(self, status: int, message: str) -> web.Response:
        body = self._envelope(message=message or "Error", code=status * 100 + 1)
        return web.json_response(body, status=status)

    def domain(self, request: web.Request) -> str:
        """Opsgenie limits each request domain apart (docs.opsgenie.com/docs/api-rate-limiting):
        listing users is Search, current and next on-calls are Schedule-oncalls, the rest of the
        REST API read here is Configuration."""
        path = request.path.rstrip("/")
        if request.method == "GET" and path == "/v2/users":
            return "search"
        if path.endswith("/on-calls") or path.endswith("/next-on-calls"):
            return "schedule-oncalls"
        return "configuration"

    def throttle_headers(self, reset: float) -> dict[str, str]:
        period = self.throttled_period
        return {
            "X-RateLimit-State": "THROTTLED",
            "X-RateLimit-Reason": "ACCOUNT",
            "X-RateLimit-Period-In-Sec": str(max(1, round(min(reset, period)))),
        }

    def authenticate(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        rights = self.api_keys.get(header[9:]) if header.startswith("GenieKey ") else None
        if rights is None:
            return self.error(401, "Could not authenticate")
        if not rights >= NEEDED_RIGHTS:
            return self.error(403, "You are not authorized for this operation")
        if request.method in ("POST", "PUT", "PATCH") and WRITE_RIGHT not in rights:
            return self.error(403, "You are not authorized for this operation")
        return None

    def routes(self, app: web.Application) -> None:
        add = app.router.add_get
        add("/v2/users", self.list_users)
        add("/v2/users/{identifier}", self.get_user)
        add("/v2/roles", self.list_roles)
        add("/v2/roles/{identifier}", self.get_role)
        app.router.add_patch("/v2/users/{identifier}", self.update_user)
        app.router.add_post("/v2/roles", self.create_role)
        app.router.add_put("/v2/roles/{identifier}", self.update_role)
        add("/v2/teams", self.list_teams)
        add("/v2/teams/{identifier}", self.get_team)
        add("/v2/schedules", self.list_schedules)
        add("/v2/schedules/on-calls", self.list_oncalls)
        add("/v2/schedules/{identifier}", self.get_schedule)
        add("/v2/schedules/{identifier}/timeline", self.timeline)
        add("/v2/schedules/{identifier}/on-calls", self.get_oncalls)
        add("/v1/services", self.list_services)
        add("/v1/incidents", self.list_incidents)
        add("/v1/incidents/{identifier}", self.get_incident)

    # -- renderers --------------------------------------------------------------------------
    def user(self, u: User) -> dict[str, Any]:
        return {
            "id": u.id,
            "username": u.username,
            "fullName": u.full_name,
            "role": self.role_ref(u.role),
            "blocked": False,
            "verified": True,
            "timeZone": "Etc/UTC",
            "locale": "en_US",
            "createdAt": "2020-01-01T00:00:00.000Z",
            "userAddress": {"country": "", "state": "", "city": "", "line": "", "zipCode": ""},
            "tags": [],
            "details": {},
        }

    def role_ref(self, name: str) -> dict[str, str]:
        """Built-in roles read back capitalised (`User`), custom ones with their own id."""
        custom = self.custom_role(name)
        if custom is not None:
            return {"id": custom.id, "name": custom.name}
        return {"id": name.title(), "name": name.title()}

    def custom_role(self, ident: str, by_name: bool = True) -> CustomRole | None:
        for role in self.custom_roles:
            if (role.name.casefold() == ident.casefold()) if by_name else role.id == ident:
                return role
        return None

    def role_body(self, r: CustomRole) -> dict[str, Any]:
        return {"id": r.id, "name": r.name, "extendedRole": r.extended_role,
                "grantedRights": r.granted, "disallowedRights": r.disallowed}  # fmt: skip

    def schedule(self, s: Schedule, rotations: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": s.id,
            "name": s.name,
            "description": "",
            "timezone": s.timezone,
            "enabled": s.enabled,
        }
        if s.owner_team and s.owner_team in self.teams:
            body["ownerTeam"] = {"id": s.owner_team, "name": self.teams[s.owner_team].name}
        if rotations:
            body["rotations"] = [
                {
                    "id": r.id,
                    "name": r.name,
                    "startDate": "2020-01-06T09:00:00Z",
                    "type": "weekly",
                    "length": 1,
                    "participants": [
                        {"type": p.type, "id": p.id, ("username" if p.type == "user" else "name"): p.name}
                        if p.id else {"type": p.type}
                        for p in r.participants
                    ],
                }
                for r in s.rotations
            ]  # fmt: skip
        return body

    def _find(self, kind: str, request: web.Request, type_param: str) -> Any:
        ident = request.match_info["identifier"]
        by_name = request.query.get(type_param, "id") == "name"
        pool = self.schedules if kind == "schedule" else self.teams
        for item in pool.values():
            if (item.name if by_name else item.id) == ident:
                return item
        raise web.HTTPNotFound()

    def _date(self, request: web.Request) -> datetime:
        raw = request.query.get("date")
        if not raw:
            return self.now()
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise web.HTTPBadRequest() from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def _on_call(self, s: Schedule, at: datetime) -> list[User]:
        ids = [x.user_id for x in self.shifts if x.schedule_id == s.id and x.start <= at < x.end]
        return [self.users[i] for i in dict.fromkeys(ids) if i in self.users]

    def _oncall_body(self, s: Schedule, at: datetime, flat: bool) -> dict[str, Any]:
        people = self._on_call(s, at)
        body: dict[str, Any] = {"_parent": {"id": s.id, "name": s.name, "enabled": s.enabled}}
        if flat:
            body["onCallRecipients"] = [u.username for u in people]
        else:
            body["onCallParticipants"] = [
                {"id": u.id, "name": u.username, "type": "user"} for u in people
            ]
        return body

    # -- handlers ---------------------------------------------------------------------------
    async def list_users(self, request: web.Request) -> web.Response:
        try:
            limit = min(self.users_page_max, max(1, int(request.query.get("limit", 100))))
            offset = max(0, int(request.query.get("offset", 0)))
        except ValueError:
            return self.error(422, "limit and offset must be numbers")
        users = list(self.users.values())
        page = [self.user(u) for u in users[offset : offset + limit]]

        def link(at: int) -> str:
            query = {
                "limit": str(limit),
                "offset": str(at),
                "sortField": "username",
                "order": "asc",
            }
            return str(request.url.with_query(query))

        last = max(0, (len(users) - 1) // limit * limit)
        paging = {"first": link(0), "last": link(last)}
        if offset + limit < len(users):
            paging["next"] = link(offset + limit)
        if offset > 0:
            paging["prev"] = link(max(0, offset - limit))
        return self.ok(page, totalCount=len(users), paging=paging)

    async def get_user(self, request: web.Request) -> web.Response:
        ident = request.match_info["identifier"]
        for u in self.users.values():
            if ident in (u.id, u.username):
                return self.ok(self.user(u), expandable=["contact"])
        return self.error(404, "No user exists with identifier")

    async def list_roles(self, request: web.Request) -> web.Response:
        return self.ok([self.role_body(r) for r in self.custom_roles])

    async def get_role(self, request: web.Request) -> web.Response:
        by_name = request.query.get("identifierType", "id") == "name"
        role = self.custom_role(request.match_info["identifier"], by_name)
        return self.ok(self.role_body(role)) if role else self.error(404, "No role found")

    def done(self, status: int = 200, **data: str) -> web.Response:
        body = self._envelope(result="Created" if status == 201 else "Updated")
        if data:
            body["data"] = data
        return web.json_response(body, status=status)

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest() from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest()
        return body

    async def update_user(self, request: web.Request) -> web.Response:
        ident = request.match_info["identifier"]
        user = next((u for u in self.users.values() if ident in (u.id, u.username)), None)
        if user is None:
            return self.error(404, "No user exists with identifier")
        role = (await self._json(request)).get("role")
        name = role.get("name") if isinstance(role, dict) else None
        if name is not None:
            known = self.custom_role(str(name))
            if known is None and str(name).lower() not in BUILT_IN_ROLES:
                return self.error(422, "Role does not exist")
            new = known.name if known else str(name).lower()
            if new != user.role:
                self.role_changes.append((user.username, user.role, new))
            user.role = new
        return self.done()

    async def create_role(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        name = str(body.get("name") or "")
        if not name or self.custom_role(name) or name.lower() in BUILT_IN_ROLES:
            return self.error(422, "Role name is missing or already taken")
        role = self.add_custom_role(
            name, str(body.get("extendedRole") or "user"), list(body.get("grantedRights") or [])
        )
        role.disallowed = list(body.get("disallowedRights") or [])
        return self.done(201, id=role.id, name=role.name)

    async def update_role(self, request: web.Request) -> web.Response:
        by_name = request.query.get("identifierType", "id") == "name"
        role = self.custom_role(request.match_info["identifier"], by_name)
        if role is None:
            return self.error(404, "No role found")
        body = await self._json(request)
        role.name = str(body.get("name") or role.name)
        role.extended_role = str(body.get("extendedRole") or role.extended_role)
        if "grantedRights" in body:
            role.granted = list(body["grantedRights"] or [])
        if "disallowedRights" in body:
            role.disallowed = list(body["disallowedRights"] or [])
        return self.done()

    async def list_teams(self, request: web.Request) -> web.Response:
        teams = [
            {"id": t.id, "name": t.name, "description": t.description} for t in self.teams.values()
        ]
        return self.ok(teams, expandable=["member"])

    async def get_team(self, request: web.Request) -> web.Response:
        team = self._find("team", request, "identifierType")
        members = [
            {"user": {"id": uid, "username": self.users[uid].username}, "role": role}
            for uid, role in team.members
            if uid in self.users
        ]
        return self.ok({"id": team.id, "name": team.name, "description": team.description,
                        "members": members})  # fmt: skip

    async def list_schedules(self, request: web.Request) -> web.Response:
        expand = "rotation" in request.query.get("expand", "").split(",")
        data = [self.schedule(s, expand) for s in self.schedules.values()]
        return self.ok(data, expandable=["rotation"])

    async def get_schedule(self, request: web.Request) -> web.Response:
        return self.ok(self.schedule(self._find("schedule", request, "identifierType"), True))

    async def list_oncalls(self, request: web.Request) -> web.Response:
        at, flat = self._date(request), request.query.get("flat") == "true"
        return self.ok([self._oncall_body(s, at, flat) for s in self.schedules.values()])

    async def get_oncalls(self, request: web.Request) -> web.Response:
        s = self._find("schedule", request, "scheduleIdentifierType")
        return self.ok(
            self._oncall_body(s, self._date(request), request.query.get("flat") == "true")
        )

    async def timeline(self, request: web.Request) -> web.Response:
        s = self._find("schedule", request, "identifierType")
        start = self._date(request)
        unit = request.query.get("intervalUnit", "weeks")
        try:
            days = int(request.query.get("interval", 1)) * UNITS[unit]
        except (KeyError, ValueError):
            return self.error(422, "interval")
        end = start + timedelta(days=days)
        rotations = []
        for r in s.rotations:
            periods = [
                {
                    "startDate": ts(max(x.start, start)),
                    "endDate": ts(min(x.end, end)),
                    "type": "default",
                    "recipient": {
                        "id": x.user_id,
                        "name": self.users[x.user_id].username,
                        "type": "user",
                    },
                }
                for x in sorted(self.shifts, key=lambda x: x.start)
                if x.rotation_id == r.id
                and x.start < end
                and x.end > start
                and x.user_id in self.users
            ]
            rotations.append({"id": r.id, "name": r.name, "order": 1.0, "periods": periods})
        final = {"rotations": rotations}
        data = {
            "_parent": {"id": s.id, "name": s.name, "enabled": s.enabled},
            "startDate": ts(start),
            "endDate": ts(end),
            "finalTimeline": final,
            "baseTimeline": final,
        }
        return self.ok(data, expandable=["base", "forwarding", "override"])

    # -- services and incidents --------------------------------------------------------------
    def _paged(self, request: web.Request, items: list[Any], default: int) -> web.Response:
        try:
            limit = int(request.query.get("limit", default))
            offset = int(request.query.get("offset", 0))
        except ValueError:
            return self.error(422, "limit and offset must be numbers")
        if not 1 <= limit <= 100 or offset < 0:
            return self.error(422, "limit must be 1 to 100, offset 0 or more")

        def link(at: int) -> str:
            return str(request.url.update_query({"limit": str(limit), "offset": str(at)}))

        last = max(0, (len(items) - 1) // limit * limit)
        paging = {"first": link(0), "last": link(last)}
        if offset + limit < len(items):
            paging["next"] = link(offset + limit)
        if offset > 0:
            paging["prev"] = link(max(0, offset - limit))
        return self.ok(items[offset : offset + limit], paging=paging)

    def service_body(self, service_id: str) -> dict[str, Any]:
        s = self.services[service_id]
        return {"id": s.id, "name": s.name, "description": f"The {s.name} service",
                "visibility": "TEAM_MEMBERS", "teamId": s.team_id, "tags": []}  # fmt: skip

    def incident_body(self, i: IncidentRecord) -> dict[str, Any]:
        return {
            "id": i.id,
            "tinyId": str(i.tiny_id),
            "message": i.message,
            "description": "",
            "status": i.status,
            "isSeen": True,
            "tags": [],
            "createdAt": ts(i.created_at),
            "updatedAt": ts(i.updated_at),
            "impactStartDate": ts(i.created_at),
            "priority": "P3",
            "ownerTeam": "",
            "responders": [{"type": kind, "id": ident} for kind, ident in i.responders],
            "impactedServices": list(i.impacted),
            "extraProperties": {},
            "links": {
                "web": f"https://example.app.opsgenie.com/incident/detail/{i.id}",
                "api": f"https://api.opsgenie.com/v1/incidents/{i.id}",
            },
        }

    async def list_services(self, request: web.Request) -> web.Response:
        return self._paged(request, [self.service_body(s) for s in self.services], 20)

    async def list_incidents(self, request: web.Request) -> web.Response:
        query = request.query.get("query")
        if query is None:
            return self.error(422, "Query field cannot be empty")
        field, _, value = query.partition(":")
        if field.strip() != "status" or value.strip() not in ("open", "resolved", "closed"):
            return self.error(422, "This fake understands status:open|resolved|closed only")
        found = [i for i in self.incidents.values() if i.status == value.strip()]
        newest_first = request.query.get("order", "desc") == "desc"
        found.sort(key=lambda i: i.created_at, reverse=newest_first)
        return self._paged(request, [self.incident_body(i) for i in found], 20)

    async def get_incident(self, request: web.Request) -> web.Response:
        ident = request.match_info["identifier"]
        tiny = request.query.get("identifierType", "id") == "tiny"
        for i in self.incidents.values():
            if (str(i.tiny_id) if tiny else i.id) == ident:
                return self.ok(self.incident_body(i))
        return self.error(404, "No incident exists with id")
