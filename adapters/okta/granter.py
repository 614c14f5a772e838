"""The `okta-group` granter: membership of an Okta group for the duration of an access.

`grant: {type: okta-group, group: GROUP_ID_OR_NAME}` assigns the person (found by login, else by
primary email) to the group and unassigns them at the end, unless they were a member before
(then they stay) or their membership was changed by hand meanwhile (then it is left and
reported). Only `OKTA_GROUP` groups can have members assigned; an app-imported group (Active
Directory, LDAP) or a built-in one is refused before anything changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from adapters.okta.client import OktaClient
from adapters.providerhttp import ProviderError
from adapters.providerhttp.membership import MEMBER, KeyValues, join, leave
from adapters.providerhttp.recent import Recent
from core.errors import DomainError
from core.grant_types import okta_group
from core.ports import Grant, TargetHealth

KIND = "okta-group"


def spec_problem(spec: Mapping[str, Any]) -> str | None:
    """What is wrong with the policy's `grant:` for this type (the same check `policy check`
    runs), or None."""
    found = okta_group.problems({k: v for k, v in spec.items() if k != "type"})
    return found[0] if found else None


def group_problem(group: Mapping[str, Any]) -> str | None:
    name = (group.get("profile") or {}).get("name") or group.get("id")
    kind = group.get("type")
    if kind == "APP_GROUP":
        return (
            f"Okta group {name} is imported from an app (such as Active Directory): its members "
            "are managed there, not in Okta."
        )
    if kind == "BUILT_IN":
        return f"Okta group {name} is built in: its members cannot be changed."
    return None


class OktaGroupGranter:
    kind = KIND

    def __init__(self, client_for: Callable[[], Awaitable[OktaClient]], notes: KeyValues) -> None:
        """`client_for` returns the live connection's client (or raises DomainError) each call."""
        self._client_for = client_for
        self._notes = notes
        self._groups: Recent[dict[str, Any]] = Recent()  # read once a minute, however many grants

    async def grant(self, grant: Grant) -> dict[str, Any]:
        problem = spec_problem(grant.spec)
        if problem:
            raise DomainError(problem[0].upper() + problem[1:] + ".")
        client = await self._client_for()
        ref = str(grant.spec["group"]).strip()
        group = await self._groups.get((client, ref), lambda: client.group(ref))
        problem = group_problem(group)
        if problem:
            raise DomainError(problem)
        user = await client.user(grant.email)
        slot = OktaMembership(client, group, str(user["id"]), grant.email)
        held = await join(slot, self._notes, grant.request_id, MEMBER)
        return {
            "type": KIND,
            "group": group["id"],
            "group_name": (group.get("profile") or {}).get("name") or group["id"],
            "user_id": slot.user_id,
            **held,
        }

    async def check(self, spec: dict[str, Any]) -> TargetHealth:
        """For `status`: the credentials read users and groups, and the group can take grants."""
        problem = spec_problem(spec)
        if problem:
            return TargetHealth(False, problem)
        try:
            client = await self._client_for()
            verified = await client.verify()
            if not verified.ok:
                return TargetHealth(False, verified.summary)
            group = await client.group(str(spec["group"]).strip())
        except (DomainError, ProviderError) as exc:
            return TargetHealth(False, str(exc))
        problem = group_problem(group)
        if problem:
            return TargetHealth(False, problem)
        name = (group.get("profile") or {}).get("name") or group["id"]
        return TargetHealth(True, f"group {name} ({group['id']}); {verified.summary}")

    async def extend(self, grant: Grant) -> dict[str, Any]:
        """Membership lasts until the revoke, which the scheduler sends at the new end."""
        return {"type": KIND, "unchanged": True}

    async def revoke(self, grant: Grant) -> dict[str, Any]:
        receipt = grant.receipt
        if receipt.get("type") != KIND or not receipt.get("user_id"):
            return {"type": KIND, "nothing_to_undo": True}
        group = {"id": str(receipt["group"]), "profile": {"name": receipt.get("group_name")}}
        slot = OktaMembership(await self._client_for(), group, str(receipt["user_id"]), grant.email)
        released = await leave(slot, self._notes, grant.request_id, receipt)
        return {"type": KIND, "group": group["id"], **released}


class OktaMembership:
    """A person's membership of one Okta group."""

    def __init__(self, client: OktaClient, group: dict[str, Any], user_id: str, email: str) -> None:
        self.client, self.group, self.user_id = client, group, user_id
        self.key = f"{KIND}:{group['id']}:{user_id}"
        name = (group.get("profile") or {}).get("name") or group["id"]
        self.what = f"{email} in Okta group {name}"

    async def read(self) -> str | None:
        return (
            MEMBER if str(self.group["id"]) in await self.client.user_groups(self.user_id) else None
        )

    async def write(self, role: str | None) -> None:
        if role is None:
            await self.client.remove_member(self.group, self.user_id)
        else:
            await self.client.add_member(self.group, self.user_id)

    def covers(self, current: str | None, target: str) -> bool:
        return current is not None


__all__ = ["KIND", "OktaGroupGranter", "group_problem", "spec_problem"]
