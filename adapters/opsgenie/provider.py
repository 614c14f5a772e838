"""Opsgenie as a RosterProvider: full roster syncs, live on-call checks, credential checks.

Its incidents (`incidents`) are read live, never synced; the sync only lists the services'
names (`GET /v1/services`) so that a policy naming a missing service is reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from adapters.opsgenie.client import OpsgenieClient, Params, Region
from adapters.opsgenie.incidents import OpsgenieIncidents
from adapters.opsgenie.mapping import Directory, RawOrg, build, shift_for, timeline_periods
from adapters.providerhttp import (
    Forbidden,
    NotFound,
    ProviderError,
    RequestRejected,
    Unauthorized,
)
from adapters.providerhttp.builder import RosterBuilder
from adapters.providerhttp.tasks import gather_or_cancel
from core.groups import GroupKind, GroupRef, Provider
from core.identity import normalize_email
from core.ports import FetchResult, SyncProgress, Verification
from core.roster import Shift

CONFIRM_DEADLINE = 1.5
TIMELINE_LOOKBACK = timedelta(weeks=1)
NEEDS_RIGHTS = "The Opsgenie API key needs Read and Configuration Access."
PROBES: tuple[tuple[str, Params, str], ...] = (
    ("/v2/users", [("limit", 1)], "users"),
    ("/v2/schedules", [], "schedules"),
    ("/v2/schedules/on-calls", [("flat", "true")], "on-calls"),
    ("/v2/teams", [], "teams"),
    ("/v2/roles", [], "custom roles"),
)


def og_time(value: datetime) -> str:
    """Opsgenie's `yyyy-MM-dd'T'HH:mm:ssZ` form, in UTC."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class OpsgenieRosterProvider:
    """Roster from Opsgenie schedules and teams (see `mapping`)."""

    provider = Provider.OPSGENIE

    def __init__(
        self,
        client: OpsgenieClient,
        *,
        now: Callable[[], datetime] | None = None,
        confirm_deadline: float = CONFIRM_DEADLINE,
    ) -> None:
        self.client = client
        self.directory = Directory()
        self._now = now or (lambda: datetime.now(UTC))
        self._confirm_deadline = confirm_deadline
        self.incidents = OpsgenieIncidents(client, lambda: self.directory)

    @classmethod
    def from_settings(
        cls,
        *,
        api_key: str,
        region: Region | str = Region.US,
        base_url: str | None = None,
        now: Callable[[], datetime] | None = None,
        **client_options: Any,
    ) -> OpsgenieRosterProvider:
        client = OpsgenieClient(api_key=api_key, region=region, base_url=base_url, **client_options)
        return cls(client, now=now)

    async def aclose(self) -> None:
        await self.client.aclose()

    def progress(self) -> SyncProgress:
        return SyncProgress(self.client.calls)

    async def fetch(self) -> FetchResult:
        now = self._now()
        before = self.client.calls
        builder = RosterBuilder(Provider.OPSGENIE, now)
        users, roles, teams, schedules, oncalls, services = await gather_or_cancel(
            self.client.list_followed("/v2/users"),
            self.client.data("/v2/roles"),
            self.client.data("/v2/teams"),
            self.client.data("/v2/schedules", [("expand", "rotation")]),
            self.client.data("/v2/schedules/on-calls", [("flat", "true"), ("date", og_time(now))]),
            self._services(builder),
        )
        org = RawOrg(users=users, custom_roles=_dicts(roles), schedules=_dicts(schedules))
        org.services = _dicts(services)
        for entry in _dicts(oncalls):
            parent = _obj(entry.get("_parent"))
            recipients = entry.get("onCallRecipients")
            if parent.get("id") and isinstance(recipients, list) and recipients:
                org.oncalls[str(parent["id"])] = [str(r) for r in recipients]
        scheduled = list(org.oncalls)
        details, timelines = await gather_or_cancel(
            gather_or_cancel(*(self._team(t, builder) for t in _dicts(teams))),
            gather_or_cancel(*(self._timeline(sid, now, builder, org) for sid in scheduled)),
        )
        org.teams = [team for team in details if team is not None]
        for sid, timeline in zip(scheduled, timelines, strict=True):
            if timeline is None:
                del org.oncalls[sid]  # vanished mid-sync: warned about already
            else:
                org.timelines[sid] = timeline
        self.directory = build(org, builder, now)
        return FetchResult(snapshot=builder.build(), api_calls=self.client.calls - before)

    async def _services(self, builder: RosterBuilder) -> list[Any]:
        """Service names for `policy check`. Opsgenie offers the Service API on Standard and
        Enterprise plans only; the roster needs no such plan, so a refusal is a warning."""
        try:
            return await self.client.list_followed("/v1/services")
        except (Forbidden, RequestRejected) as error:
            builder.warn(f"Opsgenie services were not synced: {error}")
            return []

    async def _team(self, team: dict[str, Any], builder: RosterBuilder) -> dict[str, Any] | None:
        if isinstance(team.get("members"), list):
            return team
        try:
            found = await self.client.data(f"/v2/teams/{quote(str(team.get('id')), safe='')}")
        except NotFound:
            builder.warn(f"Opsgenie team '{team.get('name')}' vanished during the sync; skipped.")
            return None
        return found if isinstance(found, dict) else None

    async def _timeline(
        self, sid: str, now: datetime, builder: RosterBuilder, org: RawOrg
    ) -> dict[str, Any] | None:
        try:
            found = await self.client.data(f"/v2/schedules/{quote(sid, safe='')}/timeline",
                                           _timeline_window(now))  # fmt: skip
        except NotFound:
            name = next((s.get("name") for s in org.schedules if s.get("id") == sid), sid)
            builder.warn(
                f"Opsgenie schedule '{name}' vanished during the sync; skipped its shifts."
            )
            return None
        return found if isinstance(found, dict) else None

    async def confirm_on_call(self, email: str, group: GroupRef, now: datetime) -> Shift | None:
        """Live who-is-on-call for the schedule (with its timeline for the end), within ~1.5 s."""
        if group.provider is not Provider.OPSGENIE or group.kind is not GroupKind.SCHEDULE:
            return None
        email = normalize_email(email)
        sid = self.directory.schedule_ids.get(group.name)
        ident, kind = (sid, "id") if sid else (group.name, "name")
        path = f"/v2/schedules/{quote(ident, safe='')}"
        oncall, timeline = await gather_or_cancel(
            self.client.data(
                f"{path}/on-calls",
                [("scheduleIdentifierType", kind), ("flat", "true"), ("date", og_time(now))],
                deadline=self._confirm_deadline,
            ),
            self.client.data(
                f"{path}/timeline",
                [("identifierType", kind), *_timeline_window(now)],
                deadline=self._confirm_deadline,
            ),
        )
        recipients = oncall.get("onCallRecipients") if isinstance(oncall, dict) else None
        if not any(normalize_email(str(r)) == email for r in recipients or ()):
            return None
        timeline = timeline if isinstance(timeline, dict) else {}
        end = timeline.get("endDate")
        window_end = datetime.fromisoformat(end.replace("Z", "+00:00")) if end else None
        emails = {v: k for k, v in self.directory.user_ids.items()}
        return shift_for(email, timeline_periods(timeline, emails), now, window_end)

    async def verify(self) -> Verification:
        """One cheap read per roster endpoint; a 403 means the key lacks the needed rights."""
        where = f"Opsgenie ({self.client.region.value.upper()}, {self.client.base_url})"

        async def probe(path: str, params: list[tuple[str, Any]]) -> ProviderError | None:
            try:
                await self.client.get(path, params)
            except ProviderError as error:
                return error
            return None

        results = await asyncio.gather(*(probe(path, params) for path, params, _ in PROBES))
        for error in results:
            if isinstance(error, Unauthorized):
                return Verification(False, f"{where}: {error}")
        refused = [what for (_, _, what), e in zip(PROBES, results, strict=True) if e]
        can = tuple(what for (_, _, what), e in zip(PROBES, results, strict=True) if e is None)
        if any(isinstance(e, Forbidden) for e in results):
            return Verification(
                False, f"{NEEDS_RIGHTS} {where} refused: {', '.join(refused)}.", can
            )
        if refused:
            failed = "; ".join(str(e) for e in results if e)
            return Verification(
                False, f"{where}: could not read {', '.join(refused)} ({failed})", can
            )
        return Verification(True, f"{where}: can read {', '.join(can)}.", can)


def _timeline_window(now: datetime) -> list[tuple[str, Any]]:
    """Two weeks around now: shifts that started up to a week ago keep their real start."""
    return [("date", og_time(now - TIMELINE_LOOKBACK)), ("interval", 2), ("intervalUnit", "weeks")]


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
