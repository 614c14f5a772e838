"""The `github-team` granter: membership of a GitHub team for the duration of an access.

`grant: {type: github-team, org: ORG, team: TEAM_SLUG, role: member|maintainer}` puts the person
in the team with that role and takes it back at the end: out of the team, or back to `member`
when they were a member before and were made maintainer. Someone already in the team with that
role or more (a maintainer asked to be a member, an organization owner, who GitHub reports as
maintainer) stays as they were. A role changed or a membership removed by hand meanwhile is left
and reported. Only members of the organization are added: the bot never invites anyone in.

The person's GitHub login comes from the identity mapping `github:LOGIN` an admin made
(`identity map github:octocat alice@example.com`), else from the one account whose public,
verified email is theirs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from adapters.github.client import GitHubClient
from adapters.providerhttp import ProviderError
from adapters.providerhttp.membership import KeyValues, join, leave
from adapters.providerhttp.recent import Recent
from core.errors import DomainError
from core.grant_types import github_team
from core.ports import Grant, TargetHealth

KIND = "github-team"
ROLES = ("member", "maintainer")

Logins = Callable[[str], Awaitable[str | None]]


def spec_problem(spec: Mapping[str, Any]) -> str | None:
    """What is wrong with the policy's `grant:` for this type (the same check `policy check`
    runs), or None."""
    found = github_team.problems({k: v for k, v in spec.items() if k != "type"})
    return found[0] if found else None


class GitHubTeamGranter:
    kind = KIND

    def __init__(
        self, client_for: Callable[[], Awaitable[GitHubClient]], notes: KeyValues, logins: Logins
    ) -> None:
        """`client_for` returns the live connection's client (or raises DomainError) each call;
        `logins` maps an email to the GitHub login an admin mapped to it, if any."""
        self._client_for = client_for
        self._notes = notes
        self._logins = logins
        self._teams: Recent[dict[str, Any]] = Recent()  # read once a minute, however many grants

    async def grant(self, grant: Grant) -> dict[str, Any]:
        problem = spec_problem(grant.spec)
        if problem:
            raise DomainError(problem[0].upper() + problem[1:] + ".")
        org, slug = str(grant.spec["org"]), str(grant.spec["team"])
        role = str(grant.spec.get("role", "member"))
        client = await self._client_for()
        team = await self._teams.get(
            (client, org.lower(), slug.lower()), lambda: client.team(org, slug)
        )
        login = await self._login(client, org, grant.email)
        if not await client.is_org_member(org, login):
            raise DomainError(
                f"GitHub user {login} is not a member of the {org} organization; the bot adds "
                "members to teams but never invites anyone in."
            )
        slot = TeamMembership(client, org, slug, login, grant.email)
        held = await join(slot, self._notes, grant.request_id, role)
        return {
            "type": KIND,
            "org": org,
            "team": slug,
            "team_name": team.get("name") or slug,
            "login": login,
            "role": role,
            **held,
        }

    async def check(self, spec: dict[str, Any]) -> TargetHealth:
        """For `status`: the credentials reach the organization and read the team."""
        problem = spec_problem(spec)
        if problem:
            return TargetHealth(False, problem)
        org, slug = str(spec["org"]), str(spec["team"])
        try:
            client = await self._client_for()
            verified = await client.verify(org)
            if not verified.ok:
                return TargetHealth(False, verified.summary)
            team = await client.team(org, slug)
        except (DomainError, ProviderError) as exc:
            return TargetHealth(False, str(exc))
        return TargetHealth(True, f"team {team.get('name') or slug} in {org}; {verified.summary}")

    async def extend(self, grant: Grant) -> dict[str, Any]:
        """Membership lasts until the revoke, which the scheduler sends at the new end."""
        return {"type": KIND, "unchanged": True}

    async def revoke(self, grant: Grant) -> dict[str, Any]:
        receipt = grant.receipt
        if receipt.get("type") != KIND or not receipt.get("login"):
            return {"type": KIND, "nothing_to_undo": True}
        org, slug, login = str(receipt["org"]), str(receipt["team"]), str(receipt["login"])
        slot = TeamMembership(await self._client_for(), org, slug, login, grant.email)
        released = await leave(slot, self._notes, grant.request_id, receipt)
        return {"type": KIND, "org": org, "team": slug, **released}

    async def _login(self, client: GitHubClient, org: str, email: str) -> str:
        login = await self._logins(email) or await client.login_by_email(org, email)
        if not login:
            raise DomainError(
                f"No GitHub login is known for {email}: an admin can map it with "
                f"`identity map github:LOGIN {email}`."
            )
        return login


class TeamMembership:
    """A person's role in one GitHub team: member, maintainer, or not in it."""

    def __init__(self, client: GitHubClient, org: str, slug: str, login: str, email: str) -> None:
        self.client, self.org, self.slug, self.login = client, org, slug, login
        self.key = f"{KIND}:{org.lower()}/{slug.lower()}:{login.lower()}"
        self.what = f"{email} (GitHub {login}) in team {org}/{slug}"

    async def read(self) -> str | None:
        found = await self.client.membership(self.org, self.slug, self.login)
        if not found or found.get("state") == "pending":
            return None
        return str(found.get("role") or "member")

    async def write(self, role: str | None) -> None:
        if role is None:
            await self.client.remove_membership(self.org, self.slug, self.login)
        else:
            await self.client.set_membership(self.org, self.slug, self.login, role)

    def covers(self, current: str | None, target: str) -> bool:
        if current is None:
            return False
        return current == target or current == "maintainer"


__all__ = ["KIND", "GitHubTeamGranter", "spec_problem"]
