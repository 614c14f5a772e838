"""Opsgenie incidents as an IncidentSource: who is responding to what, asked live.

Opsgenie's Incident API (v1, Standard and Enterprise plans) has no assignee: an incident names
its `responders`, each a user or a team (`{type, id}`), and its `impactedServices` (service
ids). Someone responds to an incident when they are a user responder, or a member of a team
responder (the team's members as the latest roster sync saw them, as for `request.members`; a
team the sync did not see is read live). `GET /v1/incidents?query=status:open` lists the open
ones, newest first, 100 a page, following `paging.next`; `GET /v1/incidents/{id}` tells the
poller whether one behind a grant was resolved, closed, or lost the requester as a responder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from adapters.opsgenie.client import OpsgenieClient
from adapters.opsgenie.mapping import Directory
from adapters.providerhttp import BadResponse, NotFound
from core.groups import GroupKind, GroupRef, Provider
from core.identity import is_email, normalize_email
from core.incidents import Incident, IncidentStatus

OPEN_QUERY = [("query", "status:open"), ("order", "desc")]
PAGE = 100  # the list's maximum `limit`
MAX_PAGES = 10
"""Open incidents read per question at most (1,000): past that the newest say enough, and a
responder to an older one is refused (fail closed) rather than the answer missing its deadline."""
RESOLVED = IncidentStatus.RESOLVED
STATUSES = {
    "open": IncidentStatus.OPEN,
    "resolved": IncidentStatus.RESOLVED,
    "closed": IncidentStatus.RESOLVED,  # closed follows resolved; nobody works it any more
}

Obj = dict[str, Any]


class OpsgenieIncidents:
    provider = Provider.OPSGENIE

    def __init__(self, client: OpsgenieClient, directory: Callable[[], Directory]) -> None:
        self._client = client
        self._directory = directory  # users, teams and services from the latest sync
        self._emails: dict[str, str | None] = {}  # user id -> email, for ids the sync missed
        self._teams: dict[str, frozenset[str]] = {}  # team id -> emails, for teams it missed
        self._synced: Directory | None = None  # the sync the two above complement

    def _sync(self) -> Directory:
        """The latest sync's directory; what was looked up beside an older one is forgotten,
        so a team's members read live last until the next sync at most."""
        directory = self._directory()
        if directory is not self._synced:
            self._emails.clear()
            self._teams.clear()
            self._synced = directory
        return directory

    async def assigned(self, email: str, services: Sequence[GroupRef]) -> list[Incident]:
        email = normalize_email(email)
        found = await self.open_on(services)
        return [i for i in found if i.assigned_to(email)]

    async def open_on(self, services: Sequence[GroupRef]) -> list[Incident]:
        wanted = await self._service_ids(services)
        if not wanted:
            return []
        found = []
        for raw in await self._open():
            impacted = [str(s) for s in raw.get("impactedServices") or () if str(s) in wanted]
            if impacted:
                incident = await self._incident(raw, wanted[impacted[0]])
                if incident is not None:
                    found.append(incident)
        return found

    async def get(self, incident_id: str) -> Incident | None:
        try:
            raw = await self._client.data(
                f"/v1/incidents/{quote(incident_id, safe='')}", [("identifierType", "id")]
            )
        except NotFound:
            return None
        if not isinstance(raw, dict):
            raise BadResponse("Opsgenie answered an incident without its fields.")
        names = {sid: name for name, sid in self._sync().service_ids.items()}
        impacted = [str(s) for s in raw.get("impactedServices") or ()]
        name = next((names[s] for s in impacted if s in names), impacted[0] if impacted else "?")
        return await self._incident(raw, name)

    async def _open(self) -> list[Obj]:
        body = await self._client.get(
            "/v1/incidents", [*OPEN_QUERY, ("limit", PAGE), ("offset", 0)]
        )
        items = _dicts(body["data"])
        for _ in range(MAX_PAGES - 1):
            link = (body.get("paging") or {}).get("next")
            if not isinstance(link, str) or not link or not body["data"]:
                break
            body = await self._client.get(link)
            items.extend(_dicts(body["data"]))
        return items

    async def _service_ids(self, services: Sequence[GroupRef]) -> dict[str, str]:
        """Service id -> name for the Opsgenie services named; one created since the last
        sync is found by listing the services."""
        known = self._sync().service_ids
        names = [
            g.name
            for g in services
            if g.provider is Provider.OPSGENIE and g.kind is GroupKind.SERVICE
        ]
        missing = [n for n in names if n not in known]
        listed: dict[str, str] = {}
        if missing:
            for service in _dicts(await self._client.list_followed("/v1/services")):
                name = str(service.get("name") or "").strip()
                if name in missing and service.get("id"):
                    listed[name] = str(service["id"])
        ids = {**known, **listed}
        return {ids[n]: n for n in names if n in ids}

    async def _incident(self, raw: Obj, service: str) -> Incident | None:
        status = STATUSES.get(str(raw.get("status") or "").lower())
        if status is None or not raw.get("id"):
            return None
        tiny = str(raw.get("tinyId") or "")
        links = raw.get("links")
        return Incident(
            provider=Provider.OPSGENIE,
            id=str(raw["id"]),
            number=int(tiny) if tiny.isdigit() else None,
            title=str(raw.get("message") or ""),
            url=str(links.get("web") or "") if isinstance(links, dict) else "",
            status=status,
            service=GroupRef(Provider.OPSGENIE, GroupKind.SERVICE, service),
            assignees=frozenset(await self._responders(raw) if status is not RESOLVED else ()),
        )

    async def _responders(self, raw: Obj) -> set[str]:
        people: set[str] = set()
        for responder in _dicts(raw.get("responders")):
            kind, ident = responder.get("type"), str(responder.get("id") or "")
            if not ident:
                continue
            if kind == "user":
                email = await self._email_of(ident)
                if email:
                    people.add(email)
            elif kind == "team":
                people |= await self._members_of(ident)
            # escalation and schedule responders name nobody in particular: they do not count
        return people

    async def _email_of(self, user_id: str) -> str | None:
        for email, uid in self._sync().user_ids.items():
            if uid == user_id:
                return email
        if user_id not in self._emails:
            try:
                user = await self._client.data(f"/v2/users/{quote(user_id, safe='')}")
            except NotFound:
                self._emails[user_id] = None
            else:
                name = str(user.get("username") or "") if isinstance(user, dict) else ""
                self._emails[user_id] = normalize_email(name) if is_email(name) else None
        return self._emails[user_id]

    async def _members_of(self, team_id: str) -> frozenset[str]:
        synced = self._sync().team_members.get(team_id)
        if synced is not None:
            return synced
        if team_id not in self._teams:
            try:
                team = await self._client.data(f"/v2/teams/{quote(team_id, safe='')}")
            except NotFound:
                team = {}
            members = set()
            for member in _dicts(team.get("members") if isinstance(team, dict) else None):
                user = member.get("user")
                name = str(user.get("username") or "") if isinstance(user, dict) else ""
                if is_email(name):
                    members.add(normalize_email(name))
            self._teams[team_id] = frozenset(members)
        return self._teams[team_id]


def _dicts(value: object) -> list[Obj]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
