"""The role writes speak Opsgenie's Swagger spec: the fake answers them in its shapes, and the
granter's request bodies (user role change, custom role create and update) validate against it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable

import pytest

from adapters.opsgenie import OpsgenieRosterProvider
from adapters.opsgenie.granter import OpsgenieRoleGranter
from adapters.storage.engine import make_engine
from adapters.storage.kv import SqlKeyValues
from adapters.storage.migrate import upgrade
from core.errors import DomainError
from core.ports import Grant
from tests.adapters.opsgenie.conftest import HOUR, NOW
from tests.adapters.providerhttp.openapi import Spec, all_errors, opsgenie_spec
from tests.fakes.opsgenie import FakeOpsgenie, RecordedRequest
from tests.fakes.opsgenie.server import NEEDED_RIGHTS, WRITE_RIGHTS


def body_errors(spec: Spec, record: RecordedRequest) -> list[str]:
    """What is wrong with a write's JSON body by the operation's request schema (both dialects)."""
    if record.method in ("GET", "DELETE"):
        return []
    found = spec.operation(record.method, record.path)
    if found is None:
        return [f"{record.method} {record.path}: not in the spec"]
    template, operation = found
    base = "#/paths/" + template.replace("~", "~0").replace("/", "~1") + "/" + record.method.lower()
    if spec.swagger2:
        index = next(i for i, p in enumerate(operation["parameters"]) if p.get("in") == "body")
        pointer = f"{base}/parameters/{index}/schema"
    else:
        pointer = f"{base}/requestBody/content/application~1json/schema"
    return [
        f"{record.method} {record.path}: {e.message} at {list(e.absolute_path)}"
        for e in spec.validator(pointer).iter_errors(record.sent)
    ]


@pytest.fixture
async def notes(sqlite_url: str) -> AsyncIterator[SqlKeyValues]:
    engine = make_engine(sqlite_url)
    await upgrade(engine)
    try:
        yield SqlKeyValues(engine)
    finally:
        await engine.dispose()


async def test_role_writes_and_their_answers_match_the_spec(
    og: FakeOpsgenie, make: Callable[..., OpsgenieRosterProvider], notes: SqlKeyValues
) -> None:
    og.api_keys["testkey"] = set(WRITE_RIGHTS)
    og.api_keys["readonly"] = set(NEEDED_RIGHTS)
    og.add_user("bob@example.com", "Bob")
    client, readonly = make().client, make(api_key="readonly").client
    granter = OpsgenieRoleGranter(lambda: client, notes)
    rights = ["alert-action", "alert-acknowledge"]
    grant = Grant("r1", "ic", "bob@example.com", NOW, NOW + HOUR, (), "",
                  {"type": "opsgenie-role", "role": "Acker", "rights": rights, "ensure": True})  # fmt: skip
    receipt = await granter.grant(grant)
    await granter.revoke(dataclasses.replace(grant, receipt=receipt))
    more = {**grant.spec, "rights": [*rights, "alert-close"]}
    second = dataclasses.replace(grant, request_id="r2", spec=more)
    await granter.revoke(dataclasses.replace(second, receipt=await granter.grant(second)))
    denied = OpsgenieRoleGranter(lambda: readonly, notes)
    with pytest.raises(DomainError):
        await denied.grant(dataclasses.replace(grant, request_id="r3"))
    methods = {r.method for r in og.requests}
    assert {"GET", "PATCH", "POST", "PUT"} <= methods
    assert {200, 201, 403, 404} <= {r.status for r in og.requests}
    assert all_errors(og.requests, opsgenie_spec().response_errors) == []
    assert all_errors(og.requests, opsgenie_spec().request_errors) == []
    assert all_errors(og.requests, lambda r: body_errors(opsgenie_spec(), r)) == []


def test_the_body_check_is_not_vacuous() -> None:
    bad = RecordedRequest("PATCH", "/v2/users/u1", [], {}, sent={"role": "admin"})
    assert body_errors(opsgenie_spec(), bad)  # a role is an object {id, name}, not a string
