"""Scheduled work on requests: expire grants at their end (retrying revokes until they succeed),
retry failed grants, remind approvers, escalate, time out, and remind open break-glass reviews.

Each job claims its work per request with a compare-and-set, so a retry, a second replica or a
restart never acts twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from core.durations import format_duration
from core.grant_parts import any_given
from core.groups import GroupRef
from core.identity import SYSTEM
from core.replies import describe_request
from core.requests import AccessRequest, Kind, ReviewState, Status
from core.roster import Roster
from core.rules import approvers_now
from core.service import AccessService

log = logging.getLogger(__name__)
REVIEW_REMINDER_EVERY = timedelta(days=1)


class Lifecycle:
    def __init__(self, service: AccessService) -> None:
        self.s = service

    async def run_all(self) -> dict[str, int]:
        """Every job once, in the order that keeps access tight: take back first."""
        return {
            "warned": await self.warn_before_shift_end(),
            "expired": await self.expire_due_grants(),
            "granted": await self.retry_grants(),
            "reminded": await self.remind_and_escalate(),
            "timed_out": await self.time_out_pending(),
            "reviews": await self.remind_open_reviews(),
        }

    async def expire_due_grants(self) -> int:
        """Take back every grant whose time is up; a failed revoke is retried with backoff."""
        s, ended = self.s, 0
        for request in await s.store.due_to_expire(s.clock.now()):
            try:
                receipt = await s.take_back(request)
            except Exception as exc:
                await s.revoke_failed(request, exc)
                continue
            final = Status.REVOKED if request.end_as == Status.REVOKED else Status.EXPIRED
            event = "access.revoked" if final == Status.REVOKED else "access.expired"
            detail = {"granter": receipt, "after_attempts": request.attempts}
            if request.kind == Kind.BIRTHRIGHT:
                detail["birthright"] = "shift over"
            done = await s.store.transition(
                request.id,
                Status.ACTIVE,
                final,
                {"ended_at": s.clock.now(), "next_attempt_at": None},
                s.event(event, request, SYSTEM, detail),
            )
            if done:
                ended += 1
                verb = "was revoked" if final == Status.REVOKED else "has expired"
                await s.after_change(done, f"Your access to {done.resource} ({done.id}) {verb}.")
        return ended

    async def warn_before_shift_end(self) -> int:
        """A grant that ends with the requester's shift is announced before the hand-off."""
        s, count = self.s, 0
        now = s.clock.now()
        for request in await s.store.with_status(Status.ACTIVE):
            shift_end = request.evidence.shift_end
            if request.warned_at or not shift_end or request.expires_at is None:
                continue
            if shift_end != request.expires_at:
                continue  # ends before the shift does: nothing to announce
            if now < request.expires_at - s.settings.shift_end_warning:
                continue
            claimed = await s.store.update_if(
                request.id, {"warned_at": None, "status": Status.ACTIVE}, {"warned_at": now}
            )
            if claimed:
                count += 1
                left = format_duration(max(request.expires_at - now, timedelta(0)))
                await s.notifier.tell(
                    request.requester,
                    f"Your access to {request.resource} ({request.id}) ends in {left}, with your shift. "
                    f"The next on-call can request it.",
                    request,
                )
        return count

    async def retry_grants(self) -> int:
        """Approved requests whose grant failed: try again, until their window has passed."""
        s, count = self.s, 0
        now = s.clock.now()
        for request in await s.store.due_to_grant(now):
            window_end = (request.decided_at or request.created_at) + request.duration
            if now >= window_end:
                await self._give_up_grant(request)
                continue
            result = await s.activate(request, request.decided_by or SYSTEM)
            count += result.status == Status.ACTIVE
        return count

    async def _give_up_grant(self, request: AccessRequest) -> None:
        """The window passed without every grant in place. Grants already given are not left
        behind: the request becomes active, ending now, so the expiry job takes them back with
        its retries and alerts; with nothing given it ends here."""
        s, now = self.s, self.s.clock.now()
        detail: dict[str, Any] = {"attempts": request.attempts}
        if any_given(request.grant_receipt):
            detail["taking_back"] = True
            ending = await s.store.transition(
                request.id,
                Status.APPROVED,
                Status.ACTIVE,
                {
                    "granted_at": now,
                    "expires_at": now,
                    "end_as": Status.REVOKED,
                    "attempts": 0,
                    "next_attempt_at": None,
                },
                s.event("access.grant_abandoned", request, SYSTEM, detail),
            )
            if ending:
                await s.notifier.alert_admins(
                    f"Granting {request.resource} ({request.id} for {request.requester}) never succeeded in full "
                    f"before its time ran out (last: {request.last_error}); what was granted is being taken back."
                )
                await s.after_change(
                    ending,
                    f"Granting {ending.resource} ({ending.id}) never succeeded in full before its time ran out; "
                    "what was granted is being taken back.",
                )
            return
        gave_up = await s.store.transition(
            request.id,
            Status.APPROVED,
            Status.REVOKED,
            {"ended_at": now, "next_attempt_at": None},
            s.event("access.grant_abandoned", request, SYSTEM, detail),
        )
        if gave_up:
            await s.after_change(
                gave_up,
                f"Granting {gave_up.resource} ({gave_up.id}) never succeeded before its time ran out.",
            )

    async def time_out_pending(self) -> int:
        """Pending requests nobody decided within the approval timeout become timed_out."""
        s, count = self.s, 0
        for request in await s.store.due_to_time_out(s.clock.now()):
            timed_out = await s.store.transition(
                request.id,
                Status.PENDING,
                Status.TIMED_OUT,
                {"decided_by": SYSTEM, "decided_at": s.clock.now()},
                s.event("request.timed_out", request, SYSTEM, {}),
            )
            if timed_out:
                count += 1
                await s.after_change(
                    timed_out,
                    f"Nobody decided your request {timed_out.id} for {timed_out.resource} in time; it timed out.",
                )
        return count

    async def remind_and_escalate(self) -> int:
        """Remind the approvers at half the approval timeout; at three quarters, also ask the
        groups in `approve.escalate_to`."""
        s, count = self.s, 0
        now = s.clock.now()
        roster = await s.roster.current()
        for request in await s.store.with_status(Status.PENDING):
            res = s.policy.resources.get(request.resource)
            if res is None:
                continue
            window = request.timeout_at - request.created_at
            if request.reminded_at is None and now >= request.created_at + window / 2:
                claimed = await s.store.update_if(
                    request.id,
                    {"reminded_at": None, "status": Status.PENDING},
                    {"reminded_at": now},
                    s.event("request.reminded", request, SYSTEM, {}),
                )
                if claimed:
                    count += 1
                    for email in approvers_now(
                        res, request.requester, roster, now, s.settings.roster_max_age
                    ):
                        await s.notifier.tell(
                            email,
                            f"Reminder: {describe_request(request, now=now)} Still waiting for you.",
                            request,
                        )
            escalate_to = res.approve.escalate_to
            if (
                escalate_to
                and request.escalated_at is None
                and now >= request.created_at + window * 3 / 4
            ):
                await self._escalate(request, res.approve.escalate_to, roster)
                count += 1
        return count

    async def _escalate(
        self, request: AccessRequest, groups: tuple[GroupRef, ...], roster: Roster
    ) -> None:
        s = self.s
        now = s.clock.now()
        people = sorted(
            {sh.email for g in groups for sh in roster.on_call_now(g, now)} - {request.requester}
        )
        claimed = await s.store.update_if(
            request.id,
            {"escalated_at": None, "status": Status.PENDING},
            {"escalated_at": now},
            s.event(
                "request.escalated",
                request,
                SYSTEM,
                {"to": [str(g) for g in groups], "people": people},
            ),
        )
        if not claimed or not people:
            return
        refs = await s.notifier.ask_approvers(claimed, people, describe_request(claimed, now=now))
        if refs:
            merged = claimed.message_refs + tuple((r.surface, r.ref) for r in refs)
            await s.store.update(claimed.id, {"message_refs": merged})
        await s.notifier.tell(
            claimed.requester,
            f"Nobody answered {claimed.id} yet; it was escalated to {', '.join(people)}.",
        )

    async def remind_open_reviews(self) -> int:
        """Break-glass accesses whose review is still open are reminded to approvers daily."""
        s, count = self.s, 0
        now = s.clock.now()
        roster = await s.roster.current()
        for request in await s.store.of_kind(
            Kind.BREAK_GLASS, Status.ACTIVE, Status.EXPIRED, Status.REVOKED
        ):
            if request.review != ReviewState.OPEN:
                continue
            last = request.reminded_at or request.granted_at or request.created_at
            if now - last < REVIEW_REMINDER_EVERY:
                continue
            claimed = await s.store.update_if(
                request.id,
                {"reminded_at": request.reminded_at, "review": ReviewState.OPEN},
                {"reminded_at": now},
            )
            res = s.policy.resources.get(request.resource)
            if not claimed or res is None:
                continue
            count += 1
            people = set(
                approvers_now(res, request.requester, roster, now, s.settings.roster_max_age)
            )
            people.update(p for p in res.approve.people if p != request.requester)
            for email in sorted(people):
                await s.notifier.tell(
                    email,
                    f"Review still open: break-glass {request.id} ({request.resource} by {request.requester}). "
                    f"`review {request.id} ok` or `review {request.id} flag COMMENT`.",
                    request,
                )
        return count
