"""The role writes speak PagerDuty's OpenAPI spec: the fake answers them in its shapes, and the
granter's requests (user role, team membership role, leaving a team) validate against it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable

import pytest

from adapters.pagerduty import PagerDutyRosterProvider
from adapters.pagerduty.granter import PagerDutyRoleGranter
from adapters.storage.engine import make_engine
from adapters.storage.kv import SqlKeyValues
from adapters.storage.migrate import upgrade
from core.errors import DomainError
from core.ports import Grant
from tests.adapters.opsgenie.test_granter_spec import body_errors
from tests.adapters.pagerduty.conftest import HOUR, NOW
from tests.adapters.providerhttp.openapi import all_errors, pagerduty_spec
from tests.fakes.pagerduty import FakePagerDuty, RecordedRequest


@pytest.fixture
async def notes(sqlite_url: str) -> AsyncIterator[SqlKeyValues]:
    engine = make_engine(sqlite_url)
    await upgrade(engine)
    try:
        yield SqlKeyValues(engine)
    finally:
        await engine.dispose()


async def test_role_writes_and_their_answers_match_the_spec(
    pd: FakePagerDuty, make: Callable[..., PagerDutyRosterProvider], notes: SqlKeyValues
) -> None:
    bob = pd.add_user("Bob", "bob@example.com", role="limited_user")
    carol = pd.add_user("Carol", "carol@example.com", role="limited_user")
    pd.add_team("Platform", [(bob, "responder")])
    client = make().client
    granter = PagerDutyRoleGranter(lambda: client, notes)
    specs = [
        ("bob@example.com", {"role": "user"}),
        ("bob@example.com", {"team": "Platform", "team_role": "manager"}),
        ("carol@example.com", {"team": "Platform", "team_role": "observer"}),
    ]
    for n, (email, spec) in enumerate(specs):
        grant = Grant(
            f"r{n}", "pd", email, NOW, NOW + HOUR, (), "", {"type": "pagerduty-role", **spec}
        )
        await granter.revoke(dataclasses.replace(grant, receipt=await granter.grant(grant)))
    pd.read_only_keys.add("testkey")
    with pytest.raises(DomainError):
        grant = Grant("r9", "pd", "carol@example.com", NOW, NOW + HOUR, (), "",
                      {"type": "pagerduty-role", "role": "user"})  # fmt: skip
        await granter.grant(grant)
    assert carol.role == "limited_user"
    writes = [r for r in pd.requests if r.method != "GET"]
    assert {(r.method, r.status) for r in writes} == {
        ("PUT", 200),
        ("PUT", 204),
        ("DELETE", 204),
        ("PUT", 403),
    }
    with_body = [r for r in pd.requests if r.status != 204]  # 204: no body, by the spec too
    assert all_errors(with_body, pagerduty_spec().response_errors) == []
    assert all_errors(pd.requests, pagerduty_spec().request_errors) == []
    assert all_errors(pd.requests, lambda r: body_errors(pagerduty_spec(), r)) == []
    for r in writes:
        found = pagerduty_spec().operation(r.method, r.path)
        assert found is not None and str(r.status) in found[1]["responses"]


def test_the_body_check_is_not_vacuous() -> None:
    bad = RecordedRequest("PUT", "/teams/T1/users/U1", [], {}, sent={"role": "boss"})
    assert body_errors(pagerduty_spec(), bad)  # team roles are observer, responder or manager
