"""The fake answers in the shapes of PagerDuty's OpenAPI spec, and the client asks as it says.

If the fake drifted from the real API, the other tests would prove nothing; so every response it
served during a full sync, a verify, live checks and error cases is validated against the spec,
and every request the client sent is checked for declared parameters, value types and headers.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters.pagerduty import PagerDutyRosterProvider
from core.groups import GroupRef
from tests.adapters.pagerduty.conftest import HOUR, NOW, seed_small
from tests.adapters.providerhttp.openapi import all_errors, pagerduty_spec
from tests.fakes.pagerduty import FakePagerDuty, RecordedRequest, generate_org

Make = Callable[..., PagerDutyRosterProvider]
AUTH = r"^(Token token=[A-Za-z0-9]+|Bearer [A-Za-z0-9]+)$"


async def exercise(pd: FakePagerDuty, make: Make) -> None:
    seed_small(pd, odd=False)
    generate_org(pd, users=230, schedules=30, escalation_policies=9, seed=4, now=NOW)
    lone = pd.add_schedule("Lone Shifts", [pd.users[next(iter(pd.users))]], v3=True)
    pd.add_oncall(lone, pd.users[lone.user_ids[0]], NOW - HOUR, NOW + HOUR)
    provider = make()
    await provider.fetch()
    assert (await provider.fetch()).calls_saved  # nothing changed: on-calls, final schedules
    pd.changed("users", next(iter(pd.users)))
    assert not (await provider.fetch()).calls_saved  # the trail shows a change: a full sync
    await provider.verify()
    await provider.confirm_on_call(
        "alice@example.com", GroupRef.parse("pagerduty:schedule/Primary SRE"), NOW
    )
    await make().confirm_on_call(
        "bob@example.com", GroupRef.parse("pagerduty:escalation_policy/SRE Policy"), NOW
    )


async def test_fake_responses_match_the_spec(pd: FakePagerDuty, make: Make) -> None:
    pd.fail("/oncalls", 429, at=1, headers={"ratelimit-reset": "1"})
    pd.fail("/escalation_policies", 500, at=1)
    await exercise(pd, make)
    await make(api_key="nope").verify()  # 401s
    pd.deny("teams")
    await make().verify()  # 403
    statuses = {r.status for r in pd.requests}
    assert {200, 401, 403, 429} <= statuses
    errors = all_errors(
        (r for r in pd.requests if r.status != 500), pagerduty_spec().response_errors
    )
    assert errors == []


async def test_fake_error_bodies_match_the_spec(pd: FakePagerDuty, make: Make) -> None:
    from adapters.providerhttp import NotFound, RequestRejected

    client = make().client
    with pytest.raises(NotFound):
        await client.get("/schedules/PNOTHERE")
    with pytest.raises(NotFound):
        await client.get("/users/PNOTHERE")
    with pytest.raises(RequestRejected):
        await client.get("/users", [("limit", 100), ("offset", 9_950)])
    assert [r.status for r in pd.requests] == [404, 404, 400]
    assert all_errors(pd.requests, pagerduty_spec().response_errors) == []


async def test_the_validator_is_not_vacuous(pd: FakePagerDuty, make: Make) -> None:
    seed_small(pd, odd=False)
    await make().fetch()
    record = pd.requests_to("/oncalls")[0]
    broken = RecordedRequest(
        **{**record.__dict__, "body": {"oncalls": [{"escalation_level": "one"}]}}
    )
    assert pagerduty_spec().response_errors(broken)
    missing = RecordedRequest(**{**record.__dict__, "body": {"limit": 1}})
    assert pagerduty_spec().response_errors(missing)
    odd = RecordedRequest(**{**record.__dict__, "query": [("limit", "many"), ("colour", "red")]})
    assert len(pagerduty_spec().request_errors(odd)) == 2


async def test_client_requests_conform_to_the_spec(pd: FakePagerDuty, make: Make) -> None:
    import re

    await exercise(pd, make)
    assert all_errors(pd.requests, pagerduty_spec().request_errors) == []
    for r in pd.requests:
        assert r.headers["Accept"] == "application/vnd.pagerduty+json;version=2"
        assert re.match(AUTH, r.headers["Authorization"])
        if r.param("limit"):  # the spec's maximum: 100, and 1,000 for shift-based schedules
            assert int(r.param("limit") or 0) <= (1000 if r.path == "/v3/schedules" else 100)
    synced = [r for r in pd.requests_to("/oncalls") if r.param("offset") is not None]
    assert synced and all(r.params("include[]") == ["users"] for r in synced)
