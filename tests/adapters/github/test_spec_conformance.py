"""The fake GitHub answers in the shapes of GitHub's published OpenAPI description, and the
client asks as it says."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from adapters.github import GitHubClient, GitHubTeamGranter
from adapters.storage.kv import SqlKeyValues
from core.errors import DomainError
from tests.adapters.github.conftest import ORG, access
from tests.adapters.github.test_granter import public_pem
from tests.adapters.providerhttp.openapi import all_errors, github_spec
from tests.fakes.certificates import private_key_pem
from tests.fakes.github import Account, FakeGitHub, RecordedRequest, Team
from tests.fakes.live import returning


async def exercise(
    gh: FakeGitHub, client_for: Callable[..., GitHubClient], notes: SqlKeyValues
) -> None:
    gh.add_account("bob-gh", org=ORG)
    gh.add_account("carol-c", email="carol@example.com", org=ORG)
    gh.add_team(ORG, "sre-oncall")
    key, pem = private_key_pem()
    app = gh.add_app(public_pem(key), [ORG])
    client = client_for(app_id=app.app_id, private_key=pem)
    await client.verify(ORG)

    async def logins(email: str) -> str | None:
        return "bob-gh" if email == "bob@example.com" else None

    granter = GitHubTeamGranter(returning(client), notes, logins)
    grant = access()
    receipt = await granter.grant(grant)
    await granter.revoke(dataclasses.replace(grant, receipt=receipt))
    await granter.grant(access(email="carol@example.com", request_id="r2"))
    with pytest.raises(DomainError):
        await granter.grant(access("no-such-team", request_id="r3"))
    readonly = client_for(token=gh.add_token("read"))
    with pytest.raises(DomainError):
        await GitHubTeamGranter(returning(readonly), notes, logins).grant(access(request_id="r4"))


async def test_fake_responses_match_the_description(
    gh: FakeGitHub, client_for: Callable[..., GitHubClient], notes: SqlKeyValues
) -> None:
    await exercise(gh, client_for, notes)
    assert {200, 201, 204, 403, 404} <= {r.status for r in gh.requests}
    checked = [r for r in gh.requests if r.status != 404 or "/teams/" in r.path]
    errors = all_errors(checked, github_spec().response_errors)
    assert errors == [], "\n".join(errors)


async def test_the_validator_is_not_vacuous(
    gh: FakeGitHub, granter: GitHubTeamGranter, bob: Account, sre: Team
) -> None:
    await granter.grant(access())
    record = next(r for r in gh.requests_to("/orgs/*/teams/*/memberships/*") if r.method == "PUT")
    broken = RecordedRequest(**{**record.__dict__, "body": {"role": "owner"}})
    assert len(github_spec().response_errors(broken)) >= 2  # no state or url; role not allowed
    odd = RecordedRequest(
        **{
            **record.__dict__,
            "method": "GET",
            "path": "/search/users",
            "query": [("per_page", "lots")],
        }
    )
    assert github_spec().request_errors(odd)


async def test_client_requests_conform_to_the_description(
    gh: FakeGitHub, client_for: Callable[..., GitHubClient], notes: SqlKeyValues
) -> None:
    await exercise(gh, client_for, notes)
    assert all_errors(gh.requests, github_spec().request_errors) == []
    puts = [r for r in gh.requests if r.method == "PUT"]
    assert puts and all(r.sent in ({"role": "member"}, {"role": "maintainer"}) for r in puts)
