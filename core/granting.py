"""Making access real and taking it back: the grant with its retries, the end (bounded by the
shift), and revokes that are retried until the target acknowledges them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from core.durations import format_duration
from core.errors import DomainError, Unavailable
from core.grant_parts import REVOKED, Part, given, parts_of, receipt_of
from core.identity import SYSTEM
from core.policy import GrantSpec, Resource
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
        parts, failures = await self._grant_parts(approved, res, now, end)
        if failures:
            return await self._grant_failed(approved, parts, failures, len(res.grants))
        receipt = receipt_of(parts)
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
            by = f"by {actor}"
            if actor == SYSTEM:
                incident = active.evidence.incident
                by = (
                    f"automatically (you are assigned to {incident.label})"
                    if incident is not None
                    else "automatically (you are on call)"
                )
            text = f"Your request {active.id} for {active.resource} was approved {by}; access for {format_duration(active.duration)}."
        await self._w.after_change(active, text)
        return active

    async def _grant_parts(
        self, approved: AccessRequest, res: Resource, now: datetime, end: datetime
    ) -> tuple[list[Part], list[tuple[str, Exception]]]:
        """Give every grant of the resource not given yet (an earlier attempt may have given
        some); each is tried even when another fails, so the admins hear of every failing one."""
        parts = parts_of(approved.grant_receipt)
        parts += [None] * (len(res.grants) - len(parts))
        failures: list[tuple[str, Exception]] = []
        for i, spec in enumerate(res.grants):
            earlier = parts[i]
            if earlier is not None and earlier.get("type", spec.type) == spec.type:
                continue
            if earlier is not None:
                parts.append(earlier)  # the policy changed meanwhile: still taken back at the end
                parts[i] = None
            try:
                granter = self._granter(res, spec.type)
                parts[i] = await granter.grant(
                    self._grant_of(approved, spec.model_dump(), now, end)
                )
            except Exception as exc:
                log.warning(
                    "grant of %s (%s) failed: %s", approved.id, spec.type, type(exc).__name__
                )
                self._w.metrics.grant_failed(spec.type, "grant")
                failures.append((spec.type, exc))
        return parts, failures

    async def _grant_failed(
        self,
        approved: AccessRequest,
        parts: list[Part],
        failures: list[tuple[str, Exception]],
        total: int,
    ) -> AccessRequest:
        """Keep what was given (so the retry finishes the rest, and giving up takes it back),
        and say which grants failed."""
        now = self._w.clock.now()
        attempts = approved.attempts + 1
        error = _describe_all(failures, total)
        detail: dict[str, Any] = {"error": error, "attempt": attempts}
        if total > 1:
            detail["granted"] = [p.get("type") for p in parts if p is not None]
            detail["failed"] = [kind for kind, _ in failures]
        await self._w.store.update_if(
            approved.id,
            {"status": Status.APPROVED},
            {
                "attempts": attempts,
                "next_attempt_at": now + backoff(attempts),
                "last_error": error,
                "grant_receipt": receipt_of(parts),
            },
            self._w.event("access.grant_failed", approved, SYSTEM, detail),
        )
        if attempts == 1:
            partly = (
                f" ({total - len(failures)} of {total} grants are in place until then)"
                if total > 1 and len(failures) < total
                else ""
            )
            await self._w.after_change(
                approved,
                f"Your request {approved.id} was approved, but granting {approved.resource} failed{partly}; "
                "it is retried and admins are told.",
            )
            await self._w.notifier.alert_admins(
                f"Granting {approved.id} ({approved.resource} for {approved.requester}) failed: {error.rstrip('.')}. Retrying."
            )
        return await self._w.get(approved.id)

    def _end_of(self, request: AccessRequest, res: Resource, now: datetime) -> datetime:
        """The requested end, or the end of the shift that made the requester eligible, whichever
        comes first (per resource `end_with_shift`; permanent on-calls are not cut short)."""
        end = now + request.duration
        shift_end = request.evidence.shift_end
        if (
            request.kind in (Kind.REQUEST, Kind.BREAK_GLASS)
            and res.ends_with_shift
            and request.evidence.on_call
            and shift_end
        ):
            end = min(end, shift_end)
        return end

    async def move_end(self, request: AccessRequest) -> None:
        """Tell the granters an active grant now ends at its new end (a webhook receiver may
        expire access by itself). The extension stands either way; a failure is for the admins."""
        parts = self._parts_to_undo(request)
        for i in given(parts):
            try:
                granter, grant = self._granted_with(request, i, parts[i])
                await granter.extend(grant)
            except Exception as exc:
                log.warning(
                    "extension of %s not sent to its granter: %s", request.id, type(exc).__name__
                )
                self._w.metrics.grant_failed(self._kind_of(request, i, parts[i]), "extend")
                await self._w.notifier.alert_admins(
                    f"The extension of {request.id} ({request.resource} for {request.requester}) did not "
                    f"reach its granter: {_describe(exc).rstrip('.')}. Where the target ends access by "
                    "itself, it ends at the old time."
                )

    async def take_back(self, request: AccessRequest) -> dict[str, Any]:
        """Revoke every grant given in the world (one failing does not stop the others); a
        granter that sees the access changed by hand says so, and it is left as it is.

        With several grants, a failure raises `PartlyRevoked` carrying what was taken back, for
        `revoke_failed` to store: the retry revokes only the rest."""
        parts = self._parts_to_undo(request)
        failures: list[tuple[str, Exception]] = []
        for i in given(parts):
            part = parts[i] or {}
            try:
                granter, grant = self._granted_with(request, i, part)
                result = await granter.revoke(grant)
            except Exception as exc:
                self._w.metrics.grant_failed(self._kind_of(request, i, part), "revoke")
                if len(parts) == 1:
                    raise
                failures.append((self._kind_of(request, i, part), exc))
                continue
            parts[i] = {**part, REVOKED: result}
            if result.get("manual_change"):
                await self._w.notifier.alert_admins(
                    f"Revoking {request.id} ({request.resource} for {request.requester}) left a manual change alone: "
                    f"{result['manual_change']}"
                )
        if failures:
            raise PartlyRevoked(_describe_all(failures, len(parts)), receipt_of(parts))
        if len(parts) == 1:
            return dict((parts[0] or {}).get(REVOKED) or {})
        return {"parts": [(p or {}).get(REVOKED) for p in parts]}

    def _parts_to_undo(self, request: AccessRequest) -> list[Part]:
        """The parts as the receipt has them; a grant recorded without one (an old or a
        hand-made row) is one part per grant the policy lists."""
        parts = parts_of(request.grant_receipt)
        if parts:
            return parts
        res = self._w.policy.resources.get(request.resource)
        return [{"type": spec.type} for spec in (res.grants if res else ())] or [{}]

    def _spec_at(self, request: AccessRequest, index: int) -> GrantSpec | None:
        res = self._w.policy.resources.get(request.resource)
        specs = res.grants if res else ()
        return specs[index] if index < len(specs) else None

    def _kind_of(self, request: AccessRequest, index: int, part: dict[str, Any] | None) -> str:
        """The grant type that gave a part: as its receipt says, else as the policy says."""
        spec = self._spec_at(request, index)
        return str((part or {}).get("type") or (spec.type if spec else "record"))

    def _granted_with(
        self, request: AccessRequest, index: int, part: dict[str, Any] | None
    ) -> tuple[Granter, Grant]:
        """The granter that gave part `index` of `request` and the grant as it stands, as its
        receipt says when the policy has changed since."""
        spec = self._spec_at(request, index)
        receipt = {k: v for k, v in (part or {}).items() if k != REVOKED}
        granted_as = self._kind_of(request, index, part)
        granter = self.granters.get(granted_as)
        if granter is None:
            raise DomainError(
                f"{request.resource} was granted as {granted_as}, which is not set up here."
            )
        start = request.granted_at or request.created_at
        end = request.expires_at or self._w.clock.now()
        if spec is not None and spec.type == granted_as:
            return granter, self._grant_of(request, spec.model_dump(), start, end, receipt)
        # the policy changed since the grant: undo what was done, as the receipt says
        return granter, self._grant_of(
            request, {"type": granted_as, **receipt}, start, end, receipt
        )

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
            changes.update(end_as=end_as, expires_at=min(request.expires_at or now, now))
        if isinstance(exc, PartlyRevoked):
            changes["grant_receipt"] = exc.receipt  # what is taken back is not revoked again
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
        self,
        request: AccessRequest,
        spec: dict[str, Any],
        start: datetime,
        end: datetime,
        receipt: dict[str, Any] | None = None,
    ) -> Grant:
        return Grant(
            request_id=request.id,
            resource=request.resource,
            email=request.requester,
            start=start,
            end=end,
            approvers=request.approvals or ((request.decided_by,) if request.decided_by else ()),
            reason=request.reason,
            spec=spec,
            receipt=receipt or {},
        )

    def _granter(self, res: Resource, kind: str) -> Granter:
        granter = self.granters.get(kind)
        if granter is None:
            raise DomainError(f"{res.name} uses grant type {kind}, which is not set up here.")
        return granter


class PartlyRevoked(DomainError):
    """Some of a resource's grants were taken back and some not: `receipt` says which, so the
    retry takes back only the rest."""

    def __init__(self, message: str, receipt: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.receipt = receipt


def backoff(attempts: int) -> timedelta:
    """30 s, 1 m, 2 m, 4 m, ... at most 15 m between attempts at a grant or a revoke."""
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 900))


def _describe_all(failures: list[tuple[str, Exception]], total: int) -> str:
    """One failure as its sentence; with several grants, each failing one by its type."""
    if total == 1 and len(failures) == 1:
        return _describe(failures[0][1])
    return "; ".join(f"{kind}: {_describe(exc).rstrip('.')}" for kind, exc in failures) + "."


def _describe(exc: Exception) -> str:
    """What failed, safe to store and show: a DomainError's sentence, else the error's kind."""
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) and message else type(exc).__name__
