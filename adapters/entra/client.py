"""Microsoft Graph v1.0, the few calls that give and take back a group membership.

Users are found by UPN or mail (`$filter=userPrincipalName eq '…' or mail eq '…'`); a person's
direct memberships are read from `/users/{id}/memberOf/microsoft.graph.group`, following
`@odata.nextLink`; members are added with `POST /groups/{id}/members/$ref` (400 when already a
member) and removed with `DELETE /groups/{id}/members/{user}/$ref` (404 when not). 429 answers
carry `Retry-After`, which the shared HTTP layer honours. Graph's identity and access write quota
lets 3,000 writes through per application and tenant in 2 minutes 30 seconds, so the client
paces its writes (the POST and DELETE of a member) at that; reads count against a separate and
larger quota and are not held. A 403 is explained by the application
permission the app's token lacks (its `roles` claim), named exactly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from adapters.entra.auth import EntraLogin
from adapters.providerhttp import (
    Forbidden,
    NotFound,
    ProviderHTTP,
    RateLimit,
    RequestRejected,
    RetryPolicy,
    SlidingWindow,
)
from adapters.providerhttp.heldroles import Gone
from adapters.providerhttp.limiter import MonotonicClock, Sleep
from adapters.providerhttp.tokens import BearerTokenAuth
from core.errors import DomainError
from core.ports import Verification

GRAPH_URL = "https://graph.microsoft.com"
NAME = "Microsoft Graph"
MAX_PAGES = 1000
WRITE_QUOTA = RateLimit(3000, 150.0)  # Graph: writes per application and tenant

# Application permissions that allow each step, least privileged first (Graph's own tables).
WRITE_MEMBERS = ("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All")
READ_USERS = (
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
READ_MEMBERSHIP = (
    "GroupMember.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
ROLE_ASSIGNABLE = "RoleManagement.ReadWrite.Directory"


def _graph_facts(response: httpx.Response) -> dict[str, str]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return {}
    return {"code": str(error.get("code") or "")}


class GraphClient:
    """One app in one tenant, signed in with client credentials."""

    def __init__(
        self,
        *,
        tenant: str,
        client_id: str,
        client_secret: str = "",
        certificate: str = "",
        graph_url: str | None = None,
        login_url: str | None = None,
        retry: RetryPolicy | None = None,
        clock: MonotonicClock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_concurrency: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
        write_quota: RateLimit = WRITE_QUOTA,
    ) -> None:
        http: dict[str, Any] = {"retry": retry, "clock": clock, "sleep": sleep}
        if transport is not None:
            http["transport"] = transport
        self.login = EntraLogin(
            tenant=tenant,
            client_id=client_id,
            client_secret=client_secret,
            certificate=certificate,
            login_url=login_url,
            **http,
        )
        self.auth = BearerTokenAuth(self.login.fetch, clock=clock)
        self.base_url = (graph_url or GRAPH_URL).rstrip("/")
        self.http = ProviderHTTP(
            NAME,
            self.base_url,
            auth=self.auth,
            headers={"Accept": "application/json"},
            max_concurrency=max_concurrency,
            error_facts=_graph_facts,
            write_limit=SlidingWindow(write_quota, clock=clock, sleep=sleep),
            **http,
        )

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.login.aclose()

    # -- reads ----------------------------------------------------------------------------------
    async def user(self, email: str) -> dict[str, Any]:
        """The user whose UPN or mail is `email` (compared as Graph does, case-insensitively)."""
        quoted = email.replace("'", "''")
        params = {
            "$filter": f"userPrincipalName eq '{quoted}' or mail eq '{quoted}'",
            "$select": "id,userPrincipalName,mail,accountEnabled",
        }
        body = await self._read("/v1.0/users", params, READ_USERS, "read users")
        found = [u for u in body.get("value") or () if isinstance(u, dict) and u.get("id")]
        if not found:
            raise DomainError(f"Microsoft Entra ID has no user whose UPN or mail is {email}.")
        if len(found) > 1:
            raise DomainError(
                f"Microsoft Entra ID has {len(found)} users whose UPN or mail is {email}; "
                "give each person one."
            )
        return dict(found[0])

    async def group(self, group_id: str) -> dict[str, Any]:
        params = {
            "$select": "id,displayName,groupTypes,membershipRule,isAssignableToRole,"
            "onPremisesSyncEnabled,securityEnabled,mailEnabled"
        }
        try:
            body = await self._read(
                f"/v1.0/groups/{quote(group_id, safe='')}", params, READ_MEMBERSHIP, "read groups"
            )
        except NotFound:
            raise DomainError(f"Microsoft Entra ID has no group with the id {group_id}.") from None
        return dict(body)

    async def groups_of(self, user_id: str) -> set[str]:
        """The ids of the groups the user is a direct member of, every page."""
        path: str | None = f"/v1.0/users/{quote(user_id, safe='')}/memberOf/microsoft.graph.group"
        params: dict[str, str] | None = {"$select": "id", "$top": "999"}
        ids: set[str] = set()
        for _ in range(MAX_PAGES):
            if path is None:
                return ids
            try:
                body = await self._read(path, params, READ_MEMBERSHIP, "read group memberships")
            except NotFound:
                raise Gone(f"Microsoft Entra ID has no user {user_id} any more.") from None
            ids.update(str(g["id"]) for g in body.get("value") or () if isinstance(g, dict))
            link = body.get("@odata.nextLink")
            path, params = (str(link), None) if link else (None, None)
        raise DomainError("Microsoft Graph kept paging a user's groups without end.")

    # -- writes ---------------------------------------------------------------------------------
    async def add_member(self, group: dict[str, Any], user_id: str) -> None:
        path = f"/v1.0/groups/{quote(str(group['id']), safe='')}/members/$ref"
        body = {"@odata.id": f"{self.base_url}/v1.0/directoryObjects/{user_id}"}
        try:
            await self.http.request("POST", path, json=body)
        except RequestRejected as exc:
            if exc.status == 400 and await self._is_member(group, user_id):
                return  # "One or more added object references already exist": done already
            raise
        except Forbidden:
            raise DomainError(self._forbidden(group, "add members")) from None

    async def remove_member(self, group: dict[str, Any], user_id: str) -> None:
        path = f"/v1.0/groups/{quote(str(group['id']), safe='')}/members/{quote(user_id, safe='')}/$ref"
        try:
            await self.http.request("DELETE", path)
        except NotFound:
            return  # not a member (any more): what we wanted
        except Forbidden:
            raise DomainError(self._forbidden(group, "remove members")) from None

    async def _is_member(self, group: dict[str, Any], user_id: str) -> bool:
        return str(group["id"]) in await self.groups_of(user_id)

    # -- checks ---------------------------------------------------------------------------------
    async def verify(self) -> Verification:
        """Sign in (the live check of the credentials) and read the permissions granted."""
        await self.auth.token()
        roles = self.login.roles
        missing = [
            what
            for what, options in (
                ("add and remove group members", WRITE_MEMBERS),
                ("find users by UPN or mail", READ_USERS),
            )
            if not roles & set(options)
        ]
        if missing:
            needed = sorted(
                {WRITE_MEMBERS[0] if "members" in m else READ_USERS[0] for m in missing}
            )
            return Verification(
                False,
                f"The app signed in, but may not {' or '.join(missing)}: grant it the application "
                f"permission{'s' if len(needed) > 1 else ''} {' and '.join(needed)} and give "
                "admin consent.",
            )
        caps = ["group members"]
        if ROLE_ASSIGNABLE in roles:
            caps.append("role-assignable groups")
        return Verification(
            True,
            f"Signed in to tenant {self.login.tenant} as app {self.login.client_id}; it may "
            f"change {' and '.join(caps)}.",
            tuple(caps),
        )

    async def _read(
        self, path: str, params: dict[str, str] | None, needs: Sequence[str], doing: str
    ) -> dict[str, Any]:
        try:
            body = await self.http.get(path, params)
        except Forbidden:
            raise DomainError(
                f"Microsoft Graph refused to {doing} (403): {self._lacks(needs)}"
            ) from None
        if not isinstance(body, dict):
            raise DomainError(f"Microsoft Graph answered a request to {doing} with no object.")
        return body

    def _lacks(self, needs: Sequence[str]) -> str:
        roles = self.login.roles
        if roles & set(needs):
            return (
                f"the app holds {sorted(roles & set(needs))[0]}, so the object itself is "
                "protected (e.g. hidden membership)."
            )
        return f"the app needs the application permission {needs[0]} (with admin consent)."

    def _forbidden(self, group: dict[str, Any], doing: str) -> str:
        name = group.get("displayName") or group["id"]
        if group.get("isAssignableToRole") and ROLE_ASSIGNABLE not in self.login.roles:
            return (
                f"Microsoft Graph refused to {doing} of group {name} (403): it is a "
                f"role-assignable group, so the app also needs {ROLE_ASSIGNABLE}."
            )
        return f"Microsoft Graph refused to {doing} of group {name} (403): " + self._lacks(
            WRITE_MEMBERS
        )


__all__ = ["GRAPH_URL", "GraphClient"]
