"""The read side of the front door: every list and explanation a surface shows, and the data
behind its forms, cards and home screens. Reads decide nothing and change nothing; surfaces reach
them only through the `Dispatcher`, which resolves who asks first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.connection_form import ProviderForm
from core.durations import format_duration
from core.errors import DomainError
from core.explain import explain
from core.grant_health import health_lines
from core.groups import GroupKind, GroupRef
from core.identity import Actor
from core.incidents import noun
from core.notice_views import NoticeViews, RequestCard
from core.ports import ProviderAdmin
from core.replies import Reply, describe_request
from core.requests import AccessRequest, Kind, ReviewState, Status
from core.rules import may_approve
from core.service import AccessService
from core.timefmt import show_age, show_time

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ResourceChoice:
    """One resource as a request form offers it to one person, right now."""

    name: str
    description: str
    allowed: bool
    why: str
    default_duration: timedelta
    max_duration: timedelta
    reason_required: bool


@dataclass(frozen=True, slots=True)
class HomeView:
    """What a person's home screen shows."""

    active: tuple[AccessRequest, ...] = ()
    pending: tuple[AccessRequest, ...] = ()
    to_approve: tuple[AccessRequest, ...] = ()
    is_admin: bool = False
    provider_lines: tuple[str, ...] | None = None  # None: connections are not managed from chat


class Views:
    def __init__(
        self,
        service: AccessService,
        connections: ProviderAdmin | None = None,
        next_sync: Callable[[], datetime | None] = lambda: None,
    ) -> None:
        self._service = service
        self._connections = connections
        self._next_sync = next_sync
        self.notices = NoticeViews(
            service.clock, lambda: service.policy, frozenset(service.settings.admins)
        )

    def now(self) -> datetime:
        return self.notices.now()

    def connection_forms(self) -> Sequence[ProviderForm]:
        """The providers an admin can connect from chat, each with its form; none when
        connections are made on the server only."""
        return self._connections.forms() if self._connections is not None else ()

    def is_admin(self, email: str) -> bool:
        return bool(self._service.settings.is_admin(email))

    def admins(self) -> frozenset[str]:
        """Who is told of trouble (a failing sync, a revoke that keeps failing)."""
        return self.notices.admins()

    async def resource_choices(self, actor: Actor) -> list[ResourceChoice]:
        service, now = self._service, self.now()
        policy = service.policy
        found = []
        for res in policy.resources.values():
            verdict = await service.verdict_for(actor, res)
            found.append(
                ResourceChoice(
                    name=res.name,
                    description=res.description or "",
                    allowed=verdict.allowed,
                    why=verdict.sentence(actor.tz, now),
                    default_duration=policy.default_duration(res),
                    max_duration=policy.max_duration(res),
                    reason_required=policy.require_reason(res),
                )
            )
        return found

    async def request_card(self, request_id: str) -> RequestCard:
        """A request and what its card needs; NotFound for an unknown id."""
        request = await self._service.get(request_id)
        return self.card_of(request)

    def card_of(self, request: AccessRequest) -> RequestCard:
        return self.notices.card_of(request)

    async def home(self, actor: Actor) -> HomeView:
        service = self._service
        mine = await service.store.by_requester(actor.email)
        roster, now = await service.roster.current(), service.clock.now()
        max_age = service.settings.roster_max_age
        to_approve = []
        for r in await service.store.with_status(Status.PENDING):
            res = service.policy.resources.get(r.resource)
            if res and may_approve(res, actor.email, r.requester, roster, now, max_age).allowed:
                to_approve.append(r)
        admin = self.is_admin(actor.email)
        lines: tuple[str, ...] | None = None
        if admin and self._connections is not None:
            try:
                lines = tuple(await self._connections.status_lines())
            except Exception:  # the rest of the screen is still worth showing
                log.exception("provider status for a home screen failed")
                lines = ("Provider status is unavailable right now.",)
        return HomeView(
            active=tuple(r for r in mine if r.status == Status.ACTIVE),
            pending=tuple(r for r in mine if r.status == Status.PENDING),
            to_approve=tuple(to_approve),
            is_admin=admin,
            provider_lines=lines,
        )

    async def resources_text(self, actor: Actor) -> Reply:
        lines = []
        now = self._service.clock.now()
        for res in self._service.policy.resources.values():
            verdict = await self._service.verdict_for(actor, res)
            mark = "✓" if verdict.allowed else "✗"
            desc = f" ({res.description})" if res.description else ""
            lines.append(f"{mark} {res.name}{desc}: {verdict.sentence(actor.tz, now)}")
        if not lines:
            return Reply("The policy defines no resources.")
        return Reply(
            "Resources (✓ you may request now):",
            lines=tuple(lines),
            more="`why RESOURCE` tells about one; the request form lists what you may request",
        )

    async def mine(self, actor: Actor) -> Reply:
        now = self._service.clock.now()
        requests = await self._service.store.by_requester(actor.email)
        if not requests:
            return Reply("You have no requests. `list` shows what you may request.")
        lines = []
        for r in requests:
            if r.status == Status.ACTIVE:
                state = f"active, {format_duration(_to_minute(r.time_left(now)))} left"
            else:
                state = r.status.value.replace("_", " ")
            lines.append(f"{r.id}  {r.resource}  {format_duration(r.duration)}  {state}")
        return Reply(
            "Your requests, newest first:",
            lines=tuple(lines),
            more="the Home tab or `pending` shows what is still open",
        )

    async def pending(self, actor: Actor) -> Reply:
        s = self._service
        roster, now = await s.roster.current(), s.clock.now()
        max_age = s.settings.roster_max_age
        lines = []
        for r in await s.store.with_status(Status.PENDING):
            res = s.policy.resources.get(r.resource)
            if res and may_approve(res, actor.email, r.requester, roster, now, max_age).allowed:
                lines.append(describe_request(r, actor.tz, now))
        for r in await s.store.of_kind(
            Kind.BREAK_GLASS, Status.ACTIVE, Status.EXPIRED, Status.REVOKED
        ):
            res = s.policy.resources.get(r.resource)
            if r.review != ReviewState.OPEN or res is None:
                continue
            if may_approve(res, actor.email, r.requester, roster, now, max_age).allowed:
                lines.append(
                    f'review {r.id}: break-glass {r.resource} by {r.requester} "{r.reason}" '
                    f"(`review {r.id} ok` or `review {r.id} flag COMMENT`)"
                )
        if not lines:
            return Reply("Nothing is waiting for your approval.")
        return Reply(
            "Waiting for you (`approve ID` or `deny ID REASON`):",
            lines=tuple(lines),
            more="decide these, then `pending` lists the next ones",
        )

    async def oncall(self, actor: Actor, wanted: str | None) -> Reply:
        s = self._service
        roster, now = await s.roster.current(), s.clock.now()
        groups = [g for g in roster.all_groups() if g.kind is not GroupKind.SERVICE]
        incidents = await self._open_incidents(wanted)
        if wanted:
            try:
                ref = GroupRef.parse(wanted)
                groups = [g for g in groups if g == ref]
            except ValueError:
                groups = [g for g in groups if wanted.lower() in g.name.lower()]
            if not groups and not incidents:
                raise DomainError(f"No group matches `{wanted}`; `oncall` lists them all.")
        if not groups and not incidents:
            return Reply("No roster yet: an admin can connect a provider and run `sync`.", ok=False)
        # Incidents first: with hundreds of groups the size cut would otherwise hide them.
        lines = ["Open incidents (live):", *incidents, "On call:"] if incidents else []
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
        return Reply(
            f"On call now ({age_text}):", lines=tuple(lines), more="narrow it with `oncall GROUP`"
        )

    async def why(self, actor: Actor, name: str) -> Reply:
        """Everything that decides this person's access to one resource, right now."""
        s = self._service
        res = s.resource(name)
        roster, now = await s.roster.current(), s.clock.now()
        return explain(
            s.policy,
            res,
            actor.email,
            roster,
            now,
            max_age=s.settings.roster_max_age,
            tz=actor.tz,
            next_sync=self._next_sync(),
            incident=await s.eligibility.incident(res, actor.email),
        )

    async def _open_incidents(self, wanted: str | None) -> list[str]:
        """Open incidents on the services the policy names (those matching `wanted`), live."""
        services = sorted(
            {g for r in self._service.policy.resources.values() for g in r.request.incident}
        )
        if wanted:
            services = [g for g in services if wanted.lower() in g.name.lower() or wanted == str(g)]
        if not services:
            return []
        lookup = self._service.eligibility.incidents
        if not lookup.covers(services):
            return []
        try:
            found = await lookup.open_on(services)
        except Exception as exc:  # the roster part of the answer is still worth giving
            log.info("open incidents could not be read: %s", type(exc).__name__)
            return ["Open incidents could not be read just now."]
        lines = []
        for service in services:
            mine = [
                i
                for i in found
                if i.provider is service.provider
                and i.service.name.casefold() == service.name.casefold()
            ]
            if not mine:
                lines.append(f"{service.display}: no open {noun(service.provider)}")
            for i in mine[:10]:
                who = ", ".join(sorted(i.assignees)) or "nobody"
                lines.append(
                    f"{service.display}: {i.label} ({i.status.value}), assigned to {who}"
                    + (f", {i.url}" if i.url else "")
                )
            if len(mine) > 10:
                lines.append(
                    f"{service.display}: … and {len(mine) - 10} more open {noun(service.provider)}s"
                )
        return lines

    async def status(self, actor: Actor) -> Reply:
        s = self._service
        now = s.clock.now()
        lines = []
        if self._connections:
            lines.extend(await self._connections.status_lines())
        lines.extend(await health_lines(s.policy, s.granting.granters))
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
