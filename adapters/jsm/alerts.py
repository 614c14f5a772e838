"""JSM operations alerts as an IncidentSource: who is responding to what, asked live.

In Jira Service Management an *incident* is a Jira issue whose Incident API is per-issue, beta
and for OAuth/Forge apps only; the operations API the roster already reads (Basic auth, e-mail
and API token) has *alerts*, which is what people are paged for. An alert names its
`responders` (`{id, type}`, of type user, team, escalation or schedule) and its `owner`; there
is no service. So a resource names JSM teams in `request.incident` (`jsm:team/NAME`, the same
groups the roster syncs), and:

- an alert is **on** `jsm:team/NAME` when that team is one of its `team` responders;
- someone **responds** to it when they are its owner, a `user` responder, or a member of any
  of its `team` responders (as the latest sync saw the team; a team the sync missed is read
  live from the Teams API). Escalation and schedule responders name nobody in particular;
- it is **open** until its `status` is `closed` (`acknowledged` is shown, and counts as open).

`GET /v1/alerts?query=status:open` lists the open ones, newest first, 100 a page, following
`links.next`, at most 10 pages; `GET /v1/alerts/{id}` tells the poller whether one behind a
grant closed or lost the requester. The API gives no link to the alert, so none is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from adapters.jsm.client import JsmClient
from adapters.jsm.mapping import Directory, team_ref
from adapters.jsm.people import AccountResolver
from adapters.jsm.teams import team_members
from adapters.providerhttp import BadResponse, NotFound
from core.groups import GroupKind, GroupRef, Provider
from core.identity import is_email, normalize_email
from core.incidents import Incident, IncidentStatus

OPEN_QUERY = [("query", "status:open"), ("sort", "createdAt"), ("order", "desc")]
PAGE = 100
MAX_PAGES = 10
"""Open alerts read per question at most (1,000): past that the newest say enough, and a
responder to an older one is refused (fail closed) rather than the answer missing its deadline."""

Obj = dict[str, Any]


class JsmAlerts:
    provider = Provider.JSM

    def __init__(
        self,
        client: JsmClient,
        directory: Callable[[], Directory],
        accounts: AccountResolver,
        org_id: Callable[[], str | None],
    ) -> None:
        self._client = client
        self._directory = directory  # team ids and members from the latest sync
        self._accounts = accounts  # account id -> e-mail, shared with the roster (cached)
        self._org_id = org_id
        self._teams: dict[str, tuple[str, ...]] = {}  # team id -> account ids, teams it missed
        self._synced: Directory | None = None

    def _sync(self) -> Directory:
        """The latest sync's directory; teams read live beside an older one are forgotten, so
        a team's members read live last until the next sync at most."""
        directory = self._directory()
        if directory is not self._synced:
            self._teams.clear()
            self._synced = directory
        return directory

    async def assigned(self, email: str, services: Sequence[GroupRef]) -> list[Incident]:
        email = normalize_email(email)
        return [i for i in await self.open_on(services) if i.assigned_to(email)]

    async def open_on(self, services: Sequence[GroupRef]) -> list[Incident]:
        wanted = await self._team_ids(services)
        if not wanted:
            return []
        found = []
        for raw in await self._open():
            teams = [tid for kind, tid in _responders(raw) if kind == "team" and tid in wanted]
            if teams:
                alert = await self._alert(raw, wanted[teams[0]])
                if alert is not None:
                    found.append(alert)
        return found

    async def get(self, incident_id: str) -> Incident | None:
        try:
            raw = await self._client.ops_get(f"/v1/alerts/{quote(incident_id, safe='')}")
        except NotFound:
            return None
        if not isinstance(raw, dict):
            raise BadResponse("JSM operations answered an alert without its fields.")
        names = {tid: name for name, tid in self._sync().team_ids.items()}
        teams = [tid for kind, tid in _responders(raw) if kind == "team"]
        name = next((names[t] for t in teams if t in names), teams[0] if teams else "?")
        return await self._alert(raw, name)

    async def _open(self) -> list[Obj]:
        body = await self._client.ops_get(
            "/v1/alerts", [*OPEN_QUERY, ("offset", 0), ("size", PAGE)]
        )
        items = _values(body)
        for _ in range(MAX_PAGES - 1):
            link = (body.get("links") or {}).get("next") if isinstance(body, dict) else None
            if not isinstance(link, str) or not link or not _values(body):
                break
            body = await self._client.follow(link, OPEN_QUERY)
            items.extend(_values(body))
        return items

    async def _team_ids(self, services: Sequence[GroupRef]) -> dict[str, str]:
        """Team id -> name for the JSM teams named; one created since the last sync is found
        by listing the operations teams."""
        known = self._sync().team_ids
        names = [
            g.name for g in services if g.provider is Provider.JSM and g.kind is GroupKind.TEAM
        ]
        listed: dict[str, str] = {}
        if any(n not in known for n in names):
            for team in await self._client.values("/v1/teams"):
                tid, name = team_ref(team)
                if tid and name in names:
                    listed[name] = tid
        ids = {**known, **listed}
        return {ids[n]: n for n in names if n in ids}

    async def _alert(self, raw: Obj, team: str) -> Incident | None:
        status = _status(raw)
        if status is None or not raw.get("id"):
            return None
        tiny = str(raw.get("tinyId") or "")
        return Incident(
            provider=Provider.JSM,
            id=str(raw["id"]),
            number=int(tiny) if tiny.isdigit() else None,
            title=str(raw.get("message") or ""),
            url="",
            status=status,
            service=GroupRef(Provider.JSM, GroupKind.TEAM, team),
            assignees=frozenset(
                await self._responding(raw) if status is not IncidentStatus.RESOLVED else ()
            ),
        )

    async def _responding(self, raw: Obj) -> set[str]:
        """E-mails of the owner, the user responders and the team responders' members."""
        people: set[str] = set()
        accounts: list[str] = []
        owner = str(raw.get("owner") or "").strip()
        if is_email(owner):
            people.add(normalize_email(owner))
        elif owner:
            accounts.append(owner)  # an account id; a display name resolves to nobody
        for kind, ident in _responders(raw):
            if kind == "user":
                accounts.append(ident)
            elif kind == "team":
                accounts.extend(await self._members_of(ident))
        found = await self._accounts.resolve(accounts)
        people.update(a.email for a in found.values() if a.email)
        return people

    async def _members_of(self, team_id: str) -> tuple[str, ...]:
        synced = self._sync().team_members.get(team_id)
        if synced is not None:
            return synced
        org_id = self._org_id()
        if not org_id:
            return ()  # members cannot be read without the organization id: nobody counts
        if team_id not in self._teams:
            try:
                members = await team_members(self._client, org_id, team_id)
            except NotFound:
                self._teams[team_id] = ()
            else:
                self._teams[team_id] = tuple(members.account_ids)
        return self._teams[team_id]


def _status(raw: Obj) -> IncidentStatus | None:
    status = str(raw.get("status") or "").lower()
    if status == "closed":
        return IncidentStatus.RESOLVED
    if status == "open":
        return (
            IncidentStatus.ACKNOWLEDGED if raw.get("acknowledged") is True else IncidentStatus.OPEN
        )
    return None  # a status the API may add later decides nothing


def _responders(raw: Obj) -> list[tuple[str, str]]:
    found = raw.get("responders")
    return [
        (str(r.get("type") or ""), str(r["id"]))
        for r in (found if isinstance(found, list) else ())
        if isinstance(r, dict) and r.get("id")
    ]


def _values(body: object) -> list[Obj]:
    found = body.get("values") if isinstance(body, dict) else None
    return [v for v in found if isinstance(v, dict)] if isinstance(found, list) else []
