"""PagerDuty incidents as an IncidentSource: who is assigned to what, asked live.

`GET /incidents?user_ids[]=…&service_ids[]=…&statuses[]=triggered&statuses[]=acknowledged` answers
"is this person working an incident on these services" in one call; `GET /incidents/{id}` tells
the poller whether an incident behind a grant resolved or moved. Assignees are user references
without emails: they are read through the roster's directory, and an id it does not know is
looked up once (`GET /users/{id}`) and remembered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from adapters.pagerduty.client import PagerDutyClient, Params
from adapters.providerhttp import NotFound
from core.groups import GroupKind, GroupRef, Provider
from core.identity import is_email, normalize_email
from core.incidents import Incident, IncidentStatus

OPEN = [("statuses[]", "triggered"), ("statuses[]", "acknowledged")]
MAX_OPEN = 500  # incidents listed for `oncall`: past that, the first pages say enough


class PagerDutyIncidents:
    provider = Provider.PAGERDUTY

    def __init__(
        self,
        client: PagerDutyClient,
        user_ids: Callable[[], Mapping[str, str]],
        service_ids: Callable[[], Mapping[str, str]],
    ) -> None:
        self._client = client
        self._user_ids = user_ids  # email -> user id, from the latest sync
        self._service_ids = service_ids  # service name -> id, from the latest sync
        self._emails: dict[str, str | None] = {}  # user id -> email, for ids the sync missed

    async def assigned(self, email: str, services: Sequence[GroupRef]) -> list[Incident]:
        email = normalize_email(email)
        user_id = self._user_ids().get(email) or await self._user_id(email)
        ids = await self._service_ids_of(services)
        if user_id is None or not ids:
            return []
        params: Params = [("user_ids[]", user_id), *OPEN, *(("service_ids[]", i) for i in ids)]
        found = await self._list(params)
        return [i for i in found if i.assigned_to(email)]

    async def open_on(self, services: Sequence[GroupRef]) -> list[Incident]:
        ids = await self._service_ids_of(services)
        if not ids:
            return []
        return (await self._list([*OPEN, *(("service_ids[]", i) for i in ids)]))[:MAX_OPEN]

    @classmethod
    async def unmapped(cls, data: dict[str, Any]) -> Incident | None:
        """An event's incident read with no connection to look assignees up with: nobody is
        taken to be assigned, which ends access rather than keeping it."""
        return await read_incident(data, _nobody)

    async def from_webhook(self, data: dict[str, Any]) -> Incident | None:
        """The incident a v3 webhook event carries (`number`, `assignees` instead of the REST
        API's `incident_number`, `assignments`)."""
        return await self._incident(data)

    async def get(self, incident_id: str) -> Incident | None:
        try:
            body = await self._client.get(f"/incidents/{incident_id}")
        except NotFound:
            return None
        raw = body.get("incident")
        return await self._incident(raw) if isinstance(raw, dict) else None

    async def _list(self, params: Params) -> list[Incident]:
        raw = await self._client.list_all("/incidents", "incidents", params)
        found = [await self._incident(r) for r in raw if isinstance(r, dict)]
        return [i for i in found if i is not None]

    async def _service_ids_of(self, services: Sequence[GroupRef]) -> list[str]:
        known = self._service_ids()
        ids = []
        for group in services:
            if group.provider is not Provider.PAGERDUTY or group.kind is not GroupKind.SERVICE:
                continue
            found = known.get(group.name) or await self._service_id(group.name)
            if found:
                ids.append(found)
        return ids

    async def _service_id(self, name: str) -> str | None:
        """A service created since the last sync: found by name."""
        body = await self._client.get("/services", [("query", name), ("limit", 25)])
        for service in body.get("services") or ():
            if isinstance(service, dict) and str(service.get("name", "")).strip() == name:
                return str(service.get("id"))
        return None

    async def _user_id(self, email: str) -> str | None:
        body = await self._client.get("/users", [("query", email), ("limit", 25)])
        for user in body.get("users") or ():
            if isinstance(user, dict) and normalize_email(str(user.get("email") or "")) == email:
                return str(user.get("id"))
        return None

    async def _email_of(self, user_id: str) -> str | None:
        for email, uid in self._user_ids().items():
            if uid == user_id:
                return email
        if user_id not in self._emails:
            try:
                body = await self._client.get(f"/users/{user_id}")
            except NotFound:
                self._emails[user_id] = None
            else:
                user = body.get("user")
                email = str(user.get("email") or "") if isinstance(user, dict) else ""
                self._emails[user_id] = normalize_email(email) if is_email(email) else None
        return self._emails[user_id]

    async def _incident(self, raw: dict[str, Any]) -> Incident | None:
        return await read_incident(raw, self._email_of)


async def read_incident(
    raw: dict[str, Any], email_of: Callable[[str], Awaitable[str | None]]
) -> Incident | None:
    """An incident from the REST API's shape or a v3 webhook's `event.data`."""
    service = raw.get("service")
    try:
        status = IncidentStatus(str(raw.get("status")))
    except ValueError:
        return None
    if not isinstance(service, dict) or not raw.get("id"):
        return None
    name = str(service.get("summary") or service.get("name") or service.get("id"))
    refs = [a.get("assignee") for a in _dicts(raw.get("assignments"))]  # REST API
    refs += _dicts(raw.get("assignees"))  # a v3 webhook's `event.data`
    assignees = set()
    for ref in refs:
        if isinstance(ref, dict) and ref.get("id"):
            email = await email_of(str(ref["id"]))
            if email:
                assignees.add(email)
    number = raw.get("incident_number", raw.get("number"))
    return Incident(
        provider=Provider.PAGERDUTY,
        id=str(raw["id"]),
        number=number if isinstance(number, int) else None,
        title=str(raw.get("title") or raw.get("summary") or ""),
        url=str(raw.get("html_url") or ""),
        status=status,
        service=GroupRef(Provider.PAGERDUTY, GroupKind.SERVICE, name.strip()),
        assignees=frozenset(assignees),
    )


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


async def _nobody(user_id: str) -> str | None:
    return None
