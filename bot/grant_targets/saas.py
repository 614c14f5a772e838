"""`entra-group`, `okta-group` and `github-team`: memberships in the identity and code systems
the team runs, reached through the grant targets an admin connected."""

from __future__ import annotations

from adapters.entra import EntraGroupGranter, GraphClient
from adapters.github import GitHubClient, GitHubTeamGranter
from adapters.github.granter import Logins
from adapters.okta import OktaClient, OktaGroupGranter
from bot.grant_connections import GrantTargets
from bot.grant_targets import GranterContext
from core.errors import DomainError
from core.identity import normalize_email
from core.ports import Granter, IdentityOverrides


def granters(context: GranterContext) -> dict[str, Granter]:
    async def live(name: str) -> object:
        if context.targets is None:
            raise DomainError("Grant targets are not connected in this process.")
        return await context.targets.client(name)

    async def graph() -> GraphClient:
        client = await live("entra")
        assert isinstance(client, GraphClient)
        return client

    async def okta() -> OktaClient:
        client = await live("okta")
        assert isinstance(client, OktaClient)
        return client

    async def github() -> GitHubClient:
        client = await live("github")
        assert isinstance(client, GitHubClient)
        return client

    return {
        "entra-group": EntraGroupGranter(graph, context.kv),
        "okta-group": OktaGroupGranter(okta, context.kv),
        "github-team": GitHubTeamGranter(github, context.kv, github_logins(context.identities)),
    }


def github_logins(identities: IdentityOverrides | None) -> Logins:
    """email -> the GitHub login an admin mapped to it (`identity map github:LOGIN EMAIL`)."""

    async def login(email: str) -> str | None:
        if identities is None:
            return None
        wanted = normalize_email(email)
        for key, mapped in (await identities.all()).items():
            if key.startswith("github:") and normalize_email(mapped) == wanted:
                return key.removeprefix("github:")
        return None

    return login


__all__ = ["GrantTargets", "granters"]
