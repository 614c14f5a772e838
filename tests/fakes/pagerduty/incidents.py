"""Services, incidents and v3 webhook deliveries of the fake PagerDuty account.

Shapes follow the OpenAPI spec (`Service`, `Incident` with `assignments`) and the v3 webhook
payload documented in PagerDuty's developer docs (`event.data` of type `incident`, with
`number` and `assignees`). Deliveries are signed as PagerDuty signs them: `X-PagerDuty-Signature:
v1=HEX[,v1=HEX]`, the HMAC-SHA256 of the raw body under each subscription secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from tests.fakes.pagerduty import render
from tests.fakes.pagerduty.model import User

Obj = dict[str, Any]


@dataclass
class Service:
    id: str
    name: str
    escalation_policy_id: str | None = None


@dataclass
class IncidentRecord:
    id: str
    number: int
    title: str
    service_id: str
    status: str  # triggered | acknowledged | resolved
    created_at: datetime
    assignees: list[str] = field(default_factory=list)  # user ids
    resolved_at: datetime | None = None


def service_ref(s: Service) -> Obj:
    return {
        "id": s.id,
        "type": "service_reference",
        "summary": s.name,
        "self": f"{render.API}/services/{s.id}",
        "html_url": f"{render.WEB}/service-directory/{s.id}",
    }


def service(s: Service, created_at: datetime) -> Obj:
    body: Obj = {
        **service_ref(s),
        "type": "service",
        "name": s.name,
        "description": f"The {s.name} service",
        "status": "active",
        "created_at": render.ts(created_at),
        "teams": [],
        "incident_urgency_rule": {"type": "constant", "urgency": "high"},
        "acknowledgement_timeout": 1800,
        "auto_resolve_timeout": 14400,
        "alert_creation": "create_alerts_and_incidents",
        # every PagerDuty service escalates somewhere; the spec requires the reference
        "escalation_policy": render.ref(
            "escalation_policy", s.escalation_policy_id or "PDEFAULT", "Default"
        ),
    }
    return body


def incident(i: IncidentRecord, s: Service, users: dict[str, User]) -> Obj:
    return {
        "id": i.id,
        "type": "incident",
        "summary": f"[#{i.number}] {i.title}",
        "self": f"{render.API}/incidents/{i.id}",
        "html_url": f"{render.WEB}/incidents/{i.id}",
        "incident_number": i.number,
        "title": i.title,
        "created_at": render.ts(i.created_at),
        "updated_at": render.ts(i.resolved_at or i.created_at),
        "status": i.status,
        "incident_key": uuid.uuid5(uuid.NAMESPACE_URL, i.id).hex,
        "service": service_ref(s),
        "assignments": [
            {"at": render.ts(i.created_at), "assignee": render.user_ref(users[u])}
            for u in i.assignees
            if u in users and i.status != "resolved"
        ],
        "assigned_via": "escalation_policy",
        "last_status_change_at": render.ts(i.resolved_at or i.created_at),
        "acknowledgements": [],
        "pending_actions": [],
        "teams": [],
        "urgency": "high",
        # the spec types `resolved_at` and `resolve_reason` without null: absent until resolved
        **({"resolved_at": render.ts(i.resolved_at)} if i.resolved_at else {}),
    }


def webhook_data(i: IncidentRecord, s: Service, users: dict[str, User]) -> Obj:
    """`event.data` of an incident event, as the v3 webhook docs show it."""
    return {
        "id": i.id,
        "type": "incident",
        "self": f"{render.API}/incidents/{i.id}",
        "html_url": f"{render.WEB}/incidents/{i.id}",
        "number": i.number,
        "status": i.status,
        "incident_key": uuid.uuid5(uuid.NAMESPACE_URL, i.id).hex,
        "created_at": render.ts(i.created_at),
        "title": i.title,
        "service": service_ref(s),
        "assignees": [render.user_ref(users[u]) for u in i.assignees if u in users],
        "escalation_policy": None,
        "teams": [],
        "priority": None,
        "urgency": "high",
        "conference_bridge": None,
        "resolve_reason": None,
    }


def webhook_body(event_type: str, data: Obj, occurred_at: datetime) -> bytes:
    payload = {
        "event": {
            "id": str(uuid.uuid4()),
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": render.ts(occurred_at),
            "agent": None,
            "client": None,
            "data": data,
        }
    }
    return json.dumps(payload).encode()


def signature(body: bytes, *secrets: str) -> str:
    return ",".join("v1=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets)


@dataclass
class Delivery:
    status: int
    body: Obj


async def deliver(url: str, body: bytes, header: str | None) -> Delivery:
    """POST one delivery over HTTP as PagerDuty does (its headers, the raw body)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "PagerDuty-Webhook/V3.0",
        "X-Webhook-Id": str(uuid.uuid4()),
        "X-Webhook-Subscription": "PSUB123",
    }
    if header is not None:
        headers["X-PagerDuty-Signature"] = header
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        try:
            answer = await response.json(content_type=None)
        except ValueError:
            answer = {}
        return Delivery(response.status, answer if isinstance(answer, dict) else {})


class IncidentState:
    """Services and incidents of the fake account, and the API routes that read them.

    Mixed into `FakePagerDuty`, which provides users, paging, errors and the clock."""

    users: dict[str, User]
    now: Any

    def __init__(self) -> None:
        self.services: dict[str, Service] = {}
        self.incidents: dict[str, IncidentRecord] = {}
        self._numbers = 1000

    def add_service(self, name: str, *, id: str | None = None) -> Service:
        s = Service(id or self.new_id(), name)  # type: ignore[attr-defined]
        self.services[s.id] = s
        return s

    def trigger(
        self, service: Service, title: str, assignees: list[User], *, acknowledged: bool = False
    ) -> IncidentRecord:
        self._numbers += 1
        i = IncidentRecord(
            id=self.new_id(),  # type: ignore[attr-defined]
            number=self._numbers,
            title=title,
            service_id=service.id,
            status="acknowledged" if acknowledged else "triggered",
            created_at=self.now(),
            assignees=[u.id for u in assignees],
        )
        self.incidents[i.id] = i
        return i

    def resolve(self, i: IncidentRecord) -> bytes:
        """Resolve `i`; returns the body of the `incident.resolved` delivery."""
        i.status, i.resolved_at = "resolved", self.now()
        data = webhook_data(i, self.services[i.service_id], self.users)
        i.assignees = []
        data["assignees"] = []
        return webhook_body("incident.resolved", data, self.now())

    def reassign(self, i: IncidentRecord, to: list[User]) -> bytes:
        """Assign `i` to `to` instead; returns the body of the `incident.reassigned` delivery."""
        i.assignees = [u.id for u in to]
        data = webhook_data(i, self.services[i.service_id], self.users)
        return webhook_body("incident.reassigned", data, self.now())

    def render_incident(self, i: IncidentRecord) -> Obj:
        return incident(i, self.services[i.service_id], self.users)

    async def list_services(self, request: Any) -> Any:
        query = request.query.get("query", "").lower()
        found = [s for s in self.services.values() if not query or query in s.name.lower()]
        created = self.now()
        return self._page(request, "services", found, lambda s: service(s, created))  # type: ignore[attr-defined]

    async def list_incidents(self, request: Any) -> Any:
        statuses = set(request.query.getall("statuses[]", []))
        users = set(request.query.getall("user_ids[]", []))
        services = set(request.query.getall("service_ids[]", []))
        found = [
            i
            for i in self.incidents.values()
            if (not statuses or i.status in statuses)
            and (not users or (users & set(i.assignees) and i.status != "resolved"))
            and (not services or i.service_id in services)
        ]
        return self._page(request, "incidents", found, self.render_incident)  # type: ignore[attr-defined]

    async def get_incident(self, request: Any) -> Any:
        from aiohttp import web

        i = self.incidents.get(request.match_info["id"])
        if i is None:
            return self.error(404, "")  # type: ignore[attr-defined]
        return web.json_response({"incident": self.render_incident(i)})
