"""Making access real and taking it back: the grant with its retries, the end (bounded by the
shift), and revokes that are retried until the target acknowledges them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from core.durations import format_duration
from core.errors import DomainError, Unavailable
from core.identity import SYSTEM
from core.policy import Resource
from core.ports import (
    Grant,
    Granter,
)
from core.requests import AccessRequest, Kind, Status
from core.service_state import REVOKE_ALERT_AFTER, Workflow

log = logging.getLogger(__name__)

GRANT_GRACE = timedelta(minutes=2)
"""Every approval is recorded as due to be granted this long after it, in the same transaction:
if the process or the database goes away before the grant is recorded, the scheduler grants it
then, so an approval is never stranded. Recording the grant clears it."""


class Granting:
    """Gives access through the resource's granter and takes it back, with retries."""

    def __init__(self, workflow: Workflow, granters: Mapping[str, Granter]) -> None:
        self._w = workflow
        self.granters = granters

    async def activate(self, approved: AccessRequest, actor: str) -> AccessRequest:
        """Make the access real. A failed grant leaves the request approved, tells the requester
        and the admins, and is retried with backoff by the scheduler.

        The approval is already committed: if the database goes away now, whoever decided is
        told that, not that nothing changed."""
        try:
            return await self._activate(approved, actor)
        except Unavailable as exc:
            raise Unavailable(
                f"{approved.id} is approved, but the access database went away before the access "
                "was recorded; it is granted by itself once the database is back.",
                detail=exc.detail,
            ) from exc

    async def _activate(self, approved: AccessRequest, actor: str) -> AccessRequest:
        res = self._w.resource(approved.resource)
        now = self._w.clock.now()
        end = self._end_of(approved, res, now)
        try:
            receipt = await self._granter(res).grant(self._grant_of(approved, res, now, end))
        except Exception as exc:
            log.warning("grant of %s failed: %s", approved.id, type(exc).__name__)
            attempts = approved.attempts + 1
            await self._w.store.update_if(
                approved.id,
                {"status": Status.APPROVED},
                {
                    "attempts": attempts,
                    "next_attempt_at": now + backoff(attempts),
                    "last_error": _describe(exc),
                },
                self._w.event(
                    "access.grant_failed",
                    approved,
                    SYSTEM,
                    {"error": _describe(exc), "attempt": attempts},
                ),
            )
            if attempts == 1:
                await self._w.after_change(
                    approved,
                    f"Your request {approved.id} was approved, but granting {approved.resource} failed; "
                    "it is retried and admins are told.",
                )
                await self._w.notifier.alert_admins(
                    f"Granting {approved.id} ({approved.resource} for {approved.requester}) failed: {_describe(exc).rstrip('.')}. Retrying."
                )
            return await self._w.get(approved.id)
        active = await self._w.store.transition(
            approved.id,
            Status.APPROVED,
            Status.ACTIVE,
            {
                "granted_at": now,
                "expires_at": end,
                "grant_receipt": receipt,
                "attempts": 0,
                "next_attempt_at": None,
                "last_error": None,
            },
            self._w.event(
                "access.granted",
                approved,
                actor,
                {
                    "duration": format_duration(approved.duration),
                    "until": end.isoformat(),
                    "granter": receipt,
                },
            ),
        )
        if active is None:
            return await self._w.get(approved.id)
        if active.kind == Kind.BIRTHRIGHT:
            text = f"You have {active.resource} while you are on call ({active.id})."
        elif active.kind == Kind.BREAK_GLASS:
            text = f"Break-glass access to {active.resource} granted for {format_duration(active.duration)} ({active.id}); approvers are told and will review it."
        else:
            by = "automatically (you are on call)" if actor == SYSTEM else f"by {actor}"
            text = f"Your request {active.id} for {active.resource} was approved {by}; access for {format_duration(active.duration)}."
        await self._w.after_change(active, text)
        return active

    def _end_of(self, request: AccessRequest, res: Resource, now: datetime) -> datetime:
        """The requested end, or the end of the shift that made the requester eligible, whichever
        comes first (per resource `end_with_shift`; permanent on-calls are not cut short)."""
        end = now + request.duration
        shift_end = request.evidence.get("shift_end")
        on_call_rule = str(request.evidence.get("rule", "")).endswith("on_call")
        if (
            request.kind in (Kind.REQUEST, Kind.BREAK_GLASS)
            and res.ends_with_shift
            and on_call_rule
            and shift_end
        ):
            end = min(end, datetime.fromisoformat(shift_end))
        return end

    async def move_end(self, request: AccessRequest) -> None:
        """Tell the granter an active grant now ends at its new end (a webhook receiver may
        expire access by itself). The extension stands either way; a failure is for the admins."""
        try:
            granter, grant = self._granted_with(request)
            await granter.extend(grant)
        except Exception as exc:
            log.warning(
                "extension of %s not sent to its granter: %s", request.id, type(exc).__name__
            )
            await self._w.notifier.alert_admins(
                f"The extension of {request.id} ({request.resource} for {request.requester}) did not "
                f"reach its granter: {_describe(exc).rstrip('.')}. Where the target ends access by "
                "itself, it ends at the old time."
            )

    async def take_back(self, request: AccessRequest) -> dict[str, Any]:
        """Revoke in the world; a granter that sees the access changed by hand says so."""
        granter, grant = self._granted_with(request)
        receipt = await granter.revoke(grant)
        if receipt.get("manual_change"):
            await self._w.notifier.alert_admins(
                f"Revoking {request.id} ({request.resource} for {request.requester}) left a manual change alone: "
                f"{receipt['manual_change']}"
            )
        return receipt

    def _granted_with(self, request: AccessRequest) -> tuple[Granter, Grant]:
        """The granter that granted `request` and the grant as it stands, as its receipt says
        when the policy has changed since."""
        res = self._w.policy.resources.get(request.resource)
        granted_as = str(
            (request.grant_receipt or {}).get("type") or (res.grant.type if res else "record")
        )
        granter = self.granters.get(granted_as)
        if granter is None:
            raise DomainError(
                f"{request.resource} was granted as {granted_as}, which is not set up here."
            )
        start = request.granted_at or request.created_at
        end = request.expires_at or self._w.clock.now()
        grant = self._grant_of(request, res, start, end)
        if res is None or res.grant.type != granted_as:
            # the policy changed since the grant: undo what was done, as the receipt says
            grant = replace(grant, spec={"type": granted_as, **(request.grant_receipt or {})})
        return granter, grant

    async def revoke_failed(
        self, request: AccessRequest, exc: Exception, *, end_as: Status | None = None
    ) -> None:
        """Remember a revoke that did not go through; it is retried with backoff, and after a few
        failures the admins are told (and `status` lists it)."""
        now = self._w.clock.now()
        attempts = request.attempts + 1
        changes: dict[str, Any] = {
            "attempts": attempts,
            "next_attempt_at": now + backoff(attempts),
            "last_error": _describe(exc),
        }
        if end_as is not None:
            changes.update(end_as=end_as.value, expires_at=min(request.expires_at or now, now))
        log.warning(
            "revoke of %s failed (attempt %d): %s", request.id, attempts, type(exc).__name__
        )
        await self._w.store.update_if(
            request.id,
            {"status": Status.ACTIVE},
            changes,
            self._w.event(
                "access.revoke_failed",
                request,
                SYSTEM,
                {"error": _describe(exc), "attempt": attempts},
            ),
        )
        if attempts in (1, REVOKE_ALERT_AFTER):
            await self._w.notifier.alert_admins(
                f"Revoking {request.id} ({request.resource} for {request.requester}) failed {attempts} time(s): "
                f"{_describe(exc).rstrip('.')}. It is retried until it succeeds."
            )

    def _grant_of(
        self, request: AccessRequest, res: Resource | None, start: datetime, end: datetime
    ) -> Grant:
        return Grant(
            request_id=request.id,
            resource=request.resource,
            email=request.requester,
            start=start,
            end=end,
            approvers=request.approvals or ((request.decided_by,) if request.decided_by else ()),
            reason=request.reason,
            spec=res.grant.model_dump() if res else {"type": "record"},
            receipt=request.grant_receipt or {},
        )

    def _granter(self, res: Resource) -> Granter:
        granter = self.granters.get(res.grant.type)
        if granter is None:
            raise DomainError(
                f"{res.name} uses grant type {res.grant.type}, which is not set up here."
            )
        return granter


def backoff(attempts: int) -> timedelta:
    """30 s, 1 m, 2 m, 4 m, ... at most 15 m between attempts at a grant or a revoke."""
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 900))


def _describe(exc: Exception) -> str:
    """What failed, safe to store and show: a DomainError's sentence, else the error's kind."""
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) and message else type(exc).__name__
