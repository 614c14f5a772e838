"""The `opsgenie-role` granter: an Opsgenie user role for the duration of an access.

`grant: {type: opsgenie-role, role: NAME}` gives the person the role (`PATCH /v2/users/{id}`) and
at the end gives back the role they had before, unless someone changed it by hand meanwhile: then
nothing is touched and the receipt's `manual_change` tells the admins. With `rights: [...]` and
`ensure: true` the custom role itself is created or updated (`/v2/roles`) before its first use.

The role a person had before is noted in the bot's store *before* their role is changed, so a
grant retried after a lost answer finds the note and never takes the granted role for the one to
restore. Grants of one role to one person share the note; the last one to end restores.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from adapters.opsgenie.client import OpsgenieClient
from adapters.opsgenie.rights import role_problem
from adapters.providerhttp import (
    NO_RETRY,
    Forbidden,
    NotFound,
    ProviderHTTP,
)
from adapters.providerhttp.heldroles import Gone, KeyValues, hold, release
from core.errors import DomainError
from core.ports import Grant

KIND = "opsgenie-role"
BUILT_IN = ("owner", "admin", "user", "observer", "stakeholder")
ABOVE_ALL = ("owner", "admin")  # already hold every right a granted role could add
KEY_NEEDS = (
    "The Opsgenie API key may not change users or roles: give it Create and Update access "
    "(besides Read and Configuration Access) under Settings → API key management."
)


@dataclass(frozen=True, slots=True)
class RoleSpec:
    """The policy's `grant:` mapping for this granter."""

    role: str
    rights: tuple[str, ...] = ()
    ensure: bool = False
    extends: str = "user"

    @classmethod
    def of(cls, spec: Mapping[str, Any]) -> RoleSpec:
        role = str(spec.get("role") or "").strip()
        if not role:
            raise DomainError("An opsgenie-role grant needs `role: NAME` in the policy.")
        if role.lower() == "owner":
            raise DomainError("Opsgenie's owner role cannot be given for a while.")
        ensure = bool(spec.get("ensure"))
        if ensure and role.lower() in BUILT_IN:
            raise DomainError(f"Opsgenie's built-in role {role} cannot be created or changed.")
        return cls(
            role=role,
            rights=tuple(str(r) for r in spec.get("rights") or ()),
            ensure=ensure,
            extends=str(spec.get("extends") or "user").lower(),
        )


class OpsgenieRoleGranter:
    kind = KIND

    def __init__(self, client_for: Callable[[], OpsgenieClient], notes: KeyValues) -> None:
        """`client_for` returns the live connection's client (or raises DomainError) each call,
        so a reconnect with new credentials is used at once."""
        self._client_for = client_for
        self._notes = notes
        self._ready: weakref.WeakKeyDictionary[OpsgenieClient, set[RoleSpec]] = (
            weakref.WeakKeyDictionary()
        )

    async def grant(self, grant: Grant) -> dict[str, Any]:
        spec = RoleSpec.of(grant.spec)
        client = self._client_for()
        user = await _user(client, grant.email)
        slot = UserRole(client, str(user["id"]), grant.email)

        async def prepare() -> None:
            await self._make_ready(client, spec)

        held = await hold(slot, self._notes, grant.request_id, spec.role, prepare)
        return {"type": KIND, "user_id": slot.user_id, "role": spec.role, **held}

    async def extend(self, grant: Grant) -> dict[str, Any]:
        """The role is held until the revoke, which the scheduler sends at the new end."""
        return {"type": KIND, "unchanged": True}

    async def revoke(self, grant: Grant) -> dict[str, Any]:
        receipt = grant.receipt
        if receipt.get("type") != KIND or not receipt.get("user_id"):
            return {"type": KIND, "nothing_to_undo": True}
        slot = UserRole(self._client_for(), str(receipt["user_id"]), grant.email)
        released = await release(slot, self._notes, grant.request_id, receipt)
        return {"type": KIND, "role": receipt.get("role"), **released}

    async def _make_ready(self, client: OpsgenieClient, spec: RoleSpec) -> None:
        """Check a custom role against Opsgenie's rights rules (and create or update it when the
        policy says so) once per connection, before anyone is given it.

        Opsgenie cannot say what an API key may do, so the key's rights are checked by the first
        write itself (this upsert, or the role change): a 403 is explained as a missing Create
        and Update right before anyone's role has changed, and the note is dropped."""
        if spec in self._ready.get(client, set()) or spec.role.lower() in BUILT_IN:
            return
        if spec.ensure:
            problem = role_problem(spec.role, spec.extends, spec.rights)
            if problem:
                raise DomainError(problem)
            await _ensure_role(client, spec)
        else:
            found = await _custom_role(client, spec.role)
            problem = role_problem(
                spec.role,
                str(found.get("extendedRole") or "user"),
                [str(r) for r in found.get("grantedRights") or ()],
            )
            if problem:
                raise DomainError(problem)
        self._ready.setdefault(client, set()).add(spec)


class UserRole:
    """A person's Opsgenie role, read and written by user id."""

    def __init__(self, client: OpsgenieClient, user_id: str, email: str) -> None:
        self.client, self.user_id = client, user_id
        self.key = f"{KIND}:{user_id}"
        self.what = f"{email}'s Opsgenie role"

    async def read(self) -> str | None:
        return _role_name(await _user(self.client, self.user_id))

    async def write(self, role: str | None) -> None:
        name = str(role)
        name = name.lower() if name.lower() in BUILT_IN else name  # read as "User", written "user"
        path = f"/v2/users/{quote(self.user_id, safe='')}"
        await send_json(self.client.http, "PATCH", path, {"role": {"name": name}})

    @staticmethod
    def same(a: str | None, b: str | None) -> bool:
        return (a or "").casefold() == (b or "").casefold()

    def covers(self, current: str | None, target: str) -> bool:
        return self.same(current, target) or (current or "").lower() in ABOVE_ALL

    @staticmethod
    def show(role: str | None) -> str:
        return role or "no role"


async def _user(client: OpsgenieClient, ident: str) -> dict[str, Any]:
    try:
        found = await client.data(f"/v2/users/{quote(ident, safe='')}")
    except NotFound:
        raise Gone(f"Opsgenie has no user {ident}.") from None
    if not isinstance(found, dict) or not found.get("id"):
        raise DomainError(f"Opsgenie answered for user {ident} without an id.")
    return found


def _role_name(user: Mapping[str, Any]) -> str:
    role = user.get("role")
    return str(role.get("name") or "") if isinstance(role, dict) else str(role or "")


async def _custom_role(client: OpsgenieClient, name: str) -> dict[str, Any]:
    try:
        found = await client.data(f"/v2/roles/{quote(name, safe='')}", [("identifierType", "name")])
    except NotFound:
        raise DomainError(
            f"Opsgenie has no custom user role named '{name}': create it, or give the grant "
            "`rights: [...]` and `ensure: true` to have it created."
        ) from None
    return found if isinstance(found, dict) else {}


async def _ensure_role(client: OpsgenieClient, spec: RoleSpec) -> None:
    """Create the custom role, or update it when its base or rights differ from the policy."""
    body = {"name": spec.role, "extendedRole": spec.extends, "grantedRights": list(spec.rights)}
    try:
        found = await client.data(
            f"/v2/roles/{quote(spec.role, safe='')}", [("identifierType", "name")]
        )
    except NotFound:
        await send_json(client.http, "POST", "/v2/roles", body)
        return
    if str(found.get("extendedRole") or "").lower() != spec.extends or set(
        found.get("grantedRights") or ()
    ) != set(spec.rights):
        path = f"/v2/roles/{quote(str(found.get('id')), safe='')}"
        await send_json(client.http, "PUT", path, body)


async def send_json(http: ProviderHTTP, method: str, path: str, body: Any) -> Any:
    """One write with a JSON body, through the shared HTTP layer (errors mapped there). Not
    retried here: the service retries a failed grant or revoke with backoff, and the note taken
    before the change keeps those retries safe. A 403 means the key lacks a right."""
    try:
        return await http.request(method, path, json=body, retry=NO_RETRY)
    except Forbidden:
        raise DomainError(KEY_NEEDS) from None


__all__ = ["KIND", "OpsgenieRoleGranter", "RoleSpec"]
