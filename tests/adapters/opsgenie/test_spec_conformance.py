"""The fake answers in the shapes of Opsgenie's Swagger spec, and the client asks as it says."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from adapters.opsgenie import OpsgenieRosterProvider
from core.groups import GroupRef
from tests.adapters.opsgenie.conftest import NOW, seed_small
from tests.adapters.providerhttp.openapi import all_errors, opsgenie_incident_spec, opsgenie_spec
from tests.fakes.opsgenie import FakeOpsgenie, RecordedRequest, generate_org
from tests.reference_files import REFERENCE

Make = Callable[..., OpsgenieRosterProvider]


def _sdk_fields(struct: str) -> set[str]:
    """The JSON names of a struct in the official Go SDK's `service_result.go`: the Service
    API has no OpenAPI description, so the SDK's types are the published shape."""
    source = (REFERENCE / "opsgenie" / "sdk-go" / "service_result.go").read_text()
    body = re.search(rf"type {struct} struct {{(.*?)\n}}", source, re.S)
    assert body is not None
    return set(re.findall(r'json:"([A-Za-z]+)', body.group(1)))


def response_errors(record: RecordedRequest) -> list[str]:
    if record.path == "/v1/services" and record.status == 200:
        body = record.body if isinstance(record.body, dict) else {}
        errors = [f"services: {k} not in the SDK" for k in body if k not in
                  {*_sdk_fields("ListResult"), "requestId", "took"}]  # fmt: skip
        for item in body.get("data") or []:
            errors += [
                f"service: {k} not in the SDK" for k in item if k not in _sdk_fields("Service")
            ]
        paging = body.get("paging") or {}
        errors += [
            f"paging: {k} not in the SDK"
            for k in paging
            if k not in {*_sdk_fields("Paging"), "prev"}
        ]
        return errors
    if record.path.startswith("/v1/incidents"):
        return opsgenie_incident_spec().response_errors(_upstream_path(record))
    return opsgenie_spec().response_errors(record)


def request_errors(record: RecordedRequest) -> list[str]:
    if record.path == "/v1/services":
        return [f"services: {n}" for n, _ in record.query if n not in ("limit", "offset")]
    if record.path.startswith("/v1/incidents"):
        return opsgenie_incident_spec().request_errors(_upstream_path(record))
    return opsgenie_spec().request_errors(record)


def _upstream_path(record: RecordedRequest) -> RecordedRequest:
    """Upstream's spec writes the list as `/v1/incidents/`; the docs and SDKs call it without
    the slash, as the client does."""
    return replace(record, path="/v1/incidents/") if record.path == "/v1/incidents" else record


async def exercise(og: FakeOpsgenie, make: Make) -> None:
    seed_small(og, odd=False)
    generate_org(og, users=220, schedules=12, teams=4, seed=9, now=NOW)
    team = next(iter(og.teams.values()))
    checkout = og.add_service("Checkout", team)
    bob = next(u for u in og.users.values() if u.username == "bob@example.com")
    for n in range(105):
        og.open_incident([checkout], f"Incident {n}", [bob, team], NOW)
    og.resolve_incident(next(iter(og.incidents.values())), NOW)
    provider = make()
    await provider.fetch()
    services = [GroupRef.parse("opsgenie:service/Checkout")]
    assert await provider.incidents.assigned("bob@example.com", services)
    for incident_id in list(og.incidents)[:2]:
        await provider.incidents.get(incident_id)
    assert await provider.incidents.get("no-such-incident") is None
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
    assert all_errors(og.requests, response_errors) == []


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
    assert all_errors(og.requests, request_errors) == []
    assert all(r.headers["Authorization"] == "GenieKey testkey" for r in og.requests)


async def test_the_incident_and_service_checks_are_not_vacuous(
    og: FakeOpsgenie, make: Make
) -> None:
    await exercise(og, make)
    listed = og.requests_to("/v1/incidents")[0]
    broken = replace(listed, body={"data": [{"tinyId": 5}], "took": 0, "requestId": "r"})
    assert len(response_errors(broken)) >= 2  # no id; tinyId not a string
    services = og.requests_to("/v1/services")[0]
    odd = replace(services, body={"data": [{"id": "1", "serviceName": "x"}]})
    assert response_errors(odd) == ["service: serviceName not in the SDK"]
    assert request_errors(replace(listed, query=[("limit", "5")]))  # `query` is required
