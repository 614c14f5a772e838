"""The `entra-group` granter: membership of a Microsoft Entra ID group for the duration of an access.

`grant: {type: entra-group, group: GROUP_OBJECT_ID}` adds the person (found by UPN or mail) to the
group and takes them out at the end, unless they were a member before (then they stay), or their
membership was changed by hand meanwhile (then it is left and reported). Dynamic groups and
groups synced from on-premises AD cannot have members added through Graph, and are refused before
anything changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from adapters.entra.client import GraphClient
from adapters.providerhttp import ProviderError
from adapters.providerhttp.membership import MEMBER, KeyValues, join, leave
from adapters.providerhttp.recent import Recent
from core.errors import DomainError
from core.grant_types import entra_group
from core.ports import Grant, TargetHealth

KIND = "entra-group"


def spec_problem(spec: Mapping[str, Any]) -> str | None:
    """What is wrong with the policy's `grant:` for this type (the same check `policy check`
    runs), or None."""
    found = entra_group.problems({k: v for k, v in spec.items() if k != "type"})
    return found[0] if found else None


def group_problem(group: Mapping[str, Any]) -> str | None:
    """Why Graph could not change this group's members, or None."""
    name = group.get("displayName") or group.get("id")
    if "DynamicMembership" in (group.get("groupTypes") or ()) or group.get("membershipRule"):
        return (
            f"Entra ID group {name} has dynamic membership: its members follow a rule, not grants."
        )
    if group.get("onPremisesSyncEnabled"):
        return (
            f"Entra ID group {name} is synced from on-premises Active Directory: change it there."
        )
    return None


class EntraGroupGranter:
    kind = KIND

    def __init__(self, client_for: Callable[[], Awaitable[GraphClient]], notes: KeyValues) -> None:
        """`client_for` returns the live connection's client (or raises DomainError) on each call,
        so a reconnect with new credentials, on any replica, is used at once."""
        self._client_for = client_for
        self._notes = notes
        self._groups: Recent[dict[str, Any]] = Recent()  # read once a minute, however many grants

    async def grant(self, grant: Grant) -> dict[str, Any]:
        problem = spec_problem(grant.spec)
        if problem:
            raise DomainError(problem[0].upper() + problem[1:] + ".")
        client = await self._client_for()
        group_id = str(grant.spec["group"]).lower()
        group = await self._groups.get((client, group_id), lambda: client.group(group_id))
        problem = group_problem(group)
        if problem:
            raise DomainError(problem)
        user = await client.user(grant.email)
        slot = GroupMembership(client, group, str(user["id"]), grant.email)
        held = await join(slot, self._notes, grant.request_id, MEMBER)
        return {
            "type": KIND,
            "group": group["id"],
            "group_name": group.get("displayName") or group["id"],
            "role_assignable": bool(group.get("isAssignableToRole")),
            "user_id": slot.user_id,
            **held,
        }

    async def check(self, spec: dict[str, Any]) -> TargetHealth:
        """For `status`: the app signs in, holds the permissions, and the group can take grants."""
        problem = spec_problem(spec)
        if problem:
            return TargetHealth(False, problem)
        try:
            client = await self._client_for()
            verified = await client.verify()
            if not verified.ok:
                return TargetHealth(False, verified.summary)
            group = await client.group(str(spec["group"]).lower())
        except (DomainError, ProviderError) as exc:
            return TargetHealth(False, str(exc))
        problem = group_problem(group)
        if problem:
            return TargetHealth(False, problem)
        if (
            group.get("isAssignableToRole")
            and "role-assignable groups" not in verified.capabilities
        ):
            return TargetHealth(
                False,
                f"group {group.get('displayName')} is role-assignable, so the app also needs "
                "RoleManagement.ReadWrite.Directory",
            )
        return TargetHealth(
            True, f"group {group.get('displayName') or group['id']}; {verified.summary}"
        )

    async def extend(self, grant: Grant) -> dict[str, Any]:
        """Membership lasts until the revoke, which the scheduler sends at the new end."""
        return {"type": KIND, "unchanged": True}

    async def revoke(self, grant: Grant) -> dict[str, Any]:
        receipt = grant.receipt
        if receipt.get("type") != KIND or not receipt.get("user_id"):
            return {"type": KIND, "nothing_to_undo": True}
        group = {
            "id": str(receipt["group"]),
            "displayName": str(receipt.get("group_name") or receipt["group"]),
            "isAssignableToRole": bool(receipt.get("role_assignable")),
        }
        slot = GroupMembership(
            await self._client_for(), group, str(receipt["user_id"]), grant.email
        )
        released = await leave(slot, self._notes, grant.request_id, receipt)
        return {"type": KIND, "group": group["id"], **released}


class GroupMembership:
    """A person's direct membership of one group."""

    def __init__(
        self, client: GraphClient, group: dict[str, Any], user_id: str, email: str
    ) -> None:
        self.client, self.group, self.user_id = client, group, user_id
        self.key = f"{KIND}:{group['id']}:{user_id}"
        self.what = f"{email} in Entra ID group {group.get('displayName') or group['id']}"

    async def read(self) -> str | None:
        return (
            MEMBER
            if str(self.group["id"]) in await self.client.member_groups(self.user_id)
            else None
        )

    async def write(self, role: str | None) -> None:
        if role is None:
            await self.client.remove_member(self.group, self.user_id)
        else:
            await self.client.add_member(self.group, self.user_id)

    def covers(self, current: str | None, target: str) -> bool:
        return current is not None


__all__ = ["KIND", "EntraGroupGranter", "group_problem", "spec_problem"]
