"""What the Entra ID and Okta group granters share: find the group (read once a minute however
many grants start together) and the person, add them through `membership.join`, and take them
out through `membership.leave`, with the same receipts. Each target says how its groups are
named, which ones cannot take members, and what a receipt must keep to find the group again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from adapters.providerhttp.errors import ProviderError
from adapters.providerhttp.membership import MEMBER, KeyValues, join, leave
from adapters.providerhttp.recent import Recent
from core.errors import DomainError
from core.ports import Grant, TargetHealth, Verification


class GroupClient(Protocol):
    """A directory's calls for one group membership (Microsoft Graph, Okta)."""

    async def group(self, ref: str) -> dict[str, Any]: ...

    async def user(self, email: str) -> dict[str, Any]: ...

    async def groups_of(self, user_id: str) -> set[str]:
        """The ids of the groups the user is a direct member of (raises `Gone` if no user)."""
        ...

    async def add_member(self, group: dict[str, Any], user_id: str) -> None: ...

    async def remove_member(self, group: dict[str, Any], user_id: str) -> None: ...

    async def verify(self) -> Verification: ...


C = TypeVar("C", bound=GroupClient)


class GroupMembership:
    """A person's direct membership of one group, for `join` and `leave`."""

    def __init__(
        self, kind: str, client: GroupClient, group: dict[str, Any], user_id: str, what: str
    ) -> None:
        self.client, self.group, self.user_id = client, group, user_id
        self.key = f"{kind}:{group['id']}:{user_id}"
        self.what = what

    async def read(self) -> str | None:
        return (
            MEMBER if str(self.group["id"]) in await self.client.groups_of(self.user_id) else None
        )

    async def write(self, role: str | None) -> None:
        if role is None:
            await self.client.remove_member(self.group, self.user_id)
        else:
            await self.client.add_member(self.group, self.user_id)

    def covers(self, current: str | None, target: str) -> bool:
        return current is not None


class GroupGranter(ABC, Generic[C]):
    """Grant and revoke of a group membership; subclasses name the target's specifics."""

    kind: str
    title: str  # "Entra ID", "Okta": how messages name the directory

    def __init__(self, client_for: Callable[[], Awaitable[C]], notes: KeyValues) -> None:
        """`client_for` returns the live connection's client (or raises DomainError) on each call,
        so a reconnect with new credentials, on any replica, is used at once."""
        self._client_for = client_for
        self._notes = notes
        self._groups: Recent[dict[str, Any]] = Recent()  # read once a minute, however many grants

    # -- what each target says ------------------------------------------------------------------
    @abstractmethod
    def spec_problem(self, spec: Mapping[str, Any]) -> str | None:
        """What is wrong with the policy's grant options, or None."""

    @abstractmethod
    def group_ref(self, spec: Mapping[str, Any]) -> str:
        """The policy's `group`, as the client looks it up."""

    @abstractmethod
    def group_name(self, group: Mapping[str, Any]) -> str:
        """The group's name, as messages show it."""

    @abstractmethod
    def group_problem(self, group: Mapping[str, Any]) -> str | None:
        """Why the directory could not change this group's members, or None."""

    def group_shown(self, group: Mapping[str, Any]) -> str:
        """The group as `status` shows it."""
        return self.group_name(group)

    def group_lacks(self, group: Mapping[str, Any], verified: Verification) -> str | None:
        """For `status`: what the credentials lack for this group in particular, or None."""
        return None

    def receipt_facts(self, group: Mapping[str, Any]) -> dict[str, Any]:
        """What a receipt keeps of the group beyond its id and name."""
        return {}

    @abstractmethod
    def group_of(self, receipt: Mapping[str, Any]) -> dict[str, Any]:
        """The group as the revoke's calls and messages need it, from the grant's receipt."""

    # -- the granter ----------------------------------------------------------------------------
    async def grant(self, grant: Grant) -> dict[str, Any]:
        problem = self.spec_problem(grant.spec)
        if problem:
            raise DomainError(problem[0].upper() + problem[1:] + ".")
        client = await self._client_for()
        ref = self.group_ref(grant.spec)
        group = await self._groups.get((client, ref), lambda: client.group(ref))
        problem = self.group_problem(group)
        if problem:
            raise DomainError(problem)
        user = await client.user(grant.email)
        slot = self._slot(client, group, str(user["id"]), grant.email)
        held = await join(slot, self._notes, grant.request_id, MEMBER)
        return {
            "type": self.kind,
            "group": group["id"],
            "group_name": self.group_name(group),
            **self.receipt_facts(group),
            "user_id": slot.user_id,
            **held,
        }

    async def check(self, spec: dict[str, Any]) -> TargetHealth:
        """For `status`: the credentials sign in and hold the permissions, and the group can
        take grants."""
        problem = self.spec_problem(spec)
        if problem:
            return TargetHealth(False, problem)
        try:
            client = await self._client_for()
            verified = await client.verify()
            if not verified.ok:
                return TargetHealth(False, verified.summary)
            group = await client.group(self.group_ref(spec))
        except (DomainError, ProviderError) as exc:
            return TargetHealth(False, str(exc))
        problem = self.group_problem(group) or self.group_lacks(group, verified)
        if problem:
            return TargetHealth(False, problem)
        return TargetHealth(True, f"group {self.group_shown(group)}; {verified.summary}")

    async def extend(self, grant: Grant) -> dict[str, Any]:
        """Membership lasts until the revoke, which the scheduler sends at the new end."""
        return {"type": self.kind, "unchanged": True}

    async def revoke(self, grant: Grant) -> dict[str, Any]:
        receipt = grant.receipt
        if receipt.get("type") != self.kind or not receipt.get("user_id"):
            return {"type": self.kind, "nothing_to_undo": True}
        group = self.group_of(receipt)
        slot = self._slot(await self._client_for(), group, str(receipt["user_id"]), grant.email)
        released = await leave(slot, self._notes, grant.request_id, receipt)
        return {"type": self.kind, "group": group["id"], **released}

    def _slot(
        self, client: GroupClient, group: dict[str, Any], user_id: str, email: str
    ) -> GroupMembership:
        what = f"{email} in {self.title} group {self.group_name(group)}"
        return GroupMembership(self.kind, client, group, user_id, what)


__all__ = ["GroupClient", "GroupGranter", "GroupMembership"]
