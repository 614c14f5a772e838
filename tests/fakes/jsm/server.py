"""A stateful fake of one Atlassian site with JSM operations, on 127.0.0.1 (ephemeral port).

It serves both hosts the adapter talks to (tests point `base_url` at it, which the adapter
uses for the site too): the operations API under `/jsm/ops/api/{cloudId}/v1/`, and the site's
`/_edge/tenant_info`, Jira user API and Teams API.

Real behaviours kept: Basic auth with e-mail + API token (401, with the Jira or operations
error body), per-account rights (403), no `data` envelope, schedules paged with `offset`/`size`
and a `links.next` written from the API root without `expand` (as in the published sample),
non-flat on-calls with bare `{id, type}` participants (a team without its members, an
escalation with users nested), timelines clipped to their window, a bare array from
`/v1/teams`, hidden e-mail addresses (the field is simply absent), unknown account ids left out
of a bulk answer, Relay-style paging of team members, a wrong cloud id answering 404, alerts
listed with a `query` (`status:open` or `status:closed`; any other query is refused, so a
client cannot lean on a syntax the fake does not check), newest first, paged with
`offset`/`size` (at most 100) and a `links.next` without the query, one alert by id (404 once
gone), and 429 with `Retry-After`, `X-RateLimit-*` and `RateLimit-Reason`, counted apart for the
operations API and the site. A `+` in a query value reads as a
space, so a client that does not escape a time offset fails as it would for real.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.fakes.jsm.model import ALL_RIGHTS, Alert, Credential, JsmState, OnCall, Schedule, User
from tests.fakes.pagerduty.harness import FakeServer

UNITS = {"days": 1, "weeks": 7, "months": 30}
OPS = "/jsm/ops/api/{cloud_id}/v1"
EMAIL = web.RequestKey("email", str)
TEAMS = "/gateway/api/public/teams/v1/org/{org_id}/teams/{team_id}/members"


def ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class FakeJsm(FakeServer, JsmState):
    def __init__(
        self,
        *,
        credentials: dict[str, Credential] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        latency: float = 0.0,
        rate_limit: tuple[int, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        schedules_page_max: int = 100,
        users_page_max: int = 50,
        members_page_size: int = 50,
        record_bodies: bool = True,
    ) -> None:
        FakeServer.__init__(
            self, latency=latency, rate_limit=rate_limit, clock=clock, record_bodies=record_bodies
        )
        JsmState.__init__(self)
        default = {"agent@example.com": Credential("token-1", set(ALL_RIGHTS))}
        self.credentials = credentials if credentials is not None else default
        self.now = now
        self.schedules_page_max = schedules_page_max
        self.users_page_max = users_page_max
        self.members_page_size = members_page_size
        self.me: dict[str, str] = {}  # e-mail → account id of the connecting accounts

    # -- errors and headers ---------------------------------------------------------------------
    def error(self, status: int, message: str) -> web.Response:
        """The operations API's error entity."""
        return web.json_response({"errors": [{"title": message or "Error"}]}, status=status)

    def jira_error(self, status: int, message: str) -> web.Response:
        return web.json_response({"errorMessages": [message], "errors": {}}, status=status)

    def throttle_headers(self, reset: float) -> dict[str, str]:
        wait = max(1, math.ceil(reset))  # whole seconds, never shorter than the window
        at = (self.now() + timedelta(seconds=wait)).astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
        return {
            "Retry-After": str(wait),
            "X-RateLimit-Limit": str(self.rate_limit[0] if self.rate_limit else 100),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": at,
            "RateLimit-Reason": "jira-burst-based",
        }

    def domain(self, request: web.Request) -> str:
        """Atlassian counts the operations API and the site (Jira, Teams) apart."""
        return "ops" if request.path.startswith("/jsm/ops/") else "site"

    def authenticate(self, request: web.Request) -> web.Response | None:
        path = request.path
        if path == "/_edge/tenant_info":
            return None
        jira = path.startswith("/rest/")
        refuse = self.jira_error if jira else self.error
        header = request.headers.get("Authorization", "")
        email, token = "", ""
        if header.startswith("Basic "):
            with contextlib.suppress(ValueError):  # UnicodeDecodeError is a ValueError
                email, _, token = base64.b64decode(header[6:]).decode().partition(":")
        cred = self.credentials.get(email)
        if cred is None or cred.token != token:
            return refuse(401, "Client must be authenticated to access this resource.")
        needed = (
            "ops" if path.startswith("/jsm/ops/")
            else "teams" if path.startswith("/gateway/")
            else "browse_users" if path.startswith("/rest/api/3/user")
            else None
        )  # fmt: skip
        if needed and needed not in cred.rights:
            return refuse(403, "You are not authorized to perform this operation.")
        request[EMAIL] = email
        return None

    def routes(self, app: web.Application) -> None:
        add = app.router.add_get
        add("/_edge/tenant_info", self.tenant_info)
        add(OPS + "/schedules", self.list_schedules)
        add(OPS + "/schedules/{schedule_id}/on-calls", self.oncalls_of)
        add(OPS + "/schedules/{schedule_id}/timeline", self.timeline)
        add(OPS + "/teams", self.list_teams)
        add(OPS + "/alerts", self.list_alerts)
        add(OPS + "/alerts/{alert_id}", self.get_alert)
        app.router.add_post(TEAMS, self.team_members)
        add("/rest/api/3/myself", self.myself)
        add("/rest/api/3/user", self.get_user)
        add("/rest/api/3/user/bulk", self.bulk_users)

    # -- renderers ------------------------------------------------------------------------------
    def user(self, u: User) -> dict[str, Any]:
        body: dict[str, Any] = {
            "self": f"{self.url}/rest/api/3/user?accountId={u.account_id}",
            "accountId": u.account_id,
            "accountType": "atlassian",
            "avatarUrls": {"48x48": "https://avatar.example/48.png"},
            "displayName": u.name,
            "active": True,
            "timeZone": "Etc/UTC",
            "locale": "en_US",
        }
        if u.email_visible:
            body["emailAddress"] = u.email
        return body

    def schedule(self, s: Schedule, rotations: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": s.id,
            "name": s.name,
            "description": "",
            "timezone": s.timezone,
            "enabled": s.enabled,
        }
        if s.team_id:
            body["teamId"] = s.team_id
        if rotations:
            body["rotations"] = [
                {
                    "id": r.id,
                    "name": r.name,
                    "startDate": "2020-01-06T09:00:00Z",
                    "type": "weekly",
                    "length": 1,
                    "participants": [
                        {"type": p.type, "id": p.id} if p.id else {"type": p.type}
                        for p in r.participants
                    ],
                    "timeRestriction": {"type": "time-of-day", "restriction": {}},
                }
                for r in s.rotations
            ]
        return body

    def participant(self, o: OnCall) -> dict[str, Any]:
        body: dict[str, Any] = {"id": o.id, "type": o.type}
        if o.type == "escalation":
            body["onCallParticipants"] = [{"id": a, "type": "user"} for a in o.nested]
        return body

    def alert(self, a: Alert) -> dict[str, Any]:
        """The fields of the published Get alert sample that an alert here has."""
        body: dict[str, Any] = {
            "id": a.id,
            "tinyId": str(a.tiny_id),
            "createdAt": ts(a.created_at),
            "updatedAt": ts(a.updated_at),
            "message": a.message,
            "status": a.status,
            "acknowledged": a.acknowledged,
            "count": 1,
            "snoozed": False,
            "lastOccurredAt": ts(a.created_at),
            "priority": a.priority,
            "responders": [{"id": i, "type": t} for t, i in a.responders],
            "seen": a.acknowledged,
        }
        if a.owner:
            body["owner"] = a.owner
        return body

    # -- helpers ----------------------------------------------------------------------------------
    def _cloud(self, request: web.Request) -> None:
        if request.match_info.get("cloud_id") != self.cloud_id:
            raise web.HTTPNotFound()

    def _schedule(self, request: web.Request) -> Schedule:
        self._cloud(request)
        found = self.schedules.get(request.match_info["schedule_id"])
        if found is None:
            raise web.HTTPNotFound()
        return found

    def _date(self, request: web.Request) -> datetime:
        raw = request.query.get("date")
        if not raw:
            return self.now()
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise web.HTTPBadRequest() from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def _int(self, request: web.Request, name: str, default: int) -> int:
        try:
            return int(request.query.get(name, default))
        except ValueError:
            raise web.HTTPBadRequest() from None

    # -- the site -------------------------------------------------------------------------------
    async def tenant_info(self, request: web.Request) -> web.Response:
        return web.json_response({"cloudId": self.cloud_id})

    async def myself(self, request: web.Request) -> web.Response:
        email = request[EMAIL]
        account = self.me.get(email)
        if account is None:
            account = self.add_user(email, "Integration Agent").account_id
            self.me[email] = account
        return web.json_response(self.user(self.users[account]))

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.users.get(request.query.get("accountId", ""))
        if user is None:
            return self.jira_error(404, "Specified user does not exist or you do not have access.")
        return web.json_response(self.user(user))

    async def bulk_users(self, request: web.Request) -> web.Response:
        ids = request.query.getall("accountId", [])
        if not ids:
            return self.jira_error(400, "At least one accountId is required.")
        start = max(0, self._int(request, "startAt", 0))
        size = min(self.users_page_max, max(1, self._int(request, "maxResults", 10)))
        known = [self.users[i] for i in dict.fromkeys(ids) if i in self.users]
        page = known[start : start + size]
        last = start + size >= len(known)
        body: dict[str, Any] = {
            "self": str(request.url),
            "maxResults": size,
            "startAt": start,
            "total": len(known),
            "isLast": last,
            "values": [self.user(u) for u in page],
        }
        if not last:
            body["nextPage"] = str(request.url.update_query(startAt=str(start + size)))
        return web.json_response(body)

    async def team_members(self, request: web.Request) -> web.Response:
        team = self.teams.get(request.match_info["team_id"])
        if request.match_info["org_id"] != self.org_id or team is None:
            return self.error(404, "Team not found")
        raw = await request.read()
        try:
            paging = json.loads(raw) if raw else {}
        except ValueError:
            return self.error(400, "Malformed JSON")
        first = min(
            int(paging.get("first") or self.members_page_size), self.members_page_size
        )  # server cap
        start = int(paging.get("after") or 0)
        page = team.members[start : start + first]
        more = start + first < len(team.members)
        return web.json_response(
            {
                "results": [{"accountId": a} for a in page],
                "pageInfo": {"endCursor": str(start + len(page)), "hasNextPage": more},
            }
        )

    # -- the operations API ---------------------------------------------------------------------
    async def list_schedules(self, request: web.Request) -> web.Response:
        self._cloud(request)
        offset = max(0, self._int(request, "offset", 0))
        size = min(self.schedules_page_max, max(1, self._int(request, "size", 25)))
        expand = "rotation" in ",".join(request.query.getall("expand", [])).split(",")
        query = request.query.get("query", "").lower()
        found = [s for s in self.schedules.values() if query in s.name.lower()]
        page = found[offset : offset + size]
        body: dict[str, Any] = {
            "values": [self.schedule(s, expand) for s in page],
            "links": {},
            "_expands": ["rotation"],
        }
        if offset + size < len(found):
            body["links"]["next"] = f"/v1/schedules?offset={offset + size}&size={size}"
        return web.json_response(body)

    async def oncalls_of(self, request: web.Request) -> web.Response:
        schedule = self._schedule(request)
        at = self._date(request)
        current = [
            o for o in self.oncalls if o.schedule_id == schedule.id and o.start <= at < o.end
        ]
        seen: dict[tuple[str, str], OnCall] = {(o.type, o.id): o for o in current}
        return web.json_response(
            {"onCallParticipants": [self.participant(o) for o in seen.values()]}
        )

    async def timeline(self, request: web.Request) -> web.Response:
        schedule = self._schedule(request)
        start = self._date(request)
        try:
            days = (
                self._int(request, "interval", 1)
                * UNITS[request.query.get("intervalUnit", "weeks")]
            )
        except KeyError:
            raise web.HTTPBadRequest() from None
        end = start + timedelta(days=days)
        rotations = []
        for r in schedule.rotations:
            periods = [
                {
                    "startDate": ts(max(o.start, start)),
                    "endDate": ts(min(o.end, end)),
                    "type": "default",
                    "recipient": {"id": o.id, "type": o.type},
                }
                for o in sorted(self.oncalls, key=lambda o: o.start)
                if o.rotation_id == r.id and o.start < end and o.end > start
            ]
            rotations.append({"id": r.id, "name": r.name, "order": 1.0, "periods": periods})
        final = {"rotations": rotations}
        return web.json_response(
            {
                "_parent": {"id": schedule.id, "name": schedule.name, "enabled": schedule.enabled},
                "startDate": ts(start),
                "endDate": ts(end),
                "finalTimeline": final,
                "baseTimeline": final,
            }
        )

    async def list_teams(self, request: web.Request) -> web.Response:
        self._cloud(request)
        return web.json_response(
            [{"teamId": t.id, "teamName": t.name} for t in self.teams.values()]
        )

    async def list_alerts(self, request: web.Request) -> web.Response:
        self._cloud(request)
        offset = max(0, self._int(request, "offset", 0))
        size = min(100, max(1, self._int(request, "size", 20)))
        query = request.query.get("query", "").strip()
        if query and query not in ("status:open", "status:closed"):
            return self.error(422, f"Query is not supported here: {query}")
        wanted = query.partition(":")[2]
        found = [a for a in self.alerts.values() if not wanted or a.status == wanted]
        newest = request.query.get("order", "desc") != "asc"
        found.sort(key=lambda a: (a.created_at, a.tiny_id), reverse=newest)
        page = found[offset : offset + size]
        body: dict[str, Any] = {"values": [self.alert(a) for a in page], "links": {}}
        if offset + size < len(found):
            body["links"]["next"] = f"/v1/alerts?offset={offset + size}&size={size}"
        return web.json_response(body)

    async def get_alert(self, request: web.Request) -> web.Response:
        self._cloud(request)
        found = self.alerts.get(request.match_info["alert_id"])
        if found is None:
            return self.error(404, "Alert not found")
        return web.json_response(self.alert(found))
