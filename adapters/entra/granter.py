"""The `entra-group` granter: membership of a Microsoft Entra ID group for the duration of an access.

`grant: {type: entra-group, group: GROUP_OBJECT_ID}` adds the person (found by UPN or mail) to the
group and takes them out at the end, unless they were a member before (then they stay), or their
membership was changed by hand meanwhile (then it is left and reported). Dynamic groups and
groups synced from on-premises AD cannot have members added through Graph, and are refused before
anything changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.entra.client import GraphClient
from adapters.providerhttp.groups import GroupGranter
from core.grant_types import entra_group
from core.ports import Verification

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


class EntraGroupGranter(GroupGranter[GraphClient]):
    kind = KIND
    title = "Entra ID"

    def spec_problem(self, spec: Mapping[str, Any]) -> str | None:
        return spec_problem(spec)

    def group_ref(self, spec: Mapping[str, Any]) -> str:
        return str(spec["group"]).lower()

    def group_name(self, group: Mapping[str, Any]) -> str:
        return str(group.get("displayName") or group["id"])

    def group_problem(self, group: Mapping[str, Any]) -> str | None:
        return group_problem(group)

    def receipt_facts(self, group: Mapping[str, Any]) -> dict[str, Any]:
        return {"role_assignable": bool(group.get("isAssignableToRole"))}

    def group_of(self, receipt: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": str(receipt["group"]),
            "displayName": str(receipt.get("group_name") or receipt["group"]),
            "isAssignableToRole": bool(receipt.get("role_assignable")),
        }

    def group_lacks(self, group: Mapping[str, Any], verified: Verification) -> str | None:
        if (
            group.get("isAssignableToRole")
            and "role-assignable groups" not in verified.capabilities
        ):
            return (
                f"group {group.get('displayName')} is role-assignable, so the app also needs "
                "RoleManagement.ReadWrite.Directory"
            )
        return None


__all__ = ["KIND", "EntraGroupGranter", "group_problem", "spec_problem"]
