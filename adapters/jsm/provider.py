"""JSM operations as a RosterProvider: full roster syncs, live on-call checks, credential checks.

Its alerts (`incidents`, see `alerts`) are read live, never synced: `jsm:team/NAME` in
`request.incident` admits whoever responds to an open alert of that team.

A sync reads every schedule (with rotations), each schedule's current on-calls and a two-week
timeline around now (for exact shift ends), the teams and their members, then resolves every
account id it met to an e-mail (see `people`). Anything odd in the data (a schedule deleted
mid-sync, a hidden e-mail, a participant of an unknown type) is skipped with a warning; an
error that leaves the roster unknowable (401, 403, 5xx after retries) fails the sync, and the
last good snapshot stays, as for every provider.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from adapters.jsm.alerts import JsmAlerts
from adapters.jsm.checks import verify
from adapters.jsm.client import JsmClient
from adapters.jsm.mapping import (
    Directory,
    RawOrg,
    build,
    oncall_accounts,
    timeline_periods,
)
from adapters.jsm.people import AccountResolver
from adapters.jsm.teams import list_teams, read_members
from adapters.providerhttp import NotFound
from adapters.providerhttp.builder import RosterBuilder, parse_time
from adapters.providerhttp.tasks import gather_or_cancel
from adapters.providerhttp.timeline import shift_for
from core.groups import GroupKind, GroupRef, Provider
from core.identity import normalize_email
from core.ports import FetchResult, SyncProgress, Verification
from core.roster import Shift

CONFIRM_DEADLINE = 1.5
TIMELINE_LOOKBACK = timedelta(weeks=1)

Obj = dict[str, Any]


def jsm_time(value: datetime) -> str:
    """ISO 8601 in UTC with `Z`: nothing in it needs escaping in a query string."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class JsmRosterProvider:
    """Roster from JSM operations schedules and teams (see `mapping`)."""

    provider = Provider.JSM

    def __init__(
        self,
        client: JsmClient,
        *,
        org_id: str | None = None,
        account_emails: Mapping[str, str] | None = None,
        now: Callable[[], datetime] | None = None,
        confirm_deadline: float = CONFIRM_DEADLINE,
    ) -> None:
        self.client = client
        self.org_id = (org_id or "").strip() or None
        self.directory = Directory()
        self._now = now or (lambda: datetime.now(UTC))
        self._confirm_deadline = confirm_deadline
        self.accounts = AccountResolver(client, overrides=account_emails, now=lambda: self._now())
        self.incidents = JsmAlerts(
            client, lambda: self.directory, self.accounts, lambda: self.org_id
        )

    @classmethod
    def from_settings(
        cls,
        *,
        site: str,
        email: str,
        api_token: str,
        base_url: str | None = None,
        site_url: str | None = None,
        cloud_id: str | None = None,
        org_id: str | None = None,
        account_emails: Mapping[str, str] | None = None,
        now: Callable[[], datetime] | None = None,
        **client_options: Any,
    ) -> JsmRosterProvider:
        """From a stored connection: the site, the account e-mail and its API token.

        `base_url` is `JSM_API_URL`; `site_url` replaces `https://SITE.atlassian.net` (tests);
        `cloud_id` skips the lookup; `org_id` enables reading team members.
        """
        client = JsmClient(site=site, email=email, api_token=api_token, base_url=base_url,
                           site_url=site_url, cloud_id=cloud_id, **client_options)  # fmt: skip
        return cls(client, org_id=org_id, account_emails=account_emails, now=now)

    def map_accounts(self, account_emails: Mapping[str, str]) -> None:
        """Replace the manual account id → e-mail mappings, e.g. from `identity map jsm:ID
        EMAIL`, for people whose e-mail their profile hides; used from the next sync on."""
        self.accounts.set_overrides(account_emails)

    async def aclose(self) -> None:
        await self.client.aclose()

    def progress(self) -> SyncProgress:
        return SyncProgress(self.client.calls)

    async def fetch(self) -> FetchResult:
        now = self._now()
        before = self.client.calls
        builder = RosterBuilder(Provider.JSM, now)
        schedules, teams = await gather_or_cancel(
            self.client.values("/v1/schedules", [("expand", "rotation")]),
            list_teams(self.client, builder),
        )
        org = RawOrg(schedules=schedules, teams=teams)

        async def members_and_people() -> None:
            # The site's budget is counted apart from the operations API's: the people that
            # rotations and teams name are looked up while on-calls and timelines are read,
            # leaving only those named by nothing else (cached answers are not asked again).
            org.team_members = await read_members(self.client, self.org_id, teams, builder)
            await self.accounts.resolve(sorted(org.account_ids()))

        _, current = await gather_or_cancel(
            members_and_people(),
            gather_or_cancel(*(self._schedule_now(s, now, builder) for s in schedules)),
        )
        for schedule, answer in zip(schedules, current, strict=True):
            if answer is not None:
                sid = str(schedule["id"])
                org.oncalls[sid], timeline = answer
                if timeline is not None:
                    org.timelines[sid] = timeline
        accounts = await self.accounts.resolve(sorted(org.account_ids()))
        self.directory = build(org, accounts, builder, now)
        return FetchResult(snapshot=builder.build(), api_calls=self.client.calls - before)

    async def _schedule_now(
        self, schedule: Obj, now: datetime, builder: RosterBuilder
    ) -> tuple[Obj, Obj | None] | None:
        """The schedule's on-calls now and its timeline; None when it vanished mid-sync."""
        sid = str(schedule.get("id") or "")
        if not sid:
            return None
        path = f"/v1/schedules/{quote(sid, safe='')}"
        try:
            oncall, timeline = await gather_or_cancel(
                self.client.ops_get(f"{path}/on-calls", [("date", jsm_time(now))]),
                self.client.ops_get(f"{path}/timeline", _timeline_window(now)),
            )
        except NotFound:
            name = schedule.get("name") or sid
            builder.warn(f"JSM schedule '{name}' vanished during the sync; skipped its shifts.")
            return None
        return (oncall if isinstance(oncall, dict) else {}), (
            timeline if isinstance(timeline, dict) else None
        )

    async def confirm_on_call(self, email: str, group: GroupRef, now: datetime) -> Shift | None:
        """Live on-calls for the schedule (with its timeline for the end), within ~1.5 s."""
        if group.provider is not Provider.JSM or group.kind is not GroupKind.SCHEDULE:
            return None
        email = normalize_email(email)
        deadline = self._confirm_deadline
        sid = self.directory.schedule_ids.get(group.name) or await self._schedule_id(
            group.name, deadline
        )
        if sid is None:
            return None
        path = f"/v1/schedules/{quote(sid, safe='')}"
        oncall, timeline = await gather_or_cancel(
            self.client.ops_get(f"{path}/on-calls", [("date", jsm_time(now))], deadline=deadline),
            self.client.ops_get(f"{path}/timeline", _timeline_window(now), deadline=deadline),
        )
        teams = {tid: list(ids) for tid, ids in self.directory.team_members.items()}
        on_call, _ = oncall_accounts(oncall if isinstance(oncall, dict) else {}, teams)
        accounts = await self.accounts.resolve(on_call, deadline=deadline)
        emails = {a: x.email for a, x in accounts.items() if x.email}
        if email not in emails.values():
            return None
        timeline = timeline if isinstance(timeline, dict) else {}
        try:
            window_end = parse_time(timeline.get("endDate"))
        except ValueError:
            window_end = None
        return shift_for(email, timeline_periods(timeline, emails), now, window_end)

    async def _schedule_id(self, name: str, deadline: float) -> str | None:
        """A schedule's id by its exact name, before the first sync has learned it."""
        body = await self.client.ops_get(
            "/v1/schedules", [("query", name), ("offset", 0), ("size", 50)], deadline=deadline
        )
        values = body.get("values") if isinstance(body, dict) else None
        for schedule in values if isinstance(values, list) else ():
            if isinstance(schedule, dict) and str(schedule.get("name", "")).strip() == name:
                return str(schedule.get("id") or "") or None
        return None

    async def verify(self) -> Verification:
        """Live reads of each kind of data a sync needs; see `checks`."""
        return await verify(self.client, self.org_id)


def _timeline_window(now: datetime) -> list[tuple[str, Any]]:
    """Two weeks around now: shifts that started up to a week ago keep their real start."""
    return [("date", jsm_time(now - TIMELINE_LOOKBACK)), ("interval", 2),
            ("intervalUnit", "weeks")]  # fmt: skip
