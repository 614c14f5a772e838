"""Access that rests on an incident ends with it: when the incident resolves, or (per resource
`end_on_reassign`) when it is no longer assigned to the requester.

Two ways in, one way out. A provider's webhook (`on_event`) ends it within seconds; polling the
incidents behind active grants (`poll`, a few provider calls per tick, run by one replica under
the scheduler's lease) covers deliveries that never came. Either claims the grant with a
compare-and-set before taking it back, so a webhook and a poll racing end it once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from core.evidence import Basis
from core.granting import Granting
from core.groups import Provider
from core.identity import SYSTEM
from core.incidents import Incident, IncidentEvent, IncidentLookup
from core.requests import AccessRequest, Status
from core.service_state import Workflow

log = logging.getLogger(__name__)

POLL_EVERY = timedelta(seconds=15)
"""Each incident behind an active grant is asked about at least this often (with the
scheduler's tick of 5 s, an unannounced resolve ends the access within 20 s)."""
POLL_LIMIT = 20
"""Provider calls per tick at most; past that, the incidents asked about longest ago go first."""

Key = tuple[Provider, str]


class IncidentWatch:
    def __init__(self, workflow: Workflow, granting: Granting, lookup: IncidentLookup) -> None:
        self._w = workflow
        self._granting = granting
        self._lookup = lookup
        # When each incident was last asked about. Only fairness rests on it: a replica that
        # takes the lease over starts afresh and asks about every incident within a few ticks.
        self._asked: dict[Key, datetime] = {}

    async def on_event(self, event: IncidentEvent) -> int:
        """A webhook said `event.incident` changed: end the access it no longer justifies."""
        self._lookup.forget()
        key = (event.incident.provider, event.incident.id)
        ended = 0
        for request in (await self._behind()).get(key, []):
            if await self._settle(request, event.incident):
                ended += 1
        self._asked[key] = self._w.clock.now()
        return ended

    async def poll(self, limit: int = POLL_LIMIT) -> int:
        """Ask about the incidents behind active grants that are due; end what they no longer
        justify. Returns how many grants ended."""
        now = self._w.clock.now()
        behind = await self._behind()
        self._asked = {k: v for k, v in self._asked.items() if k in behind}
        due = [
            k
            for k in behind
            if now - self._asked.get(k, datetime.min.replace(tzinfo=now.tzinfo)) >= POLL_EVERY
        ]
        due.sort(key=lambda k: self._asked.get(k, datetime.min.replace(tzinfo=now.tzinfo)))
        ended = 0
        for provider, incident_id in due[:limit]:
            try:
                current = await self._lookup.current(provider, incident_id)
            except Exception as exc:  # the next tick asks again; the grant's end still holds
                log.info(
                    "could not ask %s about incident %s: %s",
                    provider.display,
                    incident_id,
                    type(exc).__name__,
                )
                continue
            self._asked[(provider, incident_id)] = now
            if current is None or not current.is_open:
                self._lookup.forget()
            for request in behind[(provider, incident_id)]:
                if await self._settle(request, current, incident_id):
                    ended += 1
        return ended

    async def _behind(self) -> dict[Key, list[AccessRequest]]:
        """Active grants that end with the incident they rest on, by incident."""
        found: dict[Key, list[AccessRequest]] = defaultdict(list)
        for request in await self._w.store.with_status(Status.ACTIVE):
            incident = request.evidence.incident
            if incident is None or request.evidence.basis is not Basis.INCIDENT:
                continue
            res = self._w.policy.resources.get(request.resource)
            if res is not None and not res.ends_with_incident:
                continue
            found[(incident.provider, incident.id)].append(request)
        return found

    def _why_end(self, request: AccessRequest, current: Incident | None) -> str | None:
        recorded = request.evidence.incident
        assert recorded is not None
        if current is None:
            return f"{recorded.label} no longer exists in {recorded.provider.display}"
        if not current.is_open:
            return f"{current.label} was resolved"
        res = self._w.policy.resources.get(request.resource)
        reassign = res.end_on_reassign if res is not None else True
        if reassign and not current.assigned_to(request.requester):
            return f"{current.label} was reassigned away from {request.requester}"
        return None

    async def _settle(
        self, request: AccessRequest, current: Incident | None, incident_id: str = ""
    ) -> bool:
        why = self._why_end(request, current)
        if why is None:
            return False
        now = self._w.clock.now()
        claimed = await self._w.store.update_if(
            request.id,
            {"status": Status.ACTIVE, "end_as": None},
            {"end_as": Status.REVOKED, "expires_at": min(request.expires_at or now, now)},
            self._w.event("access.incident_ended", request, SYSTEM, {"because": why}),
        )
        if claimed is None:
            return False  # ended, extended or claimed by someone else meanwhile
        try:
            receipt = await self._granting.take_back(claimed)
        except Exception as exc:
            # Marked to end now: the expiry job retries the revoke until it goes through.
            await self._granting.revoke_failed(claimed, exc)
            return True
        done = await self._w.store.transition(
            claimed.id,
            Status.ACTIVE,
            Status.REVOKED,
            {"ended_at": now, "next_attempt_at": None},
            self._w.event("access.revoked", claimed, SYSTEM, {"granter": receipt, "because": why}),
        )
        if done is not None:
            await self._w.after_change(
                done, f"Your access to {done.resource} ({done.id}) ended: {why}."
            )
        return True
