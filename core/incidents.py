"""Incidents: who is working one right now, read live from the provider, never from a sync.

On-call is the roster; the incident is the reason. A resource may let whoever is assigned to a
triggered or acknowledged incident on its services request it (`request.incident`), and end the
access when the incident resolves or moves to someone else. Assignments change by the minute, so
they are asked for at the moment they decide something, and kept for a few seconds at most.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from core.groups import GroupRef, Provider
from core.identity import normalize_email

log = logging.getLogger(__name__)

LOOKUP_CACHE = timedelta(seconds=5)
"""How long one live answer is reused: a burst of `why`, `list` and a request asks once."""


def noun(provider: Provider) -> str:
    """What a provider's incidents are called in messages: JSM's are operations alerts."""
    return "alert" if provider is Provider.JSM else "incident"


class IncidentStatus(StrEnum):
    OPEN = "open"  # Opsgenie: one state from creation until resolved
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident as its provider describes it now; `assignees` are emails."""

    provider: Provider
    id: str
    number: int | None
    title: str
    url: str
    status: IncidentStatus
    service: GroupRef
    assignees: frozenset[str] = frozenset()

    @property
    def is_open(self) -> bool:
        return self.status is not IncidentStatus.RESOLVED

    def assigned_to(self, email: str) -> bool:
        return normalize_email(email) in self.assignees

    @property
    def label(self) -> str:
        """`PagerDuty incident #1234 "The server is on fire"`: how every message names it (JSM:
        `JSM alert #12 "..."`, since what it reads there are operations alerts)."""
        number = f" #{self.number}" if self.number is not None else f" {self.id}"
        return f'{self.provider.display} {noun(self.provider)}{number} "{self.title}"'


class IncidentSource(Protocol):
    """A provider's incidents, asked live (PagerDuty and Opsgenie incidents, JSM alerts)."""

    provider: Provider

    async def assigned(self, email: str, services: Sequence[GroupRef]) -> list[Incident]:
        """Open incidents on `services` that `email` is assigned to (responding to) now."""
        ...

    async def open_on(self, services: Sequence[GroupRef]) -> list[Incident]:
        """Open incidents on `services`, for people to see who is working what."""
        ...

    async def get(self, incident_id: str) -> Incident | None:
        """One incident as it is now; None when the provider no longer has it."""
        ...


class IncidentEventKind(StrEnum):
    RESOLVED = "resolved"
    REASSIGNED = "reassigned"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """What a provider's webhook said happened to an incident, already authenticated."""

    id: str
    kind: IncidentEventKind
    incident: Incident
    occurred_at: datetime


class IncidentLookup:
    """Live incident questions for the workflow, bounded by a deadline and cached briefly."""

    def __init__(
        self,
        sources: Callable[[], Sequence[IncidentSource]],
        now: Callable[[], datetime],
        deadline: Callable[[], float],
    ) -> None:
        self._sources = sources
        self._now = now
        self._deadline = deadline
        self._cache: dict[tuple[str, str, tuple[GroupRef, ...]], tuple[datetime, list[Incident]]]
        self._cache = {}

    def forget(self) -> None:
        """An incident changed (a webhook said so): no answer from before counts any more."""
        self._cache.clear()

    def source(self, provider: Provider) -> IncidentSource | None:
        return next((s for s in self._sources() if s.provider is provider), None)

    def covers(self, services: Sequence[GroupRef]) -> bool:
        """Whether any source can answer for these services at all."""
        have = {s.provider for s in self._sources()}
        return any(g.provider in have for g in services)

    async def assigned(self, email: str, services: Sequence[GroupRef]) -> list[Incident]:
        """Open incidents on `services` assigned to `email`, newest answer at most a few seconds
        old. Raises TimeoutError when no provider answered within the deadline."""
        email = normalize_email(email)
        return await self._ask(
            ("assigned", email, tuple(services)),
            services,
            lambda src, mine: src.assigned(email, mine),
        )

    async def open_on(self, services: Sequence[GroupRef]) -> list[Incident]:
        return await self._ask(
            ("open", "", tuple(services)), services, lambda src, mine: src.open_on(mine)
        )

    async def current(self, provider: Provider, incident_id: str) -> Incident | None:
        """The incident now, uncached: a recheck must see the latest state."""
        src = self.source(provider)
        if src is None:
            raise LookupError(f"{provider.display} is not connected")
        async with asyncio.timeout(self._deadline()):
            return await src.get(incident_id)

    async def _ask(
        self,
        key: tuple[str, str, tuple[GroupRef, ...]],
        services: Sequence[GroupRef],
        ask: Callable[[IncidentSource, list[GroupRef]], Awaitable[list[Incident]]],
    ) -> list[Incident]:
        now = self._now()
        cached = self._cache.get(key)
        if cached and now - cached[0] < LOOKUP_CACHE:
            return cached[1]
        calls = []
        for src in self._sources():
            mine = [g for g in services if g.provider is src.provider]
            if mine:
                calls.append(ask(src, mine))
        if not calls:
            return []
        async with asyncio.timeout(self._deadline()):
            answers = await asyncio.gather(*calls, return_exceptions=True)
        found: list[Incident] = []
        failed = 0
        for answer in answers:
            if isinstance(answer, BaseException):
                failed += 1
                log.info("incident lookup failed: %s", type(answer).__name__)
                continue
            found.extend(answer)
        if failed == len(answers):
            raise TimeoutError("no incident source answered")
        found.sort(key=lambda i: (i.number is None, -(i.number or 0), i.id))
        if len(self._cache) > 1000:
            self._cache.clear()
        self._cache[key] = (now, found)
        return found
