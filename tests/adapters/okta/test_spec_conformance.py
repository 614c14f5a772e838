"""The fake Okta answers in the shapes of Okta's published OpenAPI description, and the client
asks as it says."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from adapters.okta import OktaClient, OktaGroupGranter
from adapters.storage.kv import SqlKeyValues
from core.errors import DomainError
from tests.adapters.okta.conftest import access
from tests.adapters.providerhttp.openapi import all_errors, okta_spec
from tests.fakes.live import returning
from tests.fakes.okta import FakeOkta, Group, RecordedRequest, User


async def exercise(okta: FakeOkta, granter: OktaGroupGranter, sre: Group) -> None:
    okta.fail("/api/v1/groups/*/users/*", 429)
    grant = access(sre.id)
    receipt = await granter.grant(grant)
    await granter.revoke(dataclasses.replace(grant, receipt=receipt))
    await granter.grant(access("SRE On-call", "r2"))


async def test_fake_responses_match_the_description(
    okta: FakeOkta,
    granter: OktaGroupGranter,
    bob: User,
    sre: Group,
    client_for: Callable[..., OktaClient],
    notes: SqlKeyValues,
) -> None:
    await exercise(okta, granter, sre)
    await client_for().verify()
    readonly = client_for(api_token=okta.add_token("READ_ONLY_ADMIN"))
    other = okta.add_group("Other")
    with pytest.raises(DomainError, match="Group Membership Administrator"):
        await OktaGroupGranter(returning(readonly), notes).grant(access(other.id, "r3"))
    api = [r for r in okta.requests if r.path.startswith("/api/") and r.status != 401]
    assert {200, 204, 403, 404, 429} <= {r.status for r in api}
    assert all_errors(api, okta_spec().response_errors) == []


async def test_the_validator_is_not_vacuous(
    okta: FakeOkta, granter: OktaGroupGranter, bob: User, sre: Group
) -> None:
    await granter.grant(access(sre.id))
    record = okta.requests_to("/api/v1/groups/*")[0]
    broken = RecordedRequest(**{**record.__dict__, "body": {"id": 7, "type": "TEAM"}})
    assert len(okta_spec().response_errors(broken)) >= 2
    odd = RecordedRequest(
        **{**okta.requests_to("/api/v1/users")[0].__dict__, "query": [("limit", "many")]}
    )
    assert okta_spec().request_errors(odd)


async def test_client_requests_conform_to_the_description(
    okta: FakeOkta, granter: OktaGroupGranter, bob: User, sre: Group
) -> None:
    await exercise(okta, granter, sre)
    api = [r for r in okta.requests if r.path.startswith("/api/")]
    assert all_errors(api, okta_spec().request_errors) == []
