"""The fake answers in the shapes of Opsgenie's Swagger spec, and the client asks as it says."""

from __future__ import annotations

from collections.abc import Callable

from adapters.opsgenie import OpsgenieRosterProvider
from core.groups import GroupRef
from tests.adapters.opsgenie.conftest import NOW, seed_small
from tests.adapters.providerhttp.openapi import all_errors, opsgenie_spec
from tests.fakes.opsgenie import FakeOpsgenie, RecordedRequest, generate_org

Make = Callable[..., OpsgenieRosterProvider]


async def exercise(og: FakeOpsgenie, make: Make) -> None:
    seed_small(og, odd=False)
    generate_org(og, users=220, schedules=12, teams=4, seed=9, now=NOW)
    provider = make()
    await provider.fetch()
    await provider.verify()
    await provider.confirm_on_call(
        "alice@example.com", GroupRef.parse("opsgenie:schedule/Primary"), NOW
    )
    await make().confirm_on_call(
        "bob@example.com", GroupRef.parse("opsgenie:schedule/Primary"), NOW
    )


async def test_fake_responses_match_the_spec(og: FakeOpsgenie, make: Make) -> None:
    og.fail("/v2/teams", 429)
    await exercise(og, make)
    await make(api_key="nope").verify()
    og.api_keys["readonly"] = {"read"}
    await make(api_key="readonly").verify()
    assert {200, 401, 403, 429} <= {r.status for r in og.requests}
    assert all_errors(og.requests, opsgenie_spec().response_errors) == []


async def test_the_validator_is_not_vacuous(og: FakeOpsgenie, make: Make) -> None:
    seed_small(og, odd=False)
    await make().fetch()
    record = og.requests_to("/v2/users")[0]
    broken = RecordedRequest(**{**record.__dict__, "body": {"data": [{"role": "admin"}]}})
    assert len(opsgenie_spec().response_errors(broken)) >= 2  # no requestId/took; role not object
    odd = RecordedRequest(**{**record.__dict__, "query": [("limit", "lots")]})
    assert opsgenie_spec().request_errors(odd)


async def test_client_requests_conform_to_the_spec(og: FakeOpsgenie, make: Make) -> None:
    await exercise(og, make)
    assert all_errors(og.requests, opsgenie_spec().request_errors) == []
    assert all(r.headers["Authorization"] == "GenieKey testkey" for r in og.requests)
