"""The `pagerduty-role` granter: a PagerDuty base role, or a role on a team, for a while.

`grant: {type: pagerduty-role, role: user}` sets the person's base role (`PUT /users/{id}`);
`grant: {type: pagerduty-role, team: Platform, team_role: manager}` sets their role on a team
(`PUT /teams/{id}/users/{user_id}`, adding them when they were not on it). At the end the role
they had before comes back (or they leave the team they were added to), unless someone changed
it by hand meanwhile: then nothing is touched and the receipt's `manual_change` tells the admins.

What they had before is noted in the bot's store *before* the change, so a grant retried after a
lost answer never takes the granted role for the one to restore; grants of one role to one person
share the note and the last one to end restores. A grant never lowers anyone: a person whose role
already ranks above the one granted keeps it, and nothing is restored later. Messages use the
role names people see in the web app (`roles.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from adapters.pagerduty.client import PagerDutyClient
from adapters.pagerduty.roles import role_display
from adapters.providerhttp import (
    NO_RETRY,
    Forbidden,
    NotFound,
    ProviderHTTP,
)
from adapters.providerhttp.heldroles import Gone, KeyValues, hold, release
from core.errors import DomainError
from core.identity import normalize_email
from core.ports import Grant

KIND = "pagerduty-role"
# Base roles from least to most access; equal ranks are different, not ordered.
BASE_RANK = {
    "read_only_limited_user": 0,
    "read_only_user": 1,
    "restricted_access": 1,
    "observer": 2,
    "limited_user": 3,
    "user": 4,
    "admin": 5,
    "owner": 6,
}
TEAM_RANK = {"observer": 0, "responder": 1, "manager": 2}
KEY_NEEDS = (
    "The PagerDuty credentials may not change users or teams: use an API key with full access "
    "(not read-only), or give the OAuth app users.write and teams.write."
)


@dataclass(frozen=True, slots=True)
class RoleSpec:
    """The policy's `grant:` mapping: a base `role`, or a `team` and its `team_role`."""

    role: str = ""
    team: str = ""
    team_role: str = ""

    @classmethod
    def of(cls, spec: Mapping[str, Any]) -> RoleSpec:
        role = str(spec.get("role") or "").strip()
        team = str(spec.get("team") or "").strip()
        team_role = str(spec.get("team_role") or "").strip()
        if bool(role) == bool(team):
            raise DomainError(
                "A pagerduty-role grant needs either `role: ROLE` or `team: NAME` with `team_role`."
            )
        if role and (role not in BASE_RANK or role == "owner"):
            raise DomainError(
                f"PagerDuty has no base role {role!r} to give; use one of "
                f"{', '.join(r for r in BASE_RANK if r != 'owner')}."
            )
        if team and team_role not in TEAM_RANK:
            raise DomainError(
                f"A PagerDuty team role is observer, responder or manager, not {team_role!r}."
            )
        return cls(role, team, team_role)

    @property
    def target(self) -> str:
        return self.role or self.team_role


class PagerDutyRoleGranter:
    kind = KIND

    def __init__(self, client_for: Callable[[], PagerDutyClient], notes: KeyValues) -> None:
        """`client_for` returns the live connection's client (or raises DomainError) each call,
        so a reconnect with new credentials is used at once."""
        self._client_for = client_for
        self._notes = notes

    async def grant(self, grant: Grant) -> dict[str, Any]:
        spec = RoleSpec.of(grant.spec)
        client = self._client_for()
        user_id = await _user_id(client, grant.email)
        receipt: dict[str, Any] = {"type": KIND, "user_id": user_id, "role": spec.target}
        slot: BaseRole | TeamRole
        if spec.team:
            team_id = await _team_id(client, spec.team)
            receipt.update(team_id=team_id, team=spec.team)
            slot = TeamRole(client, team_id, spec.team, user_id, grant.email)
        else:
            slot = BaseRole(client, user_id, grant.email)
        return {**receipt, **await hold(slot, self._notes, grant.request_id, spec.target, _ready)}

    async def extend(self, grant: Grant) -> dict[str, Any]:
        """The role is held until the revoke, which the scheduler sends at the new end."""
        return {"type": KIND, "unchanged": True}

    async def revoke(self, grant: Grant) -> dict[str, Any]:
        receipt = grant.receipt
        if receipt.get("type") != KIND or not receipt.get("user_id"):
            return {"type": KIND, "nothing_to_undo": True}
        client, user_id = self._client_for(), str(receipt["user_id"])
        slot: BaseRole | TeamRole = (
            TeamRole(
                client, str(receipt["team_id"]), str(receipt.get("team")), user_id, grant.email
            )
            if receipt.get("team_id")
            else BaseRole(client, user_id, grant.email)
        )
        released = await release(slot, self._notes, grant.request_id, receipt)
        return {"type": KIND, "role": receipt.get("role"), **released}


async def _ready() -> None:
    """PagerDuty roles need no setting up; missing write rights surface as a 403 on the change."""


class BaseRole:
    """A person's base role on the account."""

    def __init__(self, client: PagerDutyClient, user_id: str, email: str) -> None:
        self.client, self.path = client, f"/users/{quote(user_id, safe='')}"
        self.key = f"{KIND}:user:{user_id}"
        self.what = f"{email}'s PagerDuty role"
        self._seen: dict[str, Any] = {"email": email}

    async def read(self) -> str | None:
        try:
            body = await self.client.get(self.path)
        except NotFound:
            raise Gone(f"The PagerDuty user behind {self.what} is gone.") from None
        user = body.get("user")
        if not isinstance(user, dict):
            return None
        self._seen = user
        return str(user.get("role") or "")

    async def write(self, role: str | None) -> None:
        # The spec's User requires name and email in an update too: send them back as read.
        user = {"type": "user", "name": self._seen.get("name"), "email": self._seen.get("email")}
        body = {"user": {**{k: v for k, v in user.items() if v}, "role": role}}
        await send_json(self.client.http, "PUT", self.path, body)

    @staticmethod
    def same(a: str | None, b: str | None) -> bool:
        return (a or "") == (b or "")

    def covers(self, current: str | None, target: str) -> bool:
        return current == target or BASE_RANK.get(current or "", -1) > BASE_RANK[target]

    @staticmethod
    def show(role: str | None) -> str:
        return role_display(role)


class TeamRole:
    """A person's role on one team; None means not on the team."""

    def __init__(
        self, client: PagerDutyClient, team_id: str, team: str, user_id: str, email: str
    ) -> None:
        self.client, self.team_id, self.user_id = client, team_id, user_id
        self.key = f"{KIND}:team:{team_id}:{user_id}"
        self.what = f"{email}'s role on PagerDuty team {team}"

    async def read(self) -> str | None:
        try:
            members = await self.client.list_all(
                f"/teams/{quote(self.team_id, safe='')}/members", "members"
            )
        except NotFound:
            raise Gone(f"The PagerDuty team behind {self.what} is gone.") from None
        for member in members:
            user = member.get("user") if isinstance(member, dict) else None
            if isinstance(user, dict) and user.get("id") == self.user_id:
                return str(member.get("role") or "")
        return None

    async def write(self, role: str | None) -> None:
        path = f"/teams/{quote(self.team_id, safe='')}/users/{quote(self.user_id, safe='')}"
        if role is None:
            await send_json(self.client.http, "DELETE", path, None)
        else:
            await send_json(self.client.http, "PUT", path, {"role": role})

    @staticmethod
    def same(a: str | None, b: str | None) -> bool:
        return a == b

    def covers(self, current: str | None, target: str) -> bool:
        return current == target or TEAM_RANK.get(current or "", -1) > TEAM_RANK[target]

    @staticmethod
    def show(role: str | None) -> str:
        return role.replace("_", " ").title() if role else "none (not on the team)"


async def _user_id(client: PagerDutyClient, email: str) -> str:
    wanted = normalize_email(email)
    body = await client.get("/users", [("query", wanted), ("limit", 25)])
    for user in body.get("users") or ():
        if isinstance(user, dict) and normalize_email(str(user.get("email") or "")) == wanted:
            return str(user["id"])
    raise Gone(f"PagerDuty has no user with the email {email}.")


async def _team_id(client: PagerDutyClient, name: str) -> str:
    for team in await client.list_all("/teams", "teams", [("query", name)]):
        if isinstance(team, dict) and str(team.get("name", "")).casefold() == name.casefold():
            return str(team["id"])
    raise DomainError(f"PagerDuty has no team named '{name}'.")


async def send_json(http: ProviderHTTP, method: str, path: str, body: Any) -> Any:
    """One write with a JSON body, through the shared HTTP layer (errors mapped there). Not
    retried here: the service retries a failed grant or revoke with backoff, and the note taken
    before the change keeps those retries safe. A 403 means the key lacks a right."""
    try:
        return await http.request(
            method, path, json=body, retry=NO_RETRY, headers={"Content-Type": "application/json"}
        )  # the spec asks for it on every call, DELETE too
    except Forbidden:
        raise DomainError(KEY_NEEDS) from None


__all__ = ["KIND", "PagerDutyRoleGranter", "RoleSpec"]
