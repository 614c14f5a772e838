"""verify(): one live read per kind of data, one sentence per problem, no secret echoed."""

from __future__ import annotations

from tests.adapters.jsm.conftest import AGENT, Make, seed_small
from tests.fakes.jsm import ALL_RIGHTS, Credential, FakeJsm


async def test_a_good_connection_says_who_and_what(jsm: FakeJsm, make: Make) -> None:
    seed_small(jsm)
    result = await make().verify()
    assert result.ok, result.summary
    assert set(result.capabilities) == {
        "schedules",
        "teams",
        "users' e-mail",
        "on-calls",
        "team members",
    }
    assert result.summary.startswith("JSM operations (acme.atlassian.net): signed in as ")
    assert AGENT in result.summary
    assert not any(r.method not in ("GET", "POST") for r in jsm.requests)
    assert all(r.path.startswith("/gateway/") for r in jsm.requests if r.method == "POST")


async def test_a_refused_pair_is_named_as_such(jsm: FakeJsm, make: Make) -> None:
    result = await make(api_token="Wr0ngT0ken").verify()
    assert not result.ok
    assert "refused the e-mail and API token pair for agent@example.com (401)" in result.summary
    assert "Wr0ngT0ken" not in result.summary
    unknown = await make(email="nobody@example.com").verify()
    assert not unknown.ok and "401" in unknown.summary


async def test_403_says_which_permission_is_missing(jsm: FakeJsm, make: Make) -> None:
    seed_small(jsm)
    jsm.credentials["noops@example.com"] = Credential("t", ALL_RIGHTS - {"ops"})
    result = await make(email="noops@example.com", api_token="t").verify()
    assert not result.ok
    assert "may not read schedules (403: it needs a Jira Service Management agent licence" in (
        result.summary
    )
    assert "schedules" not in result.capabilities

    jsm.credentials["nobrowse@example.com"] = Credential("t", ALL_RIGHTS - {"browse_users"})
    result = await make(email="nobrowse@example.com", api_token="t").verify()
    assert not result.ok
    assert "users' e-mail (403: it needs the 'Browse users and groups' global permission" in (
        result.summary
    )
    assert "schedules" in result.capabilities and "on-calls" in result.capabilities


async def test_team_members_are_optional_and_the_org_id_is_explained(
    jsm: FakeJsm, make: Make
) -> None:
    seed_small(jsm)
    result = await make(org_id=None).verify()
    assert result.ok and "team members" not in result.capabilities
    assert "organization id" in result.summary

    jsm.credentials["outsider@example.com"] = Credential("t", ALL_RIGHTS - {"teams"})
    result = await make(email="outsider@example.com", api_token="t").verify()
    assert result.ok  # schedules, on-calls and e-mails are what a roster needs
    assert "team members (403: it needs to belong to the Atlassian organization" in result.summary


async def test_an_unknown_site_is_named(jsm: FakeJsm, make: Make) -> None:
    jsm.fail("/_edge/tenant_info", 404)
    result = await make().verify()
    assert not result.ok
    assert "check the site name" in result.summary
