"""One dispatcher for every surface: parse the text, call the workflow, answer with a Reply.

A DomainError becomes its one-sentence message; a database outage (Unavailable) its own sentence,
logged once without a traceback; anything else is logged with a correlation id and answered with
a generic message carrying that id, never with exception text.
"""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from core import commands as c
from core.audit import AuditEvent
from core.connections import ProviderAdmin
from core.durations import format_duration
from core.errors import DomainError, Unavailable
from core.groups import GroupRef
from core.identity import Actor, is_email, normalize_email
from core.ports import IdentityOverrides
from core.replies import Reply, describe_request
from core.requests import Status
from core.rules import approvers_now, auto_approves, may_approve, may_request
from core.service import AccessService
from core.sync import RosterSyncer
from core.timefmt import show_age, show_time

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        service: AccessService,
        syncer: RosterSyncer,
        connections: ProviderAdmin | None = None,
        next_sync: Callable[[], datetime | None] = lambda: None,
        identities: IdentityOverrides | None = None,
    ) -> None:
        self._identities = identities
        self.service = service
        self._syncer = syncer
        self._connections = connections
        self._next_sync = next_sync

    def set_next_sync(self, next_sync: Callable[[], datetime | None]) -> None:
        """The scheduler tells when it syncs next, for `status` and `why`."""
        self._next_sync = next_sync

    async def handle(self, actor: Actor, text: str) -> Reply:
        try:
            actor = (await self.service.roster.identity_map()).actor(actor)
            return await self._route(actor, c.parse(text))
        except DomainError as exc:
            return Reply(exc.message, ok=False)
        except Exception:
            return self.internal_error(actor, text)

    def internal_error(self, actor: Actor, what: str) -> Reply:
        """The answer to an exception outside the domain; call it in the `except` block, as the
        exception being handled decides: an outage gets its sentence, a bug an error id."""
        exc = sys.exc_info()[1]
        if isinstance(exc, Unavailable):
            log.warning(
                "database unavailable for %s handling %r: %s", actor.email, what[:80], exc.detail
            )
            return Reply(exc.message, ok=False)
        incident = secrets.token_hex(4)
        log.exception("unexpected error [%s] for %s handling %r", incident, actor.email, what[:80])
        return Reply(
            f"Something went wrong on our side (error id {incident}); an admin can look it up.",
            ok=False,
        )

    async def execute(self, actor: Actor, command: c.Command) -> Reply:
        """Run an already-parsed command (a form or a button), with the same error mapping."""
        try:
            actor = (await self.service.roster.identity_map()).actor(actor)
            return await self._route(actor, command)
        except DomainError as exc:
            return Reply(exc.message, ok=False)
        except Exception:
            return self.internal_error(actor, type(command).__name__)

    async def run(self, actor: Actor, action: Callable[[], Awaitable[Reply]]) -> Reply:
        """Run a surface's own action (a button, a form) with the same error mapping."""
        try:
            return await action()
        except DomainError as exc:
            return Reply(exc.message, ok=False)
        except Exception:
            return self.internal_error(actor, getattr(action, "__name__", "action"))

    async def _route(self, actor: Actor, cmd: c.Command) -> Reply:
        s = self.service
        match cmd:
            case c.Request(resource=None):
                return Reply(
                    "Which resource? `request RESOURCE [DURATION] [REASON]`; `list` shows what you may request.",
                    open_form="request",
                )
            case c.Request(resource=str(name), duration=duration, reason=reason, break_glass=True):
                req = await s.request(actor, name, duration, reason, break_glass=True)
                until = show_time(req.expires_at, actor.tz, s.clock.now()) if req.expires_at else ""
                return Reply(
                    f"Break-glass: {req.resource} is yours until {until} ({req.id}). Every approver was told; "
                    "this access will be reviewed.",
                    request=req,
                )
            case c.Review(request_id=rid, verdict=verdict, comment=comment):
                req = await s.review(actor, rid, verdict, comment)
                return Reply(f"Review of {req.id} closed: {verdict}.", request=req)
            case c.Request(resource=str(name), duration=duration, reason=reason):
                req = await s.request(actor, name, duration, reason)
                if req.status == Status.ACTIVE:
                    until = (
                        show_time(req.expires_at, actor.tz, s.clock.now()) if req.expires_at else ""
                    )
                    return Reply(
                        f"Approved at once (you are on call): {req.resource} is yours until {until} ({req.id}).",
                        request=req,
                    )
                if req.status == Status.APPROVED:
                    return Reply(
                        f"{req.id} was approved, but granting it failed; admins are told.",
                        ok=False,
                        request=req,
                    )
                note = req.evidence.get("note")
                return Reply(
                    (f"{note} " if note else "")
                    + f"Request {req.id} for {req.resource} ({format_duration(req.duration)}) is waiting for approval.",
                    request=req,
                )
            case c.Approve(request_id=rid, comment=comment):
                req = await s.approve(actor, rid, comment)
                if req.kind == "extension" and req.status == Status.APPROVED:
                    return Reply(
                        f"Approved extension {req.id}: {req.extends} lasts {format_duration(req.duration)} longer.",
                        request=req,
                    )
                if req.status == Status.APPROVED:
                    return Reply(
                        f"Approved {req.id}, but granting it failed; admins are told.",
                        ok=False,
                        request=req,
                    )
                if req.status == Status.PENDING:
                    need = s.resource(req.resource).approve.required
                    return Reply(
                        f"Approval recorded for {req.id}: {len(req.approvals)} of {need}.",
                        request=req,
                    )
                return Reply(
                    f"Approved {req.id}: {req.requester} has {req.resource} for {format_duration(req.duration)}.",
                    request=req,
                )
            case c.Deny(request_id=rid, reason=reason):
                req = await s.deny(actor, rid, reason)
                return Reply(f"Denied {req.id} ({req.resource} for {req.requester}).", request=req)
            case c.Cancel(request_id=rid):
                req = await s.cancel(actor, rid)
                return Reply(f"Cancelled {req.id}.", request=req)
            case c.Revoke(request_id=rid):
                req = await s.revoke(actor, rid)
                verb = "Cancelled" if req.status == Status.CANCELLED else "Revoked"
                return Reply(f"{verb} {req.id} ({req.resource} for {req.requester}).", request=req)
            case c.Extend(request_id=rid, duration=more):
                req = await s.extend(actor, rid, more)
                if req.kind == "extension":
                    return Reply(
                        f"Extension {req.id} of {req.extends} by {format_duration(req.duration)} is waiting for approval.",
                        request=req,
                    )
                until = show_time(req.expires_at, actor.tz, s.clock.now()) if req.expires_at else ""
                return Reply(f"Extended {req.id}: {req.resource} until {until}.", request=req)
            case c.ListResources():
                return await self._list(actor)
            case c.Mine():
                return await self._mine(actor)
            case c.Pending():
                return await self._pending(actor)
            case c.OnCall(group=group):
                return await self._oncall(actor, group)
            case c.Help():
                return Reply(c.HELP_TEXT)
            case c.Why(resource=name):
                return await self._why(actor, name)
            case c.Identity():
                self._require_admin(actor)
                return await self._identity(actor, cmd)
            case c.Status():
                self._require_admin(actor)
                return await self._status(actor)
            case c.Sync():
                self._require_admin(actor)
                outcomes = await self._syncer.sync_all()
                if not outcomes:
                    return Reply("No roster provider is connected.", ok=False)
                return Reply(
                    "\n".join(o.summary() for o in outcomes), ok=all(o.ok for o in outcomes)
                )
            case c.Connect():
                self._require_admin(actor)
                return Reply(
                    "Connect a provider from the connect form in Slack or Teams, or on the server: "
                    "`oncall-access connect pagerduty|opsgenie|jsm ...`.",
                    open_form="connect",
                )
            case c.Disconnect(provider=provider):
                self._require_admin(actor)
                if not provider:
                    return Reply("Which provider? `disconnect pagerduty|opsgenie|jsm`.", ok=False)
                if self._connections is None:
                    return Reply(
                        "Disconnect on the server: `oncall-access disconnect PROVIDER`.", ok=False
                    )
                return Reply(await self._connections.disconnect(provider, actor.email))
        raise DomainError("I don't know that command; type `help`.")

    def _require_admin(self, actor: Actor) -> None:
        if not self.service.settings.is_admin(actor.email):
            raise DomainError("Only admins can do that (ONCALL_ACCESS_ADMINS).")

    async def _list(self, actor: Actor) -> Reply:
        lines = []
        now = self.service.clock.now()
        for res in self.service.policy.resources.values():
            verdict = await self.service.verdict_for(actor, res)
            mark = "✓" if verdict.allowed else "✗"
            desc = f" ({res.description})" if res.description else ""
            lines.append(f"{mark} {res.name}{desc}: {verdict.sentence(actor.tz, now)}")
        if not lines:
            return Reply("The policy defines no resources.")
        return Reply("Resources (✓ you may request now):", lines=tuple(lines))

    async def _mine(self, actor: Actor) -> Reply:
        now = self.service.clock.now()
        requests = await self.service.store.by_requester(actor.email)
        if not requests:
            return Reply("You have no requests. `list` shows what you may request.")
        lines = []
        for r in requests:
            if r.status == Status.ACTIVE:
                state = f"active, {format_duration(_to_minute(r.time_left(now)))} left"
            else:
                state = r.status.value.replace("_", " ")
            lines.append(f"{r.id}  {r.resource}  {format_duration(r.duration)}  {state}")
        return Reply("Your requests, newest first:", lines=tuple(lines))

    async def _pending(self, actor: Actor) -> Reply:
        s = self.service
        roster, now = await s.roster.current(), s.clock.now()
        max_age = s.settings.roster_max_age
        lines = []
        for r in await s.store.with_status(Status.PENDING):
            res = s.policy.resources.get(r.resource)
            if res and may_approve(res, actor.email, r.requester, roster, now, max_age).allowed:
                lines.append(describe_request(r, actor.tz, now))
        for r in await s.store.of_kind(
            "break_glass", Status.ACTIVE, Status.EXPIRED, Status.REVOKED
        ):
            res = s.policy.resources.get(r.resource)
            if r.review != "open" or res is None:
                continue
            if may_approve(res, actor.email, r.requester, roster, now, max_age).allowed:
                lines.append(
                    f'review {r.id}: break-glass {r.resource} by {r.requester} "{r.reason}" '
                    f"(`review {r.id} ok` or `review {r.id} flag COMMENT`)"
                )
        if not lines:
            return Reply("Nothing is waiting for your approval.")
        return Reply("Waiting for you (`approve ID` or `deny ID REASON`):", lines=tuple(lines))

    async def _oncall(self, actor: Actor, wanted: str | None) -> Reply:
        s = self.service
        roster, now = await s.roster.current(), s.clock.now()
        groups = roster.all_groups()
        if wanted:
            try:
                ref = GroupRef.parse(wanted)
                groups = [g for g in groups if g == ref]
            except ValueError:
                groups = [g for g in groups if wanted.lower() in g.name.lower()]
            if not groups:
                raise DomainError(f"No group matches `{wanted}`; `oncall` lists them all.")
        if not groups:
            return Reply("No roster yet: an admin can connect a provider and run `sync`.", ok=False)
        lines = []
        for g in groups:
            snap = roster.snapshot_for(g)
            group = snap.groups.get(g) if snap else None
            if group is not None and not group.shifts:
                if wanted:
                    lines.append(f"{g.display}: no on-call rota ({len(group.members)} members)")
                continue
            shifts = roster.on_call_now(g, now)
            who = ", ".join(
                f"{sh.email} until {show_time(sh.end, actor.tz, now) if sh.end else 'further notice'}"
                for sh in shifts
            )
            lines.append(f"{g.display}: {who or 'nobody'}")
        ages = {
            snap.provider.display: show_age(snap.taken_at, now)
            for snap in roster.snapshots.values()
        }
        age_text = ", ".join(f"{p} synced {a}" for p, a in ages.items())
        return Reply(f"On call now ({age_text}):", lines=tuple(lines))

    async def _why(self, actor: Actor, name: str) -> Reply:
        """Everything that decides this person's access to one resource, right now."""
        s = self.service
        res = s.resource(name)
        roster, now = await s.roster.current(), s.clock.now()
        max_age = s.settings.roster_max_age
        verdict = may_request(res, actor.email, roster, now, max_age)
        lines = [f"{'✓' if verdict.allowed else '✗'} {verdict.sentence(actor.tz, now)}"]
        rule = res.request
        if rule.open_to_all:
            lines.append("Rule: anyone may request it.")
        if rule.people:
            lines.append(f"Rule: these people may request it: {', '.join(rule.people)}.")
        for group in rule.on_call:
            shift = roster.on_call(actor.email, group, now)
            if shift:
                until = show_time(shift.end, actor.tz, now) if shift.end else "further notice"
                lines.append(f"Rule: on call for {group.display}: you are, until {until}.")
            else:
                lines.append(f"Rule: on call for {group.display}: you are not.")
        for group in rule.members:
            member = roster.is_member(actor.email, group)
            lines.append(f"Rule: member of {group.display}: you {'are' if member else 'are not'}.")
        if verdict.allowed:
            auto = auto_approves(res, actor.email, roster, now, max_age)
            if auto.allowed:
                lines.append(
                    "You would be approved at once (you are on call and auto_if_on_call is on)."
                )
            else:
                who = approvers_now(res, actor.email, roster, now, max_age)
                need = res.approve.required
                lines.append(
                    f"Needs {need} approval{'s' if need > 1 else ''}; who can approve now: {', '.join(who) or 'nobody'}."
                )
            if res.ends_with_shift and verdict.at and verdict.reason.value == "on_call":
                lines.append(
                    f"Access would end with your shift at {show_time(verdict.at, actor.tz, now)} at the latest."
                )
        lines.append(
            f"Durations: default {format_duration(s.policy.default_duration(res))}, "
            f"maximum {format_duration(s.policy.max_duration(res))}"
            + ("; a reason is required." if s.policy.require_reason(res) else ".")
        )
        for snap in roster.snapshots.values():
            lines.append(
                f"Roster from {snap.provider.display} synced {show_age(snap.taken_at, now)}."
            )
        nxt = self._next_sync()
        if nxt:
            lines.append(f"Next sync: {show_time(nxt, actor.tz, now)}.")
        return Reply(f"Why for {res.name}:", ok=True, lines=tuple(lines))

    async def _identity(self, actor: Actor, cmd: c.Identity) -> Reply:
        if self._identities is None:
            return Reply("Identity mappings are not available here.", ok=False)
        now = self.service.clock.now()
        if cmd.action == "list":
            found = await self._identities.all()
            if not found:
                return Reply("No manual identity mappings.")
            return Reply(
                "Identity mappings:", lines=tuple(f"{k} → {v}" for k, v in sorted(found.items()))
            )
        key = cmd.key.strip()
        if cmd.action == "map":
            if not is_email(cmd.email):
                raise DomainError(f"`{cmd.email}` is not an email address.")
            email = normalize_email(cmd.email)
            event = AuditEvent(
                "identity.mapped", now, actor.email, detail={"key": key, "email": email}
            )
            await self._identities.put(key, email, event)
            return Reply(f"Mapped {key} to {email}.")
        event = AuditEvent("identity.unmapped", now, actor.email, detail={"key": key})
        if await self._identities.remove(key, event):
            return Reply(f"Removed the mapping of {key}.")
        return Reply(f"{key} was not mapped.", ok=False)

    async def _status(self, actor: Actor) -> Reply:
        s = self.service
        now = s.clock.now()
        lines = []
        if self._connections:
            lines.extend(await self._connections.status_lines())
        for r in await s.store.with_status(Status.ACTIVE):
            if r.attempts and r.expires_at and r.expires_at <= now:
                lines.append(
                    f"Revoke failing: {r.id} ({r.resource} for {r.requester}), {r.attempts} attempts, last: {r.last_error}"
                )
        for r in await s.store.with_status(Status.APPROVED):
            if r.next_attempt_at is not None:
                lines.append(
                    f"Grant failing: {r.id} ({r.resource} for {r.requester}), {r.attempts} attempts, last: {r.last_error}"
                )
        nxt = self._next_sync()
        if nxt:
            lines.append(f"Next sync: {show_time(nxt, actor.tz, now)}.")
        return Reply("Provider status:", lines=tuple(lines) or ("No provider connected.",))


def _to_minute(delta: timedelta) -> timedelta:
    """Time left as people read it: whole minutes, rounded up, seconds only in the last one."""
    seconds = int(delta.total_seconds())
    return delta if seconds < 60 else timedelta(minutes=-(-seconds // 60))
