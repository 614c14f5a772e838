"""More time on an active grant: at once where the policy lets the requester have it (on call,
within their shift) or an admin extends someone else's, otherwise as an extension request that
goes through approval like any request; never beyond the resource's maximum.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core.durations import format_duration
from core.errors import DomainError
from core.granting import Granting
from core.identity import Actor
from core.policy import Resource
from core.replies import describe_request
from core.requests import AccessRequest, Kind, Status
from core.roster import Roster
from core.rules import Reason, Verdict, approvers_now, auto_approves
from core.service_state import Workflow, _refs


class Extensions:
    def __init__(self, workflow: Workflow, granting: Granting) -> None:
        self._w = workflow
        self._granting = granting

    async def extend(self, actor: Actor, request_id: str, more: timedelta | None) -> AccessRequest:
        """More time on an active grant, never beyond the resource's maximum: at once when
        auto-approval applies (the requester is on call) and the new end stays within their
        shift where the resource ends with it, or when an admin extends someone else's grant;
        otherwise as an extension request that goes through the same approval as a request."""
        request = await self._w.get(request_id)
        if actor.email != request.requester and not self._w.settings.is_admin(actor.email):
            raise DomainError(f"Only {request.requester} or an admin can extend {request.id}.")
        if request.kind == Kind.BIRTHRIGHT:
            raise DomainError(f"{request.id} lasts as long as the shift; it cannot be extended.")
        if (
            request.status != Status.ACTIVE
            or request.expires_at is None
            or request.granted_at is None
        ):
            raise DomainError(self._w.state_sentence(request))
        res, now = self._w.resource(request.resource), self._w.clock.now()
        roster = await self._w.roster.current()
        if more is None:
            more = self._until_shift_end(request, res, roster, now)
        self._check_extension_fits(request, res, more)
        max_age = self._w.settings.roster_max_age
        auto = auto_approves(res, request.requester, roster, now, max_age)
        shift_end = auto.at if res.ends_with_shift else None
        past_shift = shift_end is not None and request.expires_at + more > shift_end
        by_admin = self._w.settings.is_admin(actor.email) and actor.email != request.requester
        if (auto.allowed and not past_shift) or by_admin:
            return await self._apply_extension(
                request, more, actor.email, {"evidence": auto.evidence.to_dict()}
            )
        for other in await self._w.store.by_requester(request.requester):
            if (
                other.kind == Kind.EXTENSION
                and other.extends == request.id
                and other.status == Status.PENDING
            ):
                raise DomainError(
                    f"An extension of {request.id} is already waiting for approval ({other.id})."
                )
        approvers = approvers_now(res, request.requester, roster, now, max_age)
        if not approvers:
            raise DomainError(
                f"Nobody can approve extending {res.name} right now: no approver is on call or named."
            )
        verdict = Verdict(True, Reason.NAMED, request.evidence.extending(request.id))
        extension = self._w.new_request(
            actor,
            res,
            more,
            f"extend {request.id}: {request.reason}",
            verdict,
            kind=Kind.EXTENSION,
            extends=request.id,
        )
        await self._w.store.create(
            extension,
            self._w.event("request.created", extension, actor.email, {"extends": request.id}),
        )
        refs = await self._w.notifier.ask_approvers(
            extension, approvers, describe_request(extension, now=now)
        )
        if refs:
            await self._w.store.update(
                extension.id, {"message_refs": tuple((r.surface, r.ref) for r in refs)}
            )
        return await self._w.get(extension.id)

    def _until_shift_end(
        self, request: AccessRequest, res: Resource, roster: Roster, now: datetime
    ) -> timedelta:
        assert request.expires_at is not None
        shifts = [roster.on_call(request.requester, g, now) for g in res.request.on_call]
        ends = [s.end for s in shifts if s is not None and s.end is not None]
        if not ends:
            raise DomainError(
                f"{request.requester} is not on call with a shift end for {res.name}; give a duration instead."
            )
        more = max(ends) - request.expires_at
        if more <= timedelta(0):
            raise DomainError(f"{request.id} already lasts until the end of the shift.")
        return more

    def _check_extension_fits(self, request: AccessRequest, res: Resource, more: timedelta) -> None:
        assert request.expires_at is not None and request.granted_at is not None
        maximum = self._w.policy.max_duration(res)
        if request.expires_at + more - request.granted_at > maximum:
            raise DomainError(
                f"That would make {request.id} longer than the {format_duration(maximum)} maximum for {res.name}."
            )

    async def _apply_extension(
        self, request: AccessRequest, more: timedelta, actor: str, why: dict[str, Any]
    ) -> AccessRequest:
        """`why` is what the audit event records as the grounds: the evidence, or the approved
        extension request."""
        assert request.expires_at is not None and request.granted_at is not None
        new_end = request.expires_at + more
        extended = await self._w.store.update_if(
            request.id,
            {"status": Status.ACTIVE, "expires_at": request.expires_at},
            {"expires_at": new_end, "duration": new_end - request.granted_at},
            self._w.event(
                "access.extended",
                request,
                actor,
                {"by": format_duration(more), "new_end": new_end.isoformat(), **why},
            ),
        )
        if extended is None:
            raise DomainError(self._w.state_sentence(await self._w.get(request.id)))
        await self._granting.move_end(extended)
        await self._w.after_change(
            extended,
            f"Your access to {request.resource} ({request.id}) now lasts {format_duration(more)} longer.",
        )
        return extended

    async def approved(self, extension: AccessRequest, actor: str) -> AccessRequest:
        """An approved extension moves the original grant's end; the extension stays `approved`."""
        assert extension.extends is not None
        original = await self._w.get(extension.extends)
        res = self._w.resource(original.resource)
        if original.status != Status.ACTIVE:
            await self._w.after_change(
                extension, f"{original.id} ended before its extension was approved."
            )
            return extension
        self._check_extension_fits(original, res, extension.duration)
        await self._apply_extension(
            original, extension.duration, actor, {"evidence": {"extension": extension.id}}
        )
        await self._w.notifier.request_changed(extension, _refs(extension))
        return extension
