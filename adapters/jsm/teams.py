"""JSM teams and who is in them.

Teams with operations enabled are listed by the operations API (`GET /v1/teams`), which one
live report shows answering a bare array of `{teamId, teamName}`; a `values` page is accepted
too. Teams are Atlassian platform teams, so their members come from the Teams API on the site:
`POST /gateway/api/public/teams/v1/org/{orgId}/teams/{teamId}/members`, which needs the
organization id (not derivable from the site with an API token, so it is configured) and
answers account ids with a Relay-style cursor.

The cursor goes in the JSON request body (`{"first": 50, "after": CURSOR}`); pages are followed
up to a bound, past which the team is reported and its further members not counted (fail
closed: a `members:` rule refuses them rather than admitting strangers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from adapters.jsm.client import JsmClient
from adapters.jsm.mapping import team_ref
from adapters.providerhttp import NotFound, RequestRejected
from adapters.providerhttp.builder import RosterBuilder
from adapters.providerhttp.tasks import gather_or_cancel

Obj = dict[str, Any]
ORG_ID_HINT = (
    "set the Atlassian organization id (admin.atlassian.com → the organization; the id is in "
    "the address) to read team members"
)


MEMBER_PAGE = 50
MAX_MEMBER_PAGES = 200  # 10,000 members: a team past that is reported, not read further


@dataclass(frozen=True, slots=True)
class Members:
    account_ids: list[str]
    complete: bool


async def list_teams(client: JsmClient, b: RosterBuilder | None = None) -> list[Obj]:
    """The operations teams; a 404/400 (endpoint missing for this site) is a warning."""
    try:
        return await client.values("/v1/teams")
    except (NotFound, RequestRejected) as error:
        if b is None:
            raise
        b.warn(f"JSM teams could not be listed ({error.status}); team groups are missing.")
        return []


def members_path(org_id: str, team_id: str) -> str:
    return (
        f"/gateway/api/public/teams/v1/org/{quote(org_id, safe='')}/teams/"
        f"{quote(team_id, safe='')}/members"
    )


async def team_members(client: JsmClient, org_id: str, team_id: str) -> Members:
    """Every member, following the Relay cursor (`after`) page by page, up to a bound."""
    ids: list[str] = []
    cursor: str | None = None
    site = [("siteId", await client.cloud_id())]
    for _ in range(MAX_MEMBER_PAGES):
        paging: dict[str, Any] = {"first": MEMBER_PAGE}
        if cursor:
            paging["after"] = cursor
        body = await client.site.request(
            "POST", members_path(org_id, team_id), params=site, json=paging
        )
        results = body.get("results") if isinstance(body, dict) else None
        ids.extend(
            str(r["accountId"])
            for r in (results if isinstance(results, list) else [])
            if isinstance(r, dict) and r.get("accountId")
        )
        page = body.get("pageInfo") if isinstance(body, dict) else None
        more = isinstance(page, dict) and page.get("hasNextPage") is True
        cursor = str(page.get("endCursor") or "") if isinstance(page, dict) else ""
        if not more or not cursor:
            return Members(ids, complete=True)
    return Members(ids, complete=False)


async def read_members(
    client: JsmClient, org_id: str | None, teams: list[Obj], b: RosterBuilder
) -> dict[str, list[str]]:
    """team id → member account ids, for every team whose members could be read."""
    refs = [ref for ref in (team_ref(t) for t in teams) if ref[0] and ref[1]]
    if not refs:
        return {}
    if not org_id:
        b.warn(f"JSM team members were not read: {ORG_ID_HINT}. Team groups have no members.")
        return {}

    async def one(tid: str, name: str) -> tuple[str, Members | None]:
        try:
            return tid, await team_members(client, org_id, tid)
        except NotFound:
            b.warn(f"JSM team '{name}' was not found in the organization's teams; no members.")
            return tid, None

    found: dict[str, list[str]] = {}
    for (tid, name), (_, members) in zip(
        refs, await gather_or_cancel(*(one(t, n) for t, n in refs)), strict=True
    ):
        if members is None:
            continue
        if not members.complete:
            b.warn(
                f"JSM team '{name}' has more members than {MAX_MEMBER_PAGES} pages of the Teams API; "
                f"only the first {len(members.account_ids)} were read, the others do not count."
            )
        found[tid] = members.account_ids
    return found
