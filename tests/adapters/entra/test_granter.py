"""The entra-group granter against the fake Entra ID and Graph over real HTTP: a membership for a
while, taken back exactly, never over a change made by hand, safe to retry, patient with 429s,
and explicit about the permission it lacks."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.entra import EntraGroupGranter, GraphClient
from adapters.entra.granter import spec_problem
from adapters.providerhttp import ProviderUnavailable, RateLimit, RetryPolicy
from adapters.providerhttp.virtualtime import VirtualTime
from adapters.storage.engine import make_engine
from adapters.storage.kv import SqlKeyValues
from adapters.storage.migrate import upgrade
from core.errors import DomainError
from core.ports import Grant
from tests.fakes.certificates import self_signed
from tests.fakes.graph import FakeGraph, Group, User
from tests.fakes.live import returning

TENANT = "6b9f1c0e-4a53-4c1e-9f7e-1d2c3b4a5f60"
CLIENT = "0e5ac3d2-7f1b-4a8e-b0c9-112233445566"
SECRET = "s3cr3t~value"
NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime(NOW)


@pytest.fixture
async def graph(vt: VirtualTime) -> AsyncIterator[FakeGraph]:
    async with FakeGraph(clock=vt.monotonic, page_max=2) as fake:
        fake.add_app(TENANT, CLIENT, secret=SECRET)
        yield fake


@pytest.fixture
async def client_for(
    graph: FakeGraph, vt: VirtualTime
) -> AsyncIterator[Callable[..., GraphClient]]:
    made: list[GraphClient] = []

    def make(**kw: Any) -> GraphClient:
        kw.setdefault("client_secret", SECRET)
        made.append(
            GraphClient(
                tenant=kw.pop("tenant", TENANT),
                client_id=kw.pop("client_id", CLIENT),
                graph_url=graph.url,
                login_url=graph.url,
                retry=RetryPolicy(random=lambda: 0.5),
                clock=vt.monotonic,
                sleep=vt.sleep,
                **kw,
            )
        )
        return made[-1]

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
async def notes(sqlite_url: str) -> AsyncIterator[SqlKeyValues]:
    engine = make_engine(sqlite_url)
    await upgrade(engine)
    try:
        yield SqlKeyValues(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def granter(client_for: Callable[..., GraphClient], notes: SqlKeyValues) -> EntraGroupGranter:
    client = client_for()
    return EntraGroupGranter(returning(client), notes)


@pytest.fixture
def bob(graph: FakeGraph) -> User:
    bob = graph.add_user("bob@contoso.onmicrosoft.com", mail="Bob@Example.com")
    graph.member_of(bob, "All staff", "Engineering", "London office")  # two pages with page_max=2
    return bob


@pytest.fixture
def sre(graph: FakeGraph) -> Group:
    return graph.add_group("SRE break-glass")


def access(group: Group, request_id: str = "r1", email: str = "bob@example.com") -> Grant:
    return Grant(
        request_id=request_id,
        resource="prod-subscription",
        email=email,
        start=NOW,
        end=NOW + timedelta(hours=1),
        approvers=("lead@example.com",),
        reason="INC-1",
        spec={"type": "entra-group", "group": group.id},
    )


def back(grant: Grant, receipt: dict[str, Any]) -> Grant:
    return dataclasses.replace(grant, receipt=receipt)


async def test_the_person_found_by_mail_joins_the_group_and_leaves_it_at_the_end(
    graph: FakeGraph, granter: EntraGroupGranter, bob: User, sre: Group, notes: SqlKeyValues
) -> None:
    grant = access(sre)
    receipt = await granter.grant(grant)
    assert bob.id in sre.members
    assert receipt["user_id"] == bob.id and receipt["previous"] is None
    undone = await granter.revoke(back(grant, receipt))
    assert undone["restored"] is None
    assert bob.id not in sre.members
    assert graph.changes == [("added", sre.id, bob.id), ("removed", sre.id, bob.id)]
    assert await notes.get(f"entra-group:{sre.id}:{bob.id}") is None
    # the person's memberships were read across every page, following @odata.nextLink
    assert any(r.param("$skiptoken") for r in graph.requests_to(f"/v1.0/users/{bob.id}/memberOf/*"))


async def test_many_grants_to_one_group_at_once_read_the_group_once(
    graph: FakeGraph, granter: EntraGroupGranter, sre: Group
) -> None:
    people = [graph.add_user(f"p{i}@contoso.onmicrosoft.com") for i in range(6)]
    await asyncio.gather(
        *(granter.grant(access(sre, f"r{i}", p.upn)) for i, p in enumerate(people))
    )
    assert {p.id for p in people} <= set(sre.members)
    assert [r.method for r in graph.requests_to(f"/v1.0/groups/{sre.id}")] == ["GET"]


async def test_writes_are_paced_at_graphs_write_quota_and_reads_are_not_held(
    graph: FakeGraph, client_for: Callable[..., GraphClient], notes: SqlKeyValues, sre: Group
) -> None:
    graph.rate_limit = (5, 150.0)  # the write quota, scaled down: 5 writes in 150 s
    granter = EntraGroupGranter(returning(client_for(write_quota=RateLimit(5, 150.0))), notes)
    people = [graph.add_user(f"p{i}@contoso.onmicrosoft.com") for i in range(8)]
    await asyncio.gather(
        *(granter.grant(access(sre, f"r{i}", p.upn)) for i, p in enumerate(people))
    )
    assert {p.id for p in people} <= set(sre.members)
    assert graph.throttled == 0 and graph.max_in_window == 5  # the last 3 waited their turn
    assert len(graph.requests_to("/v1.0/users")) == 8  # one look-up each, none refused


async def test_a_user_is_found_by_upn_too(
    graph: FakeGraph, granter: EntraGroupGranter, bob: User, sre: Group
) -> None:
    receipt = await granter.grant(access(sre, email="BOB@contoso.onmicrosoft.com"))
    assert receipt["user_id"] == bob.id


async def test_someone_already_a_member_stays_one_after_the_access(
    graph: FakeGraph, granter: EntraGroupGranter, bob: User, sre: Group
) -> None:
    sre.members.add(bob.id)
    grant = access(sre)
    receipt = await granter.grant(grant)
    assert receipt["unchanged"] is True
    undone = await granter.revoke(back(grant, receipt))
    assert undone["unchanged"] is True
    assert bob.id in sre.members
    assert graph.changes == []


async def test_a_removal_by_hand_meanwhile_is_reported_and_not_undone(
    graph: FakeGraph, granter: EntraGroupGranter, bob: User, sre: Group
) -> None:
    grant = access(sre)
    receipt = await granter.grant(grant)
    sre.members.discard(bob.id)  # an admin took Bob out by hand while the access lasted
    undone = await granter.revoke(back(grant, receipt))
    assert undone["manual_change"] == (
        "bob@example.com in Entra ID group SRE break-glass was made not a member by hand while "
        "the access lasted; nothing was changed."
    )
    assert graph.changes == [("added", sre.id, bob.id)]


async def test_two_accesses_share_the_membership_and_the_last_to_end_removes_it(
    granter: EntraGroupGranter, bob: User, sre: Group
) -> None:
    first, second = access(sre, "r1"), access(sre, "r2")
    r1 = await granter.grant(first)
    r2 = await granter.grant(second)
    assert (await granter.revoke(back(first, r1)))["kept_for"] == ["r2"]
    assert bob.id in sre.members
    assert (await granter.revoke(back(second, r2)))["restored"] is None
    assert bob.id not in sre.members


async def test_a_lost_answer_to_the_add_is_retried_and_taken_for_done(
    graph: FakeGraph, granter: EntraGroupGranter, bob: User, sre: Group
) -> None:
    grant = access(sre)
    graph.lose_answer("POST", "/v1.0/groups/*/members/$ref")
    receipt = await granter.grant(grant)
    assert [r.status for r in graph.requests_to("/v1.0/groups/*/members/$ref")] == [502, 400]
    assert receipt["previous"] is None  # "already exists" after our own add: not theirs before
    await granter.revoke(back(grant, receipt))
    assert bob.id not in sre.members


async def test_a_grant_that_failed_midway_is_retried_without_taking_ours_for_theirs(
    graph: FakeGraph, granter: EntraGroupGranter, bob: User, sre: Group
) -> None:
    grant = access(sre)
    graph.lose_answer("POST", "/v1.0/groups/*/members/$ref")
    for attempt in range(2, 6):
        graph.fail("/v1.0/groups/*/members/$ref", 503, at=attempt)
    with pytest.raises(ProviderUnavailable):
        await granter.grant(grant)
    assert bob.id in sre.members  # Graph acted; every answer after was lost
    receipt = await granter.grant(grant)  # the service's retry, with no receipt yet
    assert receipt["previous"] is None
    await granter.revoke(back(grant, receipt))
    assert bob.id not in sre.members


async def test_a_revoke_retried_after_lost_answers_is_not_taken_for_a_hand_change(
    graph: FakeGraph, granter: EntraGroupGranter, bob: User, sre: Group
) -> None:
    grant = access(sre)
    receipt = await granter.grant(grant)
    graph.lose_answer("DELETE", "/v1.0/groups/*/members/*/$ref")
    for attempt in range(2, 6):
        graph.fail("/v1.0/groups/*/members/*/$ref", 503, at=attempt)
    with pytest.raises(ProviderUnavailable):
        await granter.revoke(back(grant, receipt))
    assert bob.id not in sre.members
    undone = await granter.revoke(back(grant, receipt))
    assert undone["restored"] is None and "manual_change" not in undone


async def test_429_is_waited_out_as_retry_after_says(
    graph: FakeGraph, granter: EntraGroupGranter, bob: User, sre: Group, vt: VirtualTime
) -> None:
    graph.fail("/v1.0/groups/*/members/$ref", 429, headers={"Retry-After": "7"})
    await granter.grant(access(sre))
    assert bob.id in sre.members
    assert vt.slept >= 7
    posts = [r.status for r in graph.requests_to("/v1.0/groups/*/members/$ref")]
    assert posts == [429, 204]


async def test_a_missing_write_permission_is_named(
    graph: FakeGraph, granter: EntraGroupGranter, bob: User, sre: Group, notes: SqlKeyValues
) -> None:
    graph.apps[CLIENT].roles = {"User.Read.All", "GroupMember.Read.All"}
    with pytest.raises(DomainError) as refused:
        await granter.grant(access(sre))
    assert str(refused.value) == (
        "Microsoft Graph refused to add members of group SRE break-glass (403): the app needs "
        "the application permission GroupMember.ReadWrite.All (with admin consent)."
    )
    assert await notes.get(f"entra-group:{sre.id}:{bob.id}") is None  # nothing to undo later


async def test_a_role_assignable_group_names_role_management(
    graph: FakeGraph, granter: EntraGroupGranter, bob: User
) -> None:
    admins = graph.add_group("Tier-0 admins", role_assignable=True)
    with pytest.raises(DomainError, match=r"RoleManagement\.ReadWrite\.Directory"):
        await granter.grant(access(admins))


async def test_a_missing_user_read_permission_is_named(
    graph: FakeGraph, granter: EntraGroupGranter, bob: User, sre: Group
) -> None:
    graph.apps[CLIENT].roles = {"GroupMember.ReadWrite.All"}
    with pytest.raises(DomainError, match=r"needs the application permission User\.ReadBasic\.All"):
        await granter.grant(access(sre))


async def test_dynamic_and_synced_groups_are_refused_before_anything_changes(
    graph: FakeGraph, granter: EntraGroupGranter, bob: User
) -> None:
    dynamic = graph.add_group("Everyone in SRE", dynamic=True)
    synced = graph.add_group("AD-SRE", on_premises=True)
    with pytest.raises(DomainError, match="dynamic membership"):
        await granter.grant(access(dynamic))
    with pytest.raises(DomainError, match="on-premises"):
        await granter.grant(access(synced))
    assert graph.changes == []


async def test_an_unknown_person_is_refused_in_one_sentence(
    granter: EntraGroupGranter, sre: Group
) -> None:
    with pytest.raises(DomainError) as refused:
        await granter.grant(access(sre, email="nobody@example.com"))
    assert str(refused.value) == (
        "Microsoft Entra ID has no user whose UPN or mail is nobody@example.com."
    )


async def test_a_quote_in_an_address_cannot_widen_the_filter(
    graph: FakeGraph, granter: EntraGroupGranter, bob: User, sre: Group
) -> None:
    with pytest.raises(DomainError, match="no user"):
        await granter.grant(access(sre, email="x' or mail eq 'bob@example.com"))
    assert bob.id not in sre.members


async def test_verify_names_the_permission_the_app_lacks(
    graph: FakeGraph, client_for: Callable[..., GraphClient]
) -> None:
    ok = await client_for().verify()
    assert ok.ok and "group members" in ok.capabilities
    graph.apps[CLIENT].roles = {"User.Read.All"}
    lacking = await client_for().verify()
    assert not lacking.ok
    assert "GroupMember.ReadWrite.All" in lacking.summary


async def test_a_wrong_secret_or_tenant_is_explained(
    graph: FakeGraph, client_for: Callable[..., GraphClient]
) -> None:
    with pytest.raises(DomainError) as wrong_secret:
        await client_for(client_secret="nope").verify()
    assert "AADSTS7000215" in str(wrong_secret.value) and "nope" not in str(wrong_secret.value)
    with pytest.raises(DomainError, match="no such tenant"):
        await client_for(tenant="00000000-0000-0000-0000-000000000000").verify()
    with pytest.raises(DomainError, match="no app with that client id"):
        await client_for(client_id="11111111-1111-1111-1111-111111111111").verify()


async def test_a_certificate_signs_in_instead_of_a_secret(
    graph: FakeGraph,
    client_for: Callable[..., GraphClient],
    bob: User,
    sre: Group,
    notes: SqlKeyValues,
) -> None:
    cert_pem, both = self_signed()
    graph.add_app(TENANT, "cert-app", certificate_pem=cert_pem)
    client = client_for(client_id="cert-app", client_secret="", certificate=both)
    assert (await client.verify()).ok
    granter = EntraGroupGranter(returning(client), notes)
    await granter.grant(access(sre))
    assert bob.id in sre.members
    _, other = self_signed()  # a certificate the app never uploaded
    with pytest.raises(DomainError, match="AADSTS700027"):
        await client_for(client_id="cert-app", client_secret="", certificate=other).verify()


async def test_an_expired_token_is_renewed_once(
    graph: FakeGraph, granter: EntraGroupGranter, bob: User, sre: Group
) -> None:
    await granter.grant(access(sre, "r1"))
    graph.fail("/v1.0/users*", 401)  # Graph says the token expired
    await granter.grant(access(sre, "r2"))
    assert graph.tokens_issued == 2


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({}, "needs `group: OBJECT_ID`"),
        ({"group": "SRE"}, "must be the group's object id"),
        ({"group": TENANT, "role": "owner"}, "takes only `group`"),
    ],
)
def test_policy_shapes_are_checked(spec: dict[str, Any], problem: str) -> None:
    found = spec_problem({"type": "entra-group", **spec})
    assert found is not None and problem in found
