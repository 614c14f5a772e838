"""The pagerduty-role granter against the stateful fake: a base role or a team role for a while,
restored exactly, never over a change made by hand, safe to retry, named as the web app names
roles, and explained when the credentials may not write."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from adapters.pagerduty import PagerDutyRosterProvider
from adapters.pagerduty.granter import KEY_NEEDS, PagerDutyRoleGranter
from adapters.providerhttp import ProviderUnavailable
from adapters.storage.engine import make_engine
from adapters.storage.kv import SqlKeyValues
from adapters.storage.migrate import upgrade
from core.errors import DomainError
from core.ports import Grant
from tests.adapters.pagerduty.conftest import HOUR, NOW
from tests.fakes.pagerduty import FakePagerDuty, Team, User


@pytest.fixture
async def notes(sqlite_url: str) -> AsyncIterator[SqlKeyValues]:
    engine = make_engine(sqlite_url)
    await upgrade(engine)
    try:
        yield SqlKeyValues(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def granter(
    make: Callable[..., PagerDutyRosterProvider], notes: SqlKeyValues
) -> PagerDutyRoleGranter:
    client = make().client
    return PagerDutyRoleGranter(lambda: client, notes)


@pytest.fixture
def bob(pd: FakePagerDuty) -> User:
    return pd.add_user("Bob Responder", "bob@example.com", role="limited_user")


@pytest.fixture
def platform(pd: FakePagerDuty, bob: User) -> Team:
    return pd.add_team("Platform", [(bob, "responder")])


def access(request_id: str = "r1", email: str = "bob@example.com", **spec: Any) -> Grant:
    return Grant(
        request_id=request_id,
        resource="pd-manager",
        email=email,
        start=NOW,
        end=NOW + HOUR,
        approvers=("lead@example.com",),
        reason="INC-1",
        spec={"type": "pagerduty-role", **(spec or {"role": "user"})},
    )


def back(grant: Grant, receipt: dict[str, Any]) -> Grant:
    return dataclasses.replace(grant, receipt=receipt)


async def test_a_base_role_is_given_and_the_one_before_is_restored_exactly(
    pd: FakePagerDuty, granter: PagerDutyRoleGranter, bob: User, notes: SqlKeyValues
) -> None:
    grant = access()
    receipt = await granter.grant(grant)
    assert bob.role == "user"
    assert receipt == {
        "type": "pagerduty-role",
        "user_id": bob.id,
        "role": "user",
        "previous_role": "limited_user",
    }
    undone = await granter.revoke(back(grant, receipt))
    assert undone == {"type": "pagerduty-role", "role": "user", "restored": "limited_user"}
    assert pd.role_changes == [
        (bob.id, "account", "limited_user", "user"),
        (bob.id, "account", "user", "limited_user"),
    ]
    assert await notes.get(f"pagerduty-role:user:{bob.id}") is None


async def test_a_base_role_changed_by_hand_is_left_alone_and_named_as_people_see_it(
    pd: FakePagerDuty, granter: PagerDutyRoleGranter, bob: User
) -> None:
    grant = access()
    receipt = await granter.grant(grant)
    bob.role = "observer"
    undone = await granter.revoke(back(grant, receipt))
    assert undone["manual_change"] == (
        "bob@example.com's PagerDuty role is now Observer, not Manager as granted, so it was "
        "left as it is instead of going back to Responder."
    )
    assert bob.role == "observer" and len(pd.role_changes) == 1


async def test_a_team_role_is_raised_for_a_while_and_lowered_again(
    pd: FakePagerDuty, granter: PagerDutyRoleGranter, bob: User, platform: Team
) -> None:
    grant = access(team="Platform", team_role="manager")
    receipt = await granter.grant(grant)
    assert pd.team_role(platform, bob) == "manager"
    assert receipt["team_id"] == platform.id and receipt["previous_role"] == "responder"
    await granter.revoke(back(grant, receipt))
    assert pd.team_role(platform, bob) == "responder"
    assert bob.role == "limited_user"  # the base role is not touched by a team grant


async def test_someone_added_to_a_team_for_a_while_leaves_it_again(
    pd: FakePagerDuty, granter: PagerDutyRoleGranter, platform: Team
) -> None:
    carol = pd.add_user("Carol", "carol@example.com", role="limited_user")
    grant = access(email="carol@example.com", team="Platform", team_role="responder")
    receipt = await granter.grant(grant)
    assert pd.team_role(platform, carol) == "responder" and receipt["previous_role"] is None
    await granter.revoke(back(grant, receipt))
    assert pd.team_role(platform, carol) is None
    assert pd.role_changes == [
        (carol.id, "Platform", None, "responder"),
        (carol.id, "Platform", "responder", None),
    ]


async def test_a_team_role_changed_by_hand_is_left_alone_and_reported(
    pd: FakePagerDuty, granter: PagerDutyRoleGranter, bob: User, platform: Team
) -> None:
    grant = access(team="Platform", team_role="manager")
    receipt = await granter.grant(grant)
    pd.set_team_role(platform, bob, "observer")
    undone = await granter.revoke(back(grant, receipt))
    assert undone["manual_change"] == (
        "bob@example.com's role on PagerDuty team Platform is now Observer, not Manager as "
        "granted, so it was left as it is instead of going back to Responder."
    )
    assert pd.team_role(platform, bob) == "observer"


async def test_a_grant_retried_after_a_lost_answer_keeps_the_role_from_before(
    pd: FakePagerDuty, granter: PagerDutyRoleGranter, bob: User
) -> None:
    grant = access()
    pd.lose_answer("PUT", "/users/*")
    with pytest.raises(ProviderUnavailable):
        await granter.grant(grant)
    assert bob.role == "user"
    receipt = await granter.grant(grant)
    assert receipt["previous_role"] == "limited_user"
    await granter.revoke(back(grant, receipt))
    assert bob.role == "limited_user"


async def test_read_only_credentials_are_explained_and_leave_no_note(
    pd: FakePagerDuty, granter: PagerDutyRoleGranter, bob: User, notes: SqlKeyValues
) -> None:
    pd.read_only_keys.add("testkey")
    with pytest.raises(DomainError) as refused:
        await granter.grant(access())
    assert refused.value.message == KEY_NEEDS
    assert bob.role == "limited_user"
    assert await notes.get(f"pagerduty-role:user:{bob.id}") is None


async def test_someone_whose_role_ranks_higher_keeps_it(
    pd: FakePagerDuty, granter: PagerDutyRoleGranter, platform: Team
) -> None:
    alice = pd.add_user("Alice", "alice@example.com", role="admin")
    pd.add_team_member(platform, alice, "manager")
    for spec in ({"role": "user"}, {"team": "Platform", "team_role": "responder"}):
        grant = access(email="alice@example.com", **spec)
        receipt = await granter.grant(grant)
        assert receipt["unchanged"] is True
        assert (await granter.revoke(back(grant, receipt)))["unchanged"] is True
    assert alice.role == "admin" and pd.team_role(platform, alice) == "manager"
    assert pd.role_changes == []


@pytest.mark.parametrize(
    ("spec", "sentence"),
    [
        ({"role": "owner"}, "no base role 'owner' to give"),
        ({"role": "user", "team": "Platform"}, "either `role: ROLE` or `team: NAME`"),
        ({"team": "Platform", "team_role": "boss"}, "observer, responder or manager, not 'boss'"),
        ({"team": "Nowhere", "team_role": "manager"}, "no team named 'Nowhere'"),
    ],
)
async def test_a_grant_that_cannot_work_is_explained(
    granter: PagerDutyRoleGranter, platform: Team, spec: dict[str, str], sentence: str
) -> None:
    with pytest.raises(DomainError) as refused:
        await granter.grant(access(**spec))
    assert sentence in refused.value.message
