"""The composition root: builds every part from Settings, once, and nothing at import time.

Tests build the same graph with a controllable clock, fake servers' URLs and their own notifiers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.jsm.provider import JsmRosterProvider
from adapters.opsgenie.provider import OpsgenieRosterProvider
from adapters.pagerduty.incidents import PagerDutyIncidents
from adapters.pagerduty.provider import PagerDutyRosterProvider
from adapters.rosterfile.provider import FileRosterProvider
from adapters.slack.app import SlackOutbound, SlackSurface
from adapters.storage.audit import SqlAuditLog
from adapters.storage.connections import SqlConnectionStore
from adapters.storage.crypto import SecretBox
from adapters.storage.deliveries import SqlDeliveries
from adapters.storage.engine import make_engine
from adapters.storage.identities import SqlIdentityOverrides
from adapters.storage.kv import SqlKeyValues
from adapters.storage.leases import SqlJobLeases
from adapters.storage.migrate import upgrade
from adapters.storage.requests import SqlRequestStore
from adapters.storage.roster import SqlRosterStore
from adapters.teams.app import TeamsSurface, build_teams_outbound, build_teams_surface
from bot.chat_config import ChatConfig
from bot.clock import SystemClock
from bot.connections import BotProviderAdmin
from bot.grant_connections import GrantTargets
from bot.grant_targets import GranterContext, all_granters
from bot.metrics import PrometheusMetrics
from bot.notify import FanOutNotifier, SurfaceNotifier
from bot.oauth_pagerduty import PagerDutyUserFlow
from bot.policy_source import PolicySource, load_policy
from bot.providers import AccountMappedProvider
from bot.settings import Settings
from bot.sync_schedule import SyncSchedule
from core.dispatcher import Dispatcher
from core.errors import PolicyError
from core.incidents import IncidentSource
from core.notice_views import NoticeViews
from core.policy import Policy
from core.ports import Clock, Granter, RosterProvider
from core.service import AccessService, AccessSettings, RosterCache
from core.sync import RosterSyncer

log = logging.getLogger(__name__)


@dataclass
class Bot:
    settings: Settings
    engine: AsyncEngine
    clock: Clock
    policy: PolicySource
    requests: SqlRequestStore
    audit: SqlAuditLog
    rosters: SqlRosterStore
    leases: SqlJobLeases
    kv: SqlKeyValues
    notifier: FanOutNotifier
    service: AccessService
    syncer: RosterSyncer
    dispatcher: Dispatcher
    sync_schedule: SyncSchedule
    providers: list[RosterProvider] = field(default_factory=list)
    admin: BotProviderAdmin | None = None  # provider connections, for the admin surfaces
    identities: SqlIdentityOverrides | None = None
    oauth: PagerDutyUserFlow | None = None  # PagerDuty's OAuth user flow (its callback route)
    metrics: PrometheusMetrics = field(default_factory=PrometheusMetrics)  # this bot's own
    slack: SlackSurface | None = None  # built when `chat` says so, mounted by `serve`
    teams: TeamsSurface | None = None

    async def __aenter__(self) -> Bot:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self.admin is not None:
            await self.admin.aclose()
        for provider in self.providers:
            close = getattr(provider, "aclose", None)
            if close:
                await close()
        await self.engine.dispose()


def policy_from(settings: Settings) -> PolicySource:
    if settings.policy_file is None:
        raise PolicyError(
            [
                "ONCALL_ACCESS_POLICY_FILE is not set: point it at your policy file (see the README); "
                "`oncall-access demo` runs with a bundled one"
            ]
        )
    return PolicySource(load_policy(settings.policy_file), settings.policy_file)


async def build(
    settings: Settings,
    *,
    policy: PolicySource | Policy | None = None,
    clock: Clock | None = None,
    notifiers: Sequence[SurfaceNotifier] = (),
    providers: Sequence[RosterProvider] | None = None,
    granters: dict[str, Granter] | None = None,
    migrate: bool = True,
    load_connections: bool = True,
    chat: ChatConfig | None = None,
) -> Bot:
    """Every part, once, in dependency order. With `chat`, the Slack and Teams surfaces too:
    their notifiers join the fan-out before the service that tells them is built (they read only
    the clock, the policy, the admins and the identity mappings), and their inbound halves are
    built on the dispatcher after it. Raises ValueError naming a bad Teams setting."""
    clock = clock or SystemClock()
    source = (
        policy
        if isinstance(policy, PolicySource)
        else PolicySource(policy)
        if policy
        else policy_from(settings)
    )
    engine = make_engine(settings.database_url)
    try:
        if migrate:
            await upgrade(engine)
    except Exception:
        await engine.dispose()
        raise
    keys = settings.audit_keys
    requests, audit = SqlRequestStore(engine, keys), SqlAuditLog(engine, keys)
    identities = SqlIdentityOverrides(engine, keys=keys)
    rosters, leases = SqlRosterStore(engine, keys), SqlJobLeases(engine)
    kv = SqlKeyValues(engine, keys)
    metrics = PrometheusMetrics()
    roster = RosterCache(rosters, identities, settings.email_aliases)
    notices = NoticeViews(clock, source, frozenset(settings.admins))
    slack_out = teams_out = None
    if chat is not None and chat.slack is not None:
        slack_out = SlackOutbound(
            chat.slack,
            clock,
            admins=notices.admins,
            identity=roster.identity_map,
            kv=kv,
            metrics=metrics,
        )
    if chat is not None:
        try:
            teams_out = build_teams_outbound(
                chat.teams, kv=kv, notices=notices, identity=roster.identity_map, metrics=metrics
            )
        except ValueError:  # a Teams setting that serves no tenant in particular
            await engine.dispose()
            raise
    notifier = FanOutNotifier(
        [
            *notifiers,
            *([slack_out.notifier] if slack_out else []),
            *([teams_out.notifier] if teams_out else []),
        ]
    )
    if providers is None:
        providers = _providers_from(settings, clock)
    provider_list = list(providers)
    connections = SqlConnectionStore(engine, SecretBox(settings.secret_key), keys)
    targets = GrantTargets(connections, settings, clock)
    context = GranterContext(
        settings,
        os.environ,
        kv,
        provider_list,
        clock,
        targets=targets,
        identities=identities,
        metrics=metrics,
    )
    chosen_granters: dict[str, Granter] = {**all_granters(context), **(granters or {})}
    service = AccessService(
        policy=source,
        store=requests,
        audit=audit,
        roster=roster,
        granters=chosen_granters,
        notifier=notifier,
        clock=clock,
        settings=AccessSettings(roster_max_age=settings.roster_max_age, admins=settings.admins),
        providers=lambda: provider_list,
        metrics=metrics,
        incident_sources=lambda: incident_sources(provider_list),
    )
    syncer = RosterSyncer(lambda: provider_list, rosters, notifier, clock, source, metrics)
    oauth = PagerDutyUserFlow(settings, kv, clock.now)
    admin = BotProviderAdmin(
        settings=settings,
        store=connections,
        rosters=rosters,
        syncer=syncer,
        providers=provider_list,
        clock=clock,
        identities=identities,
        user_flow=oauth,
        policy=source,
        targets=targets,
    )
    schedule = SyncSchedule(settings.sync_schedule, clock)
    dispatcher = Dispatcher(
        service, syncer, connections=admin, next_sync=schedule.next_at, identities=identities
    )
    slack = (
        SlackSurface(slack_out, dispatcher, clock, deliveries=SqlDeliveries(engine, clock.now))
        if slack_out
        else None
    )
    teams = build_teams_surface(teams_out, dispatcher=dispatcher, metrics=metrics) if chat else None
    bot = Bot(
        settings=settings,
        engine=engine,
        clock=clock,
        policy=source,
        requests=requests,
        audit=audit,
        rosters=rosters,
        leases=leases,
        kv=kv,
        notifier=notifier,
        service=service,
        syncer=syncer,
        dispatcher=dispatcher,
        sync_schedule=schedule,
        providers=provider_list,
        admin=admin,
        identities=identities,
        oauth=oauth,
        metrics=metrics,
        slack=slack,
        teams=teams,
    )
    if load_connections:
        for problem in await admin.load():
            log.warning("%s", problem)
    return bot


def incident_sources(providers: Sequence[RosterProvider]) -> list[IncidentSource]:
    """The connected providers whose incidents the workflow can ask about."""
    found: list[IncidentSource] = list(pagerduty_incidents(providers))
    found += [p.incidents for p in providers if isinstance(p, OpsgenieRosterProvider)]
    jsm = (JsmRosterProvider, AccountMappedProvider)  # mapped: JSM with admins' account mappings
    found += [p.incidents for p in providers if isinstance(p, jsm)]
    return found


def pagerduty_incidents(providers: Sequence[RosterProvider]) -> list[PagerDutyIncidents]:
    """PagerDuty's incident source, for reading its webhooks' incidents."""
    return [p.incidents for p in providers if isinstance(p, PagerDutyRosterProvider)]


def _providers_from(settings: Settings, clock: Clock) -> list[RosterProvider]:
    found: list[RosterProvider] = []
    if settings.roster_file is not None:
        found.append(FileRosterProvider(Path(settings.roster_file), clock.now))
    return found
