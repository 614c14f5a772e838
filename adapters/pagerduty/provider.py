"""PagerDuty as a RosterProvider: full and incremental roster syncs, live on-call checks,
credential checks.

PagerDuty's lists take no changed-since filter, but its audit trail does (`GET /audit/records`
with `since` and `root_resource_types[]`, on plans with the Audit Trail feature). A sync after
a full one asks it first: when no user, team, schedule, escalation policy or service changed
since the full sync began, only the on-calls (who is on call for the window now) and the
schedules' pages with their final schedules (overrides change those without changing a
schedule's settings) are read again, the rest is kept from the full sync, and the saved calls
are reported. Any change, an audit trail the account or key
cannot read, or a full sync older than `REUSE_FOR` means a full sync.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.pagerduty.client import OffsetCapReached, PagerDutyClient, Params, Region
from adapters.pagerduty.incidents import PagerDutyIncidents
from adapters.pagerduty.mapping import (
    Directory,
    RawOrg,
    build,
    listed_final_schedules,
    on_call_user_ids,
    unused_schedule_ids,
    unused_v3_schedule_ids,
)
from adapters.pagerduty.oauth import IDENTITY_URL, ROSTER_SCOPES, ClientCredentialsAuth
from adapters.providerhttp import (
    Forbidden,
    NotFound,
    ProviderError,
    RequestRejected,
    Unauthorized,
)
from adapters.providerhttp.builder import RosterBuilder, iso, parse_time
from adapters.providerhttp.tasks import gather_or_cancel
from core.groups import GroupKind, GroupRef, Provider
from core.identity import normalize_email
from core.ports import FetchResult, SyncProgress, Verification
from core.roster import Shift

CONFIRM_DEADLINE = 1.5
V3_PAGE = 1000  # `/v3/schedules` pages hold up to 1,000 references
# Schedule pages carry each final schedule over this window around now, so a schedule no policy
# uses costs no call of its own unless its current shift reaches past the window's edge.
FINAL_WINDOW = timedelta(days=14)
POLICY_BATCH = 20  # escalation_policy_ids[] per /oncalls query when one query exceeds 10,000
# How long what a full sync read may be kept while the audit trail shows no change: a full sync
# at least this often, whatever the audit trail says.
REUSE_FOR = timedelta(hours=6)
# Audit records are searched from this long before the full sync began (clocks differ a little).
AUDIT_MARGIN = timedelta(minutes=5)
AUDITED = ("users", "teams", "schedules", "escalation_policies", "services")


@dataclass(frozen=True)
class FullSync:
    """What the last full sync read, kept for the incremental syncs after it."""

    at: datetime
    org: RawOrg
    calls: int
    unlisted: int
    warnings: tuple[str, ...]  # what reading the lists warned about (a cap, a missing right)


# (path, list key, scope it needs, what it lets us say)
PROBES = (
    ("/users", "users", "users.read", "users"),
    ("/schedules", "schedules", "schedules.read", "schedules"),
    ("/escalation_policies", "escalation_policies", "escalation_policies.read",
     "escalation policies"),
    ("/oncalls", "oncalls", "oncalls.read", "on-calls"),
    ("/teams", "teams", "teams.read", "teams"),
)  # fmt: skip


class PagerDutyRosterProvider:
    """Roster from PagerDuty schedules, escalation policies and teams (see `mapping`)."""

    provider = Provider.PAGERDUTY

    def __init__(
        self,
        client: PagerDutyClient,
        *,
        now: Callable[[], datetime] | None = None,
        confirm_deadline: float = CONFIRM_DEADLINE,
    ) -> None:
        self.client = client
        self.directory = Directory()
        self._now = now or (lambda: datetime.now(UTC))
        self._confirm_deadline = confirm_deadline
        self._full: FullSync | None = None
        self._audit_readable = True  # False once the account or key cannot read the audit trail
        self.incidents = PagerDutyIncidents(
            client, lambda: self.directory.user_ids, lambda: self.directory.service_ids
        )

    @classmethod
    def from_settings(
        cls,
        *,
        api_key: str | None = None,
        oauth_client_id: str | None = None,
        oauth_client_secret: str | None = None,
        subdomain: str | None = None,
        region: Region | str = Region.US,
        base_url: str | None = None,
        identity_url: str | None = None,
        scopes: Sequence[str] | None = None,
        now: Callable[[], datetime] | None = None,
        **client_options: Any,
    ) -> PagerDutyRosterProvider:
        """An API key, or a Scoped OAuth app (client id + secret + account subdomain) asking for
        `scopes` (the roster's read scopes unless the policy's grants need writes too)."""
        if api_key:
            return cls(PagerDutyClient(api_key=api_key, region=region, base_url=base_url,
                                       **client_options), now=now)  # fmt: skip
        if not (oauth_client_id and oauth_client_secret and subdomain):
            raise ValueError(
                "PagerDuty needs an API key, or an OAuth client id, secret and subdomain"
            )
        auth = ClientCredentialsAuth(
            oauth_client_id,
            oauth_client_secret,
            subdomain,
            region=region,
            scopes=tuple(scopes or ROSTER_SCOPES),
            identity_url=identity_url or IDENTITY_URL,
        )
        client = PagerDutyClient(auth=auth, region=region, base_url=base_url, **client_options)
        return cls(client, now=now)

    async def aclose(self) -> None:
        await self.client.aclose()
        auth = self.client.http.auth
        if isinstance(auth, ClientCredentialsAuth):
            await auth.aclose()

    def progress(self) -> SyncProgress:
        return self.client.progress

    async def fetch(self) -> FetchResult:
        now = self._now()
        before = self.client.calls
        full = self._full
        fresh = full is not None and timedelta(0) <= now - full.at < REUSE_FOR
        if full is not None and fresh and await self._unchanged_since(full.at):
            return await self._incremental(now, full, before)
        return await self._full_sync(now, before)

    async def _unchanged_since(self, at: datetime) -> bool:
        """Whether the audit trail shows no roster resource changed since `at` (one call)."""
        if not self._audit_readable:
            return False
        params: Params = [("since", iso(at - AUDIT_MARGIN)), ("until", iso(self._now())),
                          ("limit", 1), *(("root_resource_types[]", t) for t in AUDITED)]  # fmt: skip
        try:
            body = await self.client.get("/audit/records", params)
        except (Forbidden, NotFound, RequestRejected):  # no Audit Trail feature, or no right
            self._audit_readable = False
            return False
        except ProviderError:
            return False
        return body.get("records") == [] and not body.get("next_cursor")

    async def _incremental(self, now: datetime, full: FullSync, before: int) -> FetchResult:
        """Who is on call now and the final schedules, on top of the rest of the last full
        sync's reads."""
        builder = RosterBuilder(Provider.PAGERDUTY, now)
        builder.unlisted = full.unlisted
        for warning in full.warnings:
            builder.warn(warning)
        org = replace(full.org, users=list(full.org.users))

        async def oncalls() -> list[dict[str, Any]]:
            try:
                return await self._oncalls(None)
            except OffsetCapReached:
                return await self._oncalls_by_policy(org.escalation_policies)

        # Overrides change who is on call without changing a schedule's settings, so the
        # final schedules are read again (their pages, not one call per schedule).
        org.oncalls, org.schedule_details = await gather_or_cancel(
            oncalls(), self._final_schedules(org, now, builder, with_policies=False)
        )
        if builder.unlisted:
            await self._on_call_past_the_cap(org, builder)
        self.directory = build(org, builder)
        calls = self.client.calls - before
        return FetchResult(builder.build(), calls, calls_saved=max(0, full.calls - calls))

    async def _full_sync(self, now: datetime, before: int) -> FetchResult:
        builder = RosterBuilder(Provider.PAGERDUTY, now)
        org = RawOrg()

        async def schedules_then_details() -> dict[str, dict[str, Any]]:
            return await self._final_schedules(org, now, builder, with_policies=True)

        async def teams_then_members() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
            return await self._team_members(await self._teams(builder), builder)

        async def oncalls() -> list[dict[str, Any]]:
            try:
                return await self._oncalls(None)
            except OffsetCapReached:  # too many for one query: ask per batch of policies
                await details
                return await self._oncalls_by_policy(org.escalation_policies)

        # Independent chains run side by side, so a long list never holds up the others.
        details = asyncio.ensure_future(schedules_then_details())
        try:
            (
                org.users,
                org.oncalls,
                org.teams,
                org.schedule_details,
                org.services,
            ) = await gather_or_cancel(
                self._users(builder),
                oncalls(),
                teams_then_members(),
                details,
                self._services(builder),
            )
        finally:
            if not details.done():
                details.cancel()
        listed = tuple(builder.warnings)
        if builder.unlisted:
            await self._on_call_past_the_cap(org, builder)
        self.directory = build(org, builder)
        snapshot = builder.build()
        calls = self.client.calls - before
        self._full = FullSync(now, org, calls, builder.unlisted, listed)
        return FetchResult(snapshot=snapshot, api_calls=calls)

    async def _final_schedules(
        self, org: RawOrg, now: datetime, builder: RosterBuilder, *, with_policies: bool
    ) -> dict[str, dict[str, Any]]:
        """The schedules with their final schedules around now (and, `with_policies`, the
        escalation policies and shift-based schedules), then the details of those no policy
        uses whose shift reaches past that window or that are shift-based."""
        since, until = now - FINAL_WINDOW, now + FINAL_WINDOW
        finals: Params = [("include[]", "final_schedule"), ("since", iso(since)),
                          ("until", iso(until)), ("time_zone", "UTC")]  # fmt: skip
        schedules = self._list("/schedules", "schedules", builder, "schedules", finals)
        if with_policies:
            org.schedules, org.escalation_policies, org.v3_schedules = await gather_or_cancel(
                schedules,
                self._list("/escalation_policies", "escalation_policies", builder, "policies"),
                self._v3_schedules(builder),
            )
        else:
            org.schedules = await schedules
        listed, cut = listed_final_schedules(org, unused_schedule_ids(org), now, since, until)
        details, v3 = await gather_or_cancel(
            self._schedule_details(cut, org, now, builder),
            self._v3_details(unused_v3_schedule_ids(org), org, now, builder),
        )
        return {**listed, **details, **v3}

    async def _list(
        self, path: str, key: str, builder: RosterBuilder, what: str, params: Params | None = None
    ) -> list[dict[str, Any]]:
        try:
            return await self.client.list_all(path, key, params)
        except OffsetCapReached as capped:
            builder.warn(
                f"PagerDuty lists at most 10,000 {what} per query; {capped.total or 'some'} exist, "
                f"so only the first {len(capped.items)} were read."
            )
            return capped.items

    async def _users(self, builder: RosterBuilder) -> list[dict[str, Any]]:
        """The directory as far as `/users` pages reach; how many lie past the cap is kept."""
        try:
            return await self.client.list_all("/users", "users")
        except OffsetCapReached as capped:
            builder.unlisted = max(0, (capped.total or 0) - len(capped.items))
            return capped.items

    async def _on_call_past_the_cap(self, org: RawOrg, builder: RosterBuilder) -> None:
        """People on call on a schedule no policy uses are named by id only: fetch those the
        capped list did not reach, one by one (everyone else on call came with an e-mail)."""
        known = {str(u.get("id")) for u in org.users}
        missing = sorted(set(on_call_user_ids(org)) - known)

        async def one(uid: str) -> dict[str, Any] | None:
            try:
                user = (await self.client.get(f"/users/{uid}")).get("user")
            except NotFound:
                return None  # deleted since: the mapping warns about the entry
            return user if isinstance(user, dict) else None

        found = [u for u in await gather_or_cancel(*(one(uid) for uid in missing)) if u]
        org.users.extend(found)
        builder.unlisted = max(0, builder.unlisted - len(found))
        builder.warn(
            f"PagerDuty lists at most 10,000 users per query: {builder.unlisted:,} were not "
            f"listed. Everyone on call and every team member was still found ({len(found):,} "
            "looked up one by one); members of a schedule who are neither on call now nor in "
            "a team may be missing from its members."
        )

    async def _v3_schedules(self, builder: RosterBuilder) -> list[dict[str, Any]]:
        """Shift-based schedules: only `/v3/schedules` lists those no escalation policy uses."""
        try:
            return await self.client.list_all("/v3/schedules", "schedules", page=V3_PAGE)
        except OffsetCapReached as capped:
            builder.warn(
                f"PagerDuty lists at most 10,000 shift-based schedules per query; only the first "
                f"{len(capped.items)} were read."
            )
            return capped.items
        except (Forbidden, NotFound, RequestRejected) as error:  # an account without them
            builder.warn(f"PagerDuty shift-based schedules were not listed: {error}")
            return []

    async def _oncalls(self, policy_ids: Iterable[str] | None) -> list[dict[str, Any]]:
        params: Params = [("include[]", "users")]
        params += [("escalation_policy_ids[]", pid) for pid in policy_ids or ()]
        return await self.client.list_all("/oncalls", "oncalls", params)

    async def _oncalls_by_policy(self, policies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Past 10,000 entries one query cannot page on: ask per batch of escalation policies."""
        ids = [str(p["id"]) for p in policies if p.get("id")]
        batches = [ids[i : i + POLICY_BATCH] for i in range(0, len(ids), POLICY_BATCH)]
        pages = await gather_or_cancel(*(self._oncalls(batch) for batch in batches))
        return [entry for page in pages for entry in page]

    async def _services(self, builder: RosterBuilder) -> list[dict[str, Any]]:
        try:
            return await self._list("/services", "services", builder, "services")
        except (Forbidden, RequestRejected) as error:  # a key or app without services.read
            builder.warn(f"PagerDuty services were not synced: {error}")
            return []

    async def _teams(self, builder: RosterBuilder) -> list[dict[str, Any]]:
        try:
            return await self._list("/teams", "teams", builder, "teams")
        except (Forbidden, RequestRejected) as error:  # 402: account without the teams ability
            builder.warn(f"PagerDuty teams were not synced: {error}")
            return []

    async def _team_members(
        self, teams: list[dict[str, Any]], builder: RosterBuilder
    ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        async def one(team: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
            path = f"/teams/{team.get('id')}/members"
            try:
                members = await self._list(
                    path, "members", builder, "members", [("include[]", "users")]
                )
            except NotFound:
                builder.warn(
                    f"PagerDuty team '{team.get('name')}' vanished during the sync; skipped."
                )
                return None
            return team, members

        found = await gather_or_cancel(*(one(t) for t in teams if t.get("id")))
        return [pair for pair in found if pair is not None]

    async def _schedule_details(
        self, ids: list[str], org: RawOrg, now: datetime, builder: RosterBuilder
    ) -> dict[str, dict[str, Any]]:
        """Who is on an unused schedule now: its final schedule around now, shifts untruncated."""
        names = {str(s.get("id")): s.get("name") for s in org.schedules}
        window = [("since", iso(now)), ("until", iso(now + timedelta(minutes=1))),
                  ("overflow", "true"), ("time_zone", "UTC")]  # fmt: skip

        async def one(sid: str) -> tuple[str, dict[str, Any]] | None:
            try:
                body = await self.client.get(f"/schedules/{sid}", window)
            except NotFound:
                builder.warn(
                    f"PagerDuty schedule '{names.get(sid)}' ({sid}) vanished during the sync; "
                    "skipped its shifts."
                )
                return None
            schedule = body.get("schedule")
            return (sid, schedule) if isinstance(schedule, dict) else None

        found = await gather_or_cancel(*(one(sid) for sid in ids))
        return dict(pair for pair in found if pair is not None)

    async def _v3_details(
        self, ids: list[str], org: RawOrg, now: datetime, builder: RosterBuilder
    ) -> dict[str, dict[str, Any]]:
        """Who is on a shift-based schedule no policy uses: its computed shifts around now."""
        names = {str(s.get("id")): s.get("summary") for s in org.v3_schedules}
        window = [("include[]", "final_schedule"), ("since", iso(now)),
                  ("until", iso(now + timedelta(minutes=1))), ("overflow", "true"),
                  ("time_zone", "UTC")]  # fmt: skip

        async def one(sid: str) -> tuple[str, dict[str, Any]] | None:
            try:
                body = await self.client.get(f"/v3/schedules/{sid}", window)
            except NotFound:
                builder.warn(
                    f"PagerDuty schedule '{names.get(sid)}' ({sid}) vanished during the sync; "
                    "skipped its shifts."
                )
                return None
            schedule = body.get("schedule")
            return (sid, schedule) if isinstance(schedule, dict) else None

        found = await gather_or_cancel(*(one(sid) for sid in ids))
        return dict(pair for pair in found if pair is not None)

    async def confirm_on_call(self, email: str, group: GroupRef, now: datetime) -> Shift | None:
        """Live `/oncalls?user_ids[]=` for one person, answered within ~1.5 s or raising."""
        if group.provider is not Provider.PAGERDUTY or group.kind is GroupKind.TEAM:
            return None
        clock = self.client.http.clock
        end = clock() + self._confirm_deadline
        email = normalize_email(email)
        user_id = self.directory.user_ids.get(email) or await self._user_id(email, end - clock())
        if user_id is None:
            return None
        params: Params = [("user_ids[]", user_id), ("since", iso(now)), ("until", iso(now)),
                          ("limit", 100)]  # fmt: skip
        if group.kind is GroupKind.SCHEDULE and group.name in self.directory.schedule_ids:
            params.append(("schedule_ids[]", self.directory.schedule_ids[group.name]))
        elif group.kind is GroupKind.ESCALATION_POLICY and group.name in self.directory.policy_ids:
            params.append(("escalation_policy_ids[]", self.directory.policy_ids[group.name]))
        body = await self.client.get("/oncalls", params, deadline=end - clock())
        shifts = [
            s
            for s in _matching(body.get("oncalls"), email, group)
            if s.covers(now) and group.admits(s.level)  # `…/NAME@1-2`: only those levels count
        ]
        if not shifts:
            return None
        return max(shifts, key=lambda s: s.end or datetime.max.replace(tzinfo=UTC))

    async def _user_id(self, email: str, deadline: float) -> str | None:
        body = await self.client.get("/users", [("query", email), ("limit", 25)], deadline=deadline)
        for user in body.get("users") or ():
            if isinstance(user, dict) and normalize_email(str(user.get("email") or "")) == email:
                return str(user.get("id"))
        return None

    async def verify(self) -> Verification:
        """One cheap read per roster endpoint: says which work, and why the others do not."""
        where = f"PagerDuty ({self.client.region.value.upper()}, {self.client.base_url})"

        async def probe(path: str, key: str) -> ProviderError | None:
            try:
                await self.client.get(path, [("limit", 1)])
            except ProviderError as error:
                return error
            return None

        results = await asyncio.gather(*(probe(path, key) for path, key, _, _ in PROBES))
        for error in results:
            if isinstance(error, Unauthorized):
                return Verification(False, f"{where}: {error}")
        can = [p for p, e in zip(PROBES, results, strict=True) if e is None]
        cannot = [(p, e) for p, e in zip(PROBES, results, strict=True) if e is not None]
        summary = f"{where}: can read {_join(p[3] for p in can) or 'nothing'}"
        if cannot:
            summary += "; cannot read " + _join(f"{p[3]} ({e.status or e})" for p, e in cannot)
        auth = self.client.http.auth
        # Write scopes the policy needs are the bot's to explain; these are the roster's.
        missing = auth.missing_scopes if isinstance(auth, ClientCredentialsAuth) else ()
        unread = [s for s in missing if s in ROSTER_SCOPES]
        if unread:
            summary += "; the OAuth app was not granted " + _join(unread)
        essential = {"users.read", "schedules.read", "escalation_policies.read", "oncalls.read"}
        ok = essential <= {p[2] for p in can}
        summary += ". Read-only checks: write access was not tested."
        return Verification(ok, summary, tuple(p[2] for p in can))


def _matching(entries: object, email: str, group: GroupRef) -> list[Shift]:
    found: list[Shift] = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict):
            continue
        if group.kind is GroupKind.SCHEDULE:
            target, level = entry.get("schedule"), None
        else:
            target, level = entry.get("escalation_policy"), entry.get("escalation_level")
        if not isinstance(target, dict) or target.get("summary") != group.name:
            continue
        try:
            start, end = parse_time(entry.get("start")), parse_time(entry.get("end"))
        except ValueError:
            continue
        found.append(Shift(email, start, end, level if isinstance(level, int) else None))
    return found


def _join(items: Iterable[str]) -> str:
    listed = list(items)
    return ", ".join(listed[:-1]) + f" and {listed[-1]}" if len(listed) > 1 else "".join(listed)


__all__ = ["ROSTER_SCOPES", "PagerDutyRosterProvider"]
