"""The github-team granter against the fake GitHub over real HTTP: a team membership (or the
maintainer role) for a while, taken back exactly, never over a change made by hand, patient with
rate limits, never inviting outsiders, and explicit about the permission it lacks."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from adapters.github import GitHubClient, GitHubTeamGranter
from adapters.github.granter import spec_problem
from adapters.providerhttp.virtualtime import VirtualTime
from adapters.storage.kv import SqlKeyValues
from core.errors import DomainError
from core.ports import Grant
from tests.adapters.github.conftest import ORG, access
from tests.fakes.certificates import private_key_pem
from tests.fakes.github import Account, FakeGitHub, Team
from tests.fakes.live import returning


def back(grant: Grant, receipt: dict[str, Any]) -> Grant:
    return dataclasses.replace(grant, receipt=receipt)


def public_pem(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


async def test_the_person_joins_the_team_and_leaves_it_at_the_end(
    gh: FakeGitHub, granter: GitHubTeamGranter, bob: Account, sre: Team, notes: SqlKeyValues
) -> None:
    grant = access()
    receipt = await granter.grant(grant)
    assert sre.members == {"bob-gh": "member"}
    assert receipt["login"] == "bob-gh" and receipt["previous"] is None
    undone = await granter.revoke(back(grant, receipt))
    assert undone["restored"] is None
    assert sre.members == {}
    assert gh.changes == [
        ("set", "acme/sre-oncall", "bob-gh", "member"),
        ("removed", "acme/sre-oncall", "bob-gh", ""),
    ]
    assert await notes.get("github-team:acme/sre-oncall:bob-gh") is None


async def test_many_grants_to_one_team_at_once_read_the_team_once(
    gh: FakeGitHub, granter: GitHubTeamGranter, mapped: dict[str, str], sre: Team
) -> None:
    for i in range(6):
        gh.add_account(f"p{i}", org=ORG)
        mapped[f"p{i}@example.com"] = f"p{i}"
    await asyncio.gather(
        *(granter.grant(access(request_id=f"r{i}", email=f"p{i}@example.com")) for i in range(6))
    )
    assert sre.members == {f"p{i}": "member" for i in range(6)}
    assert len(gh.requests_to("/orgs/acme/teams/sre-oncall")) == 1
    assert len(gh.requests_to("/orgs/acme/members/*")) == 6  # membership of the org: read each time


async def test_changes_are_paced_at_githubs_80_content_creating_requests_a_minute(
    gh: FakeGitHub, granter: GitHubTeamGranter, mapped: dict[str, str], sre: Team, vt: VirtualTime
) -> None:
    gh.rate_limit = (80, 60.0)  # GitHub's secondary limit, counting the changes only
    for i in range(100):
        gh.add_account(f"p{i}", org=ORG)
        mapped[f"p{i}@example.com"] = f"p{i}"
    await asyncio.gather(
        *(granter.grant(access(request_id=f"r{i}", email=f"p{i}@example.com")) for i in range(100))
    )
    assert len(sre.members) == 100
    assert gh.throttled == 0 and gh.max_in_window == 80  # the 81st to 100th waited their turn
    assert len(gh.requests_to("/orgs/acme/teams/sre-oncall/memberships/*")) == 200  # read, put


async def test_a_member_made_maintainer_for_a_while_goes_back_to_member(
    gh: FakeGitHub, granter: GitHubTeamGranter, bob: Account, sre: Team
) -> None:
    sre.members["bob-gh"] = "member"
    grant = access(role="maintainer")
    receipt = await granter.grant(grant)
    assert sre.members["bob-gh"] == "maintainer" and receipt["previous"] == "member"
    await granter.revoke(back(grant, receipt))
    assert sre.members == {"bob-gh": "member"}


async def test_a_maintainer_asked_to_be_a_member_stays_maintainer(
    gh: FakeGitHub, granter: GitHubTeamGranter, bob: Account, sre: Team
) -> None:
    sre.members["bob-gh"] = "maintainer"
    grant = access()
    receipt = await granter.grant(grant)
    undone = await granter.revoke(back(grant, receipt))
    assert receipt["unchanged"] and undone["unchanged"]
    assert sre.members == {"bob-gh": "maintainer"} and gh.changes == []


async def test_a_role_changed_by_hand_meanwhile_is_reported_and_left(
    gh: FakeGitHub, granter: GitHubTeamGranter, bob: Account, sre: Team
) -> None:
    grant = access()
    receipt = await granter.grant(grant)
    sre.members["bob-gh"] = "maintainer"  # promoted by hand while the access lasted
    undone = await granter.revoke(back(grant, receipt))
    assert undone["manual_change"] == (
        "bob@example.com (GitHub bob-gh) in team acme/sre-oncall is now a maintainer, not a "
        "member as granted, so it was left as it is instead of going back to not a member."
    )
    assert sre.members == {"bob-gh": "maintainer"}


async def test_a_login_is_found_by_public_email_when_nobody_mapped_it(
    gh: FakeGitHub, granter: GitHubTeamGranter, sre: Team
) -> None:
    carol = gh.add_account("carol-c", email="carol@example.com", org=ORG)
    await granter.grant(access(email="carol@example.com"))
    assert sre.members == {carol.login: "member"}


async def test_an_unknown_login_says_how_to_map_it(granter: GitHubTeamGranter, sre: Team) -> None:
    with pytest.raises(DomainError) as refused:
        await granter.grant(access(email="dave@example.com"))
    assert str(refused.value) == (
        "No GitHub login is known for dave@example.com: an admin can map it with "
        "`identity map github:LOGIN dave@example.com`."
    )


async def test_someone_outside_the_organization_is_not_invited(
    gh: FakeGitHub, granter: GitHubTeamGranter, sre: Team, mapped: dict[str, str]
) -> None:
    gh.add_account("outsider")
    mapped["eve@example.com"] = "outsider"
    with pytest.raises(DomainError, match="never invites anyone"):
        await granter.grant(access(email="eve@example.com"))
    assert gh.changes == [] and sre.invited == {}


async def test_the_primary_rate_limit_is_waited_out_until_its_reset(
    gh: FakeGitHub, granter: GitHubTeamGranter, bob: Account, sre: Team, vt: VirtualTime
) -> None:
    gh.fail(
        "/orgs/*/teams/*/memberships/*",
        403,
        headers={
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(time.time()) + 30),
        },
        body={"message": "API rate limit exceeded for installation.", "documentation_url": ""},
    )
    await granter.grant(access())
    assert sre.members == {"bob-gh": "member"}
    assert vt.slept >= 25


async def test_a_secondary_rate_limit_honours_retry_after(
    gh: FakeGitHub, granter: GitHubTeamGranter, bob: Account, sre: Team, vt: VirtualTime
) -> None:
    gh.fail("/orgs/*/teams/*/memberships/*", 429, headers={"retry-after": "12"})
    await granter.grant(access())
    assert sre.members == {"bob-gh": "member"} and vt.slept >= 12


async def test_a_token_that_may_only_read_is_told_the_permission(
    gh: FakeGitHub,
    client_for: Callable[..., GitHubClient],
    notes: SqlKeyValues,
    bob: Account,
    sre: Team,
) -> None:
    client = client_for(token=gh.add_token("read"))

    async def logins(email: str) -> str | None:
        return "bob-gh"

    with pytest.raises(DomainError) as refused:
        await GitHubTeamGranter(returning(client), notes, logins).grant(access())
    assert str(refused.value) == (
        "GitHub refused to change the members of acme/sre-oncall (403): the credentials lack "
        "the permission members=write (GitHub's X-Accepted-GitHub-Permissions)."
    )
    assert await notes.get("github-team:acme/sre-oncall:bob-gh") is None


async def test_a_team_synchronized_with_an_identity_provider_is_explained(
    gh: FakeGitHub, granter: GitHubTeamGranter, bob: Account
) -> None:
    gh.add_team(ORG, "idp-team", synced=True)
    with pytest.raises(DomainError, match="synchronized with an identity provider"):
        await granter.grant(access("idp-team"))


async def test_a_github_app_buys_an_installation_token_and_grants(
    gh: FakeGitHub,
    client_for: Callable[..., GitHubClient],
    notes: SqlKeyValues,
    bob: Account,
    sre: Team,
) -> None:
    key, pem = private_key_pem()
    app = gh.add_app(public_pem(key), [ORG])
    client = client_for(app_id=app.app_id, private_key=pem)
    assert (await client.verify(ORG)).ok

    async def logins(email: str) -> str | None:
        return "bob-gh"

    granter = GitHubTeamGranter(returning(client), notes, logins)
    grant = access()
    receipt = await granter.grant(grant)
    await granter.revoke(back(grant, receipt))
    assert gh.installation_tokens == 1  # one token, kept for the hour
    assert len(gh.changes) == 2


async def test_an_app_without_members_write_is_told_the_permission_at_connect(
    gh: FakeGitHub, client_for: Callable[..., GitHubClient]
) -> None:
    key, pem = private_key_pem()
    app = gh.add_app(public_pem(key), [ORG], members="read")
    gh.add_account("bob-gh", org=ORG)
    verified = await client_for(app_id=app.app_id, private_key=pem).verify(ORG)
    assert not verified.ok
    assert "Members: read; grants need Members: read and write (members=write)" in verified.summary


async def test_an_app_not_installed_on_the_org_is_told_so(
    gh: FakeGitHub, client_for: Callable[..., GitHubClient]
) -> None:
    key, pem = private_key_pem()
    app = gh.add_app(public_pem(key), ["elsewhere"])
    with pytest.raises(DomainError, match="not installed on the acme organization"):
        await client_for(app_id=app.app_id, private_key=pem).verify(ORG)
    _, other = private_key_pem()
    with pytest.raises(DomainError, match="JWT"):
        await client_for(app_id=app.app_id, private_key=other).verify("elsewhere")


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"team": "sre"}, "needs `org: ORGANIZATION`"),
        ({"org": "acme"}, "needs `team: TEAM_SLUG`"),
        ({"org": "acme", "team": "sre", "role": "owner"}, "member or maintainer"),
        ({"org": "acme", "team": "sre", "repo": "x"}, "not repo"),
    ],
)
def test_policy_shapes_are_checked(spec: dict[str, Any], problem: str) -> None:
    found = spec_problem({"type": "github-team", **spec})
    assert found is not None and problem in found
