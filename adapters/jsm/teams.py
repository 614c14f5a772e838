"""JSM teams and who is in them.

Teams with operations enabled are listed by the operations API (`GET /v1/teams`), which one
live report shows answering a bare array of `{teamId, teamName}`; a `values` page is accepted
too. Teams are Atlassian platform teams, so their members come from the Teams API on the site:
`POST /gateway/api/public/teams/v1/org/{orgId}/teams/{teamId}/members`, which needs the
organization id (not derivable from the site with an API token, so it is configured) and
answers account ids with a Relay-style cursor.

That cursor goes in a JSON request body, which the shared HTTP layer cannot send yet; the first
page is asked for without a body (the API allows that), and a team with more members than one
page is reported, its further members not counted (fail closed: a `members:` rule refuses them
rather than admitting strangers).
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
    body = await client.site.request(
        "POST", members_path(org_id, team_id), params=[("siteId", await client.cloud_id())]
    )
    results = body.get("results") if isinstance(body, dict) else None
    ids = [
        str(r["accountId"])
        for r in (results if isinstance(results, list) else [])
        if isinstance(r, dict) and r.get("accountId")
    ]
    page = body.get("pageInfo") if isinstance(body, dict) else None
    more = isinstance(page, dict) and page.get("hasNextPage") is True
    return Members(ids, complete=not more)


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
                f"JSM team '{name}' has more members than one page of the Teams API; only the "
                f"first {len(members.account_ids)} were read, the others do not count as members."
            )
        found[tid] = members.account_ids
    return found
