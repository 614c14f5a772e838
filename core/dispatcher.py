"""The front door to the core, one for every surface (console, Slack, Teams, CLI).

A surface hands over who asks (`Actor`, as the platform identified them) and either typed text
(`handle`) or an already-built command from a button, form or dialog (`execute`); reads go
through `views` the same way. Here, once for every path: identity resolution (surface identity
to person, with aliases and admin mappings), authorization (admins), and error mapping — a
DomainError becomes its one sentence (with the form field it is about), a database outage
(Unavailable) its own sentence, logged once without a traceback, and anything else a generic
message with a correlation id, never exception text.
"""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from core import commands as c
from core.audit import AuditEvent
from core.connections import ConnectForm, ConnectResult
from core.durations import format_duration
from core.errors import DomainError, Unavailable
from core.identity import Actor, IdentityMap, is_email, normalize_email
from core.mapping_keys import mapping_key
from core.notice_views import RequestCard
from core.ports import IdentityOverrides, ProviderAdmin
from core.provenance import acting, chat_detail
from core.replies import Reply
from core.requests import Kind, Status
from core.service import AccessService
from core.sync import RosterSyncer
from core.timefmt import show_time
from core.views import HomeView, ResourceChoice, Views

log = logging.getLogger(__name__)
T = TypeVar("T")

ADMINS_ONLY = "Only admins can do that (ONCALL_ACCESS_ADMINS)."
NO_EMAIL = (
    "I can't see your email address, so I can't tell who you are; "
    "an admin can map your chat account with `identity map`."
)
OWN_IDENTITY = (
    "You cannot map your own chat account; another admin can, and the person it is mapped to "
    "is told."
)
CONNECT_ON_SERVER = (
    "Providers are connected on the server here: `oncall-access connect pagerduty|opsgenie|jsm ...` "
    "or `oncall-access disconnect PROVIDER`."
)


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
        self._service = service
        self._syncer = syncer
        self._connections = connections
        self.views = Views(service, connections, next_sync)

    def now(self) -> datetime:
        return self.views.now()

    # -- who asks ------------------------------------------------------------------------------

    async def resolve(self, actor: Actor) -> Actor:
        """The person behind a surface identity: an admin's mapping of the surface id or email
        first, then domain aliases; admin rights follow the person, not the claim."""
        identity = await self._service.roster.identity_map()
        email = identity.email(actor.email, actor.user_key)
        if not email:
            raise DomainError(NO_EMAIL)
        return Actor(
            email,
            surface=actor.surface,
            tz=actor.tz,
            is_admin=self.views.is_admin(email),
            user_key=actor.user_key,
            workspace=actor.workspace,
            mapped_by=identity.mapped_by(actor.email, actor.user_key),
        )

    async def identity_map(self) -> IdentityMap:
        """The mappings in force, for a surface that looks people up by email to reach them."""
        return await self._service.roster.identity_map()

    # -- changes -------------------------------------------------------------------------------

    async def handle(self, actor: Actor, text: str) -> Reply:
        """Typed text: parsed by the one grammar, then as `execute`."""
        return await self._answer(actor, text[:80], lambda who: self._route(who, c.parse(text)))

    async def execute(self, actor: Actor, command: c.Command) -> Reply:
        """A command built by a button, form or dialog: the same path as typed text."""
        return await self._answer(
            actor, type(command).__name__, lambda who: self._route(who, c.check(command))
        )

    async def connect(self, actor: Actor, form: ConnectForm) -> ConnectResult:
        """An admin's connect form: verified, stored sealed, synced (the `ProviderAdmin`)."""

        async def connect(who: Actor) -> Reply:
            admin = self._require_connections(who)

            async def synced(summary: str) -> None:
                await self._service.notifier.tell(who.email, summary)

            result = await admin.connect(form, who.email, when_synced=synced)
            return Reply(result.message, ok=result.ok, connect=result)

        reply = await self._answer(actor, "connect", connect)
        return reply.connect or ConnectResult(False, reply.text)

    async def connect_refusal(self, actor: Actor) -> str | None:
        """Why this person gets no connect form, or None when they may connect."""
        try:
            self._require_connections(await self.resolve(actor))
        except DomainError as exc:
            return exc.message
        return None

    # -- reads ---------------------------------------------------------------------------------

    async def read(self, actor: Actor, view: Callable[[Actor], Awaitable[T]]) -> T:
        """Run a view for the resolved person; refusals and outages are raised, for the surface
        to draw where the view would have been (`refusal` words them)."""
        return await view(await self.resolve(actor))

    async def resource_choices(self, actor: Actor) -> list[ResourceChoice]:
        return await self.read(actor, self.views.resource_choices)

    async def request_card(self, actor: Actor, request_id: str) -> RequestCard:
        c.refuse_unreadable(request_id)  # from a button's data: no id holds a NUL or a surrogate
        return await self.read(actor, lambda _: self.views.request_card(request_id))

    async def home(self, actor: Actor) -> HomeView:
        return await self.read(actor, self.views.home)

    def refusal(self, actor: Actor, what: str) -> Reply:
        """The answer to the exception being handled, from a read or a surface's own work."""
        exc = sys.exc_info()[1]
        if isinstance(exc, DomainError):
            return Reply(exc.message, ok=False, fields=exc.fields)
        return self.internal_error(actor, what)

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

    async def _answer(
        self, actor: Actor, what: str, action: Callable[[Actor], Awaitable[Reply]]
    ) -> Reply:
        try:
            who = await self.resolve(actor)
            with acting(who):
                return await action(who)
        except DomainError as exc:
            return Reply(exc.message, ok=False, fields=exc.fields)
        except Exception:
            return self.internal_error(actor, what)

    def _require_admin(self, actor: Actor) -> None:
        if not actor.is_admin:
            raise DomainError(ADMINS_ONLY)

    def _require_connections(self, actor: Actor) -> ProviderAdmin:
        self._require_admin(actor)
        if self._connections is None:
            raise DomainError(CONNECT_ON_SERVER)
        return self._connections

    async def _route(self, actor: Actor, cmd: c.Command) -> Reply:
        s = self._service
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
                    because = (
                        f"you are assigned to {req.evidence.incident.label}"
                        if req.evidence.incident is not None
                        else "you are on call"
                    )
                    return Reply(
                        f"Approved at once ({because}): {req.resource} is yours until {until} ({req.id}).",
                        request=req,
                    )
                if req.status == Status.APPROVED:
                    return Reply(
                        f"{req.id} was approved, but granting it failed; admins are told.",
                        ok=False,
                        request=req,
                    )
                note = req.evidence.note
                if req.evidence.incident is not None:
                    note = f"You are assigned to {req.evidence.incident.label}."
                return Reply(
                    (f"{note} " if note else "")
                    + f"Request {req.id} for {req.resource} ({format_duration(req.duration)}) is waiting for approval.",
                    request=req,
                )
            case c.Approve(request_id=rid, comment=comment):
                req = await s.approve(actor, rid, comment)
                if req.kind == Kind.EXTENSION and req.status == Status.APPROVED:
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
                if req.kind == Kind.EXTENSION:
                    return Reply(
                        f"Extension {req.id} of {req.extends} by {format_duration(req.duration)} is waiting for approval.",
                        request=req,
                    )
                until = show_time(req.expires_at, actor.tz, s.clock.now()) if req.expires_at else ""
                return Reply(f"Extended {req.id}: {req.resource} until {until}.", request=req)
            case c.ListResources():
                return await self.views.resources_text(actor)
            case c.Mine():
                return await self.views.mine(actor)
            case c.Pending():
                return await self.views.pending(actor)
            case c.OnCall(group=group):
                return await self.views.oncall(actor, group)
            case c.Help():
                return Reply(c.HELP_TEXT)
            case c.Why(resource=name):
                return await self.views.why(actor, name)
            case c.Identity():
                self._require_admin(actor)
                return await self._identity(actor, cmd)
            case c.Status():
                self._require_admin(actor)
                return await self.views.status(actor)
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
                forms = tuple(self.views.connection_forms())
                return Reply(
                    "Connect a provider from the connect form in Slack or Teams, or on the server: "
                    f"`oncall-access connect {'|'.join(f.provider for f in forms) or 'PROVIDER'} ...`.",
                    open_form="connect",
                    forms=forms,
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

    async def _identity(self, actor: Actor, cmd: c.Identity) -> Reply:
        if self._identities is None:
            return Reply("Identity mappings are not available here.", ok=False)
        now = self.now()
        if cmd.action == "list":
            found = await self._identities.all()
            if not found:
                return Reply("No manual identity mappings.")
            return Reply(
                "Identity mappings:", lines=tuple(f"{k} → {v}" for k, v in sorted(found.items()))
            )
        if cmd.action == "map":
            key = mapping_key(cmd.key)
            if not is_email(cmd.email):
                raise DomainError(f"`{cmd.email}` is not an email address.")
            if key in (actor.user_key, f"email:{actor.email}"):
                raise DomainError(OWN_IDENTITY)
            email = normalize_email(cmd.email)
            event = AuditEvent(
                "identity.mapped",
                now,
                actor.email,
                detail={"key": key, "email": email, **chat_detail()},
            )
            # Told before the mapping applies, so the notice reaches the person's own accounts
            # rather than the one being mapped to them.
            await self._service.notifier.tell(
                email,
                f"{actor.email} mapped the account {key} to you: what it does from now on counts "
                "as done by you. If that account is not yours, tell another admin at once.",
            )
            await self._identities.put(key, email, event)
            return Reply(f"Mapped {key} to {email}.")
        return await self._unmap(actor, cmd.key.strip(), now)

    async def _unmap(self, actor: Actor, typed: str, now: datetime) -> Reply:
        """The key as normalised, else as typed: mappings stored before keys were checked."""
        assert self._identities is not None
        try:
            keys = list(dict.fromkeys((mapping_key(typed), typed)))
        except DomainError:
            keys = [typed]
        mapped = await self._identities.all()
        for key in keys:
            event = AuditEvent(
                "identity.unmapped", now, actor.email, detail={"key": key, **chat_detail()}
            )
            if await self._identities.remove(key, event):
                if key in mapped:
                    await self._service.notifier.tell(
                        mapped[key],
                        f"{actor.email} removed the mapping of the account {key} to you: what "
                        "it does from now on no longer counts as done by you.",
                    )
                return Reply(f"Removed the mapping of {key}.")
        return Reply(f"{keys[0]} was not mapped.", ok=False)
