"""The `okta-group` granter: membership of an Okta group for the duration of an access.

`grant: {type: okta-group, group: GROUP_ID_OR_NAME}` assigns the person (found by login, else by
primary email) to the group and unassigns them at the end, unless they were a member before
(then they stay) or their membership was changed by hand meanwhile (then it is left and
reported). Only `OKTA_GROUP` groups can have members assigned; an app-imported group (Active
Directory, LDAP) or a built-in one is refused before anything changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.okta.client import OktaClient
from adapters.providerhttp.groups import GroupGranter
from core.grant_types import okta_group

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


class OktaGroupGranter(GroupGranter[OktaClient]):
    kind = KIND
    title = "Okta"

    def spec_problem(self, spec: Mapping[str, Any]) -> str | None:
        return spec_problem(spec)

    def group_ref(self, spec: Mapping[str, Any]) -> str:
        return str(spec["group"]).strip()

    def group_name(self, group: Mapping[str, Any]) -> str:
        return str((group.get("profile") or {}).get("name") or group["id"])

    def group_problem(self, group: Mapping[str, Any]) -> str | None:
        return group_problem(group)

    def group_of(self, receipt: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": str(receipt["group"]), "profile": {"name": receipt.get("group_name")}}

    def group_shown(self, group: Mapping[str, Any]) -> str:
        return f"{self.group_name(group)} ({group['id']})"


__all__ = ["KIND", "OktaGroupGranter", "group_problem", "spec_problem"]
