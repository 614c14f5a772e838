"""The okta-group granter against the fake Okta over real HTTP: a membership for a while, taken
back exactly, never over a change made by hand, patient with 429s, and explicit about the scope
or admin role it lacks."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from adapters.okta import OktaClient, OktaGroupGranter
from adapters.okta.granter import spec_problem
from adapters.providerhttp.virtualtime import VirtualTime
from adapters.storage.kv import SqlKeyValues
from core.errors import DomainError
from core.ports import Grant
from tests.adapters.okta.conftest import access
from tests.fakes.certificates import private_key_pem
from tests.fakes.live import returning
from tests.fakes.okta import FakeOkta, Group, User


def back(grant: Grant, receipt: dict[str, Any]) -> Grant:
    return dataclasses.replace(grant, receipt=receipt)


def public_pem(okta_key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    return (
        okta_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


async def test_the_person_joins_the_group_and_leaves_it_at_the_end(
    okta: FakeOkta, granter: OktaGroupGranter, bob: User, sre: Group, notes: SqlKeyValues
) -> None:
    grant = access(sre.id)
    receipt = await granter.grant(grant)
    assert bob.id in sre.members
    assert receipt["previous"] is None and receipt["user_id"] == bob.id
    undone = await granter.revoke(back(grant, receipt))
    assert undone["restored"] is None
    assert okta.changes == [("added", sre.id, bob.id), ("removed", sre.id, bob.id)]
    assert await notes.get(f"okta-group:{sre.id}:{bob.id}") is None


async def test_many_grants_to_one_group_at_once_read_the_group_once(
    okta: FakeOkta, granter: OktaGroupGranter, sre: Group
) -> None:
    people = [okta.add_user(f"p{i}@example.com") for i in range(6)]
    await asyncio.gather(
        *(granter.grant(access(sre.id, f"r{i}", p.login)) for i, p in enumerate(people))
    )
    assert {p.id for p in people} <= sre.members
    assert [r.method for r in okta.requests_to(f"/api/v1/groups/{sre.id}")] == ["GET"]


async def test_a_group_is_found_by_its_exact_name(
    granter: OktaGroupGranter, bob: User, sre: Group
) -> None:
    receipt = await granter.grant(access("SRE On-call"))
    assert receipt["group"] == sre.id and bob.id in sre.members


async def test_a_person_is_found_by_login_first(
    okta: FakeOkta, granter: OktaGroupGranter, sre: Group
) -> None:
    carol = okta.add_user("carol@example.com")
    await granter.grant(access(sre.id, email="carol@example.com"))
    assert carol.id in sre.members
    assert not okta.requests_to("/api/v1/users") or all(
        r.param("search") is None for r in okta.requests_to("/api/v1/users")
    )


async def test_an_email_shared_by_several_users_is_refused_counting_every_page(
    okta: FakeOkta, granter: OktaGroupGranter, sre: Group
) -> None:
    for login in ("a1@example.com", "a2@example.com", "a3@example.com"):
        okta.add_user(login, email="shared@example.com")
    with pytest.raises(DomainError, match="Okta has 3 users whose primary email is"):
        await granter.grant(access(sre.id, email="shared@example.com"))
    assert any(r.param("after") for r in okta.requests_to("/api/v1/users"))  # the Link was followed
    assert okta.changes == []


async def test_someone_already_a_member_stays_one(
    okta: FakeOkta, granter: OktaGroupGranter, bob: User, sre: Group
) -> None:
    sre.members.add(bob.id)
    grant = access(sre.id)
    receipt = await granter.grant(grant)
    undone = await granter.revoke(back(grant, receipt))
    assert receipt["unchanged"] and undone["unchanged"]
    assert bob.id in sre.members and okta.changes == []


async def test_a_removal_by_hand_meanwhile_is_reported_and_not_undone(
    okta: FakeOkta, granter: OktaGroupGranter, bob: User, sre: Group
) -> None:
    grant = access(sre.id)
    receipt = await granter.grant(grant)
    sre.members.discard(bob.id)
    undone = await granter.revoke(back(grant, receipt))
    assert "by hand" in undone["manual_change"]
    assert okta.changes == [("added", sre.id, bob.id)]


async def test_a_lost_answer_to_the_assignment_is_retried_safely(
    okta: FakeOkta, granter: OktaGroupGranter, bob: User, sre: Group
) -> None:
    grant = access(sre.id)
    okta.lose_answer("PUT", "/api/v1/groups/*/users/*")
    receipt = await granter.grant(grant)
    assert receipt["previous"] is None
    await granter.revoke(back(grant, receipt))
    assert bob.id not in sre.members


async def test_429_is_waited_out_until_the_reset_okta_names(
    okta: FakeOkta, granter: OktaGroupGranter, bob: User, sre: Group, vt: VirtualTime
) -> None:
    okta.fail("/api/v1/groups/*/users/*", 429)  # with X-Rate-Limit-Reset one second ahead
    await granter.grant(access(sre.id))
    assert bob.id in sre.members
    assert vt.slept >= 1
    assert [r.status for r in okta.requests_to("/api/v1/groups/*/users/*")] == [429, 204]


async def test_an_api_token_whose_admin_may_only_read_names_the_role(
    okta: FakeOkta,
    client_for: Callable[..., OktaClient],
    notes: SqlKeyValues,
    bob: User,
    sre: Group,
) -> None:
    client = client_for(api_token=okta.add_token("READ_ONLY_ADMIN"))
    assert (await client.verify()).ok  # reads work; the write is refused when it is tried
    with pytest.raises(DomainError) as refused:
        await OktaGroupGranter(returning(client), notes).grant(access(sre.id))
    assert "Group Membership Administrator" in str(refused.value)
    assert await notes.get(f"okta-group:{sre.id}:{bob.id}") is None


async def test_a_service_app_signs_in_with_its_key_and_grants(
    okta: FakeOkta,
    client_for: Callable[..., OktaClient],
    notes: SqlKeyValues,
    bob: User,
    sre: Group,
) -> None:
    key, pem = private_key_pem()
    app = okta.add_app(public_pem(key), ["okta.groups.manage", "okta.users.read"], key_id="k1")
    client = client_for(client_id=app.client_id, private_key=pem, key_id="k1")
    verified = await client.verify()
    assert verified.ok and "okta.groups.manage" in verified.summary
    await OktaGroupGranter(returning(client), notes).grant(access(sre.id))
    assert bob.id in sre.members
    assert all(r.headers["Authorization"].startswith("Bearer ") for r in okta.requests[1:])


async def test_a_service_app_without_a_scope_is_told_which(
    okta: FakeOkta,
    client_for: Callable[..., OktaClient],
    notes: SqlKeyValues,
    bob: User,
    sre: Group,
) -> None:
    key, pem = private_key_pem()
    narrow = okta.add_app(public_pem(key), ["okta.users.read"])
    with pytest.raises(DomainError, match="invalid_scope"):
        await client_for(client_id=narrow.client_id, private_key=pem).verify()
    app = okta.add_app(public_pem(key), ["okta.groups.manage", "okta.users.read"])
    client = client_for(client_id=app.client_id, private_key=pem)
    await client.verify()
    for scopes in okta.access_tokens.values():  # narrowed to read while the token lives
        scopes.discard("okta.groups.manage")
        scopes.add("okta.groups.read")
    with pytest.raises(DomainError) as refused:
        await OktaGroupGranter(returning(client), notes).grant(access(sre.id))
    assert str(refused.value) == (
        "Okta refused to change the members of group SRE On-call (403): the service app's token "
        "lacks the scope okta.groups.manage."
    )


async def test_a_service_app_that_requires_dpop_is_explained(
    okta: FakeOkta, client_for: Callable[..., OktaClient]
) -> None:
    key, pem = private_key_pem()
    app = okta.add_app(public_pem(key), ["okta.groups.manage", "okta.users.read"], dpop=True)
    with pytest.raises(DomainError, match="DPoP"):
        await client_for(client_id=app.client_id, private_key=pem).verify()


async def test_a_wrong_api_token_is_refused_without_echoing_it(
    client_for: Callable[..., OktaClient],
) -> None:
    with pytest.raises(Exception) as refused:
        await client_for(api_token="00wrong-token-value").verify()
    assert "401" in str(refused.value) and "wrong-token" not in str(refused.value)


async def test_an_imported_group_is_refused_before_anything_changes(
    okta: FakeOkta, granter: OktaGroupGranter, bob: User
) -> None:
    ad = okta.add_group("AD SRE", kind="APP_GROUP")
    with pytest.raises(DomainError, match="imported from an app"):
        await granter.grant(access(ad.id))
    assert okta.changes == []


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({}, "needs `group: ID_OR_NAME`"),
        ({"group": 'a"b'}, "cannot hold a quote"),
        ({"group": "SRE", "role": "admin"}, "takes only `group`"),
    ],
)
def test_policy_shapes_are_checked(spec: dict[str, Any], problem: str) -> None:
    found = spec_problem({"type": "okta-group", **spec})
    assert found is not None and problem in found
