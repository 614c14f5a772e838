"""Checking a JSM connection live before it is stored: who we are, and what we may read.

One cheap read per kind of data a sync needs, so the admin learns at connect time, in one
sentence each, what is wrong: a 401 means Atlassian refused the e-mail/API-token pair; a 403
names the permission the account lacks for that read. Nothing here writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import quote

from adapters.jsm.client import JsmClient
from adapters.jsm.mapping import team_ref
from adapters.jsm.teams import ORG_ID_HINT, team_members
from adapters.providerhttp import Forbidden, ProviderError, Unauthorized
from core.ports import Verification

T = TypeVar("T")

AGENT = (
    "it needs a Jira Service Management agent licence, and the operations read-only "
    "administrative right to see every schedule rather than only its own teams'"
)
NEEDS = {
    "schedules": AGENT,
    "on-calls": AGENT,
    "teams": "it needs access to Jira Service Management operations",
    "users' e-mail": "it needs the 'Browse users and groups' global permission in Jira",
    "team members": "it needs to belong to the Atlassian organization whose id is configured",
}
ESSENTIAL = ("schedules", "on-calls", "users' e-mail")


async def _try(call: Awaitable[T]) -> tuple[T | None, ProviderError | None]:
    try:
        return await call, None
    except ProviderError as error:
        return None, error


def refused_pair(where: str, email: str) -> Verification:
    return Verification(
        False,
        f"{where}: Atlassian refused the e-mail and API token pair for {email} (401): check "
        "that the address is the account's own and that the token is neither revoked nor "
        "expired (id.atlassian.com → Security → API tokens).",
    )


async def verify(client: JsmClient, org_id: str | None) -> Verification:
    where = f"JSM operations ({client.hosts.site})"
    _, error = await _try(client.cloud_id())
    if error is not None:
        return Verification(False, f"{where}: {error}")

    results = await asyncio.gather(
        _try(client.site.get("/rest/api/3/myself")),
        _try(client.ops_get("/v1/schedules", [("offset", 0), ("size", 1)])),
        _try(client.values("/v1/teams")),
    )
    (me, me_error), (listed, _), (teams, _) = results
    outcome: dict[str, ProviderError | None] = {
        "schedules": results[1][1],
        "teams": results[2][1],
    }
    if any(isinstance(e, Unauthorized) for _, e in results):
        return refused_pair(where, client.email)

    second: dict[str, Awaitable[Any]] = {}
    account = me.get("accountId") if isinstance(me, dict) else None
    if account:
        second["users' e-mail"] = client.site.get("/rest/api/3/user", [("accountId", account)])
    elif me_error is not None:
        outcome["users' e-mail"] = me_error
    schedules = listed.get("values") if isinstance(listed, dict) else None
    first = schedules[0] if isinstance(schedules, list) and schedules else None
    if isinstance(first, dict) and first.get("id"):
        sid = quote(str(first["id"]), safe="")
        second["on-calls"] = client.ops_get(f"/v1/schedules/{sid}/on-calls")
    first_team = team_ref(teams[0]) if teams else ("", "")
    if org_id and first_team[0]:
        second["team members"] = team_members(client, org_id, first_team[0])
    answers = await asyncio.gather(*(_try(call) for call in second.values()))
    outcome.update({what: e for what, (_, e) in zip(second, answers, strict=True)})
    if any(isinstance(e, Unauthorized) for e in outcome.values()):
        return refused_pair(where, client.email)
    return _summary(where, client.email, me, outcome, org_id)


def _summary(
    where: str,
    email: str,
    me: object,
    outcome: dict[str, ProviderError | None],
    org_id: str | None,
) -> Verification:
    can = tuple(what for what, e in outcome.items() if e is None)
    name = me.get("displayName") if isinstance(me, dict) else None
    who = f"{name} ({email})" if isinstance(name, str) and name else email
    forbidden = [(what, e) for what, e in outcome.items() if isinstance(e, Forbidden)]
    failed = [
        (what, e) for what, e in outcome.items() if e is not None and (what, e) not in forbidden
    ]
    ok = not any(outcome.get(what) for what in ESSENTIAL)
    parts = [f"{where}: signed in as {who}"]
    if can:
        parts.append(f"can read {', '.join(can)}")
    if forbidden:
        parts.append(
            "may not read " + "; ".join(f"{what} (403: {NEEDS[what]})" for what, _ in forbidden)
        )
    if failed:
        parts.append("could not read " + "; ".join(f"{what} ({e})" for what, e in failed))
    if not org_id:
        parts.append(f"team members will not be read: {ORG_ID_HINT}")
    return Verification(ok, "; ".join(parts) + ".", can)
