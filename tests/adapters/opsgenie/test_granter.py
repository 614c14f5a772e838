"""The opsgenie-role granter against the stateful fake: a role for a while, restored exactly,
never over a change made by hand, safe to retry, and explained when it cannot work."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from adapters.opsgenie import OpsgenieRosterProvider
from adapters.opsgenie.granter import KEY_NEEDS, OpsgenieRoleGranter
from adapters.providerhttp import ProviderUnavailable
from adapters.storage.engine import make_engine
from adapters.storage.kv import SqlKeyValues
from adapters.storage.migrate import upgrade
from core.errors import DomainError
from core.ports import Grant
from tests.adapters.opsgenie.conftest import HOUR, NOW
from tests.fakes.opsgenie import FakeOpsgenie, User
from tests.fakes.opsgenie.server import NEEDED_RIGHTS, WRITE_RIGHTS

IC = "Incident Commander"


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
    og: FakeOpsgenie, make: Callable[..., OpsgenieRosterProvider], notes: SqlKeyValues
) -> OpsgenieRoleGranter:
    og.api_keys["testkey"] = set(WRITE_RIGHTS)
    provider = make()
    return OpsgenieRoleGranter(lambda: provider.client, notes)


@pytest.fixture
def bob(og: FakeOpsgenie) -> User:
    og.add_custom_role(IC, "user", ["alert-action", "alert-close", "alert-delete"])
    return og.add_user("bob@example.com", "Bob User")


def access(request_id: str = "r1", email: str = "bob@example.com", **spec: Any) -> Grant:
    return Grant(
        request_id=request_id,
        resource="opsgenie-ic",
        email=email,
        start=NOW,
        end=NOW + HOUR,
        approvers=("lead@example.com",),
        reason="INC-1",
        spec={"type": "opsgenie-role", "role": IC, **spec},
    )


def back(grant: Grant, receipt: dict[str, Any]) -> Grant:
    """The same access as the service hands it to revoke(): with what grant() returned."""
    return dataclasses.replace(grant, receipt=receipt)


async def test_the_role_is_given_and_the_one_before_is_restored_exactly(
    og: FakeOpsgenie, granter: OpsgenieRoleGranter, bob: User, notes: SqlKeyValues
) -> None:
    og.add_custom_role("Responder", "user", ["alert-action", "alert-acknowledge"])
    bob.role = "Responder"
    grant = access()
    receipt = await granter.grant(grant)
    assert bob.role == IC
    assert receipt == {
        "type": "opsgenie-role",
        "user_id": bob.id,
        "role": IC,
        "previous_role": "Responder",
    }
    undone = await granter.revoke(back(grant, receipt))
    assert undone == {"type": "opsgenie-role", "role": IC, "restored": "Responder"}
    assert og.role_changes == [
        ("bob@example.com", "Responder", IC),
        ("bob@example.com", IC, "Responder"),
    ]
    assert await notes.get(f"opsgenie-role:{bob.id}") is None


async def test_a_built_in_role_is_restored_as_it_was(
    og: FakeOpsgenie, granter: OpsgenieRoleGranter, bob: User
) -> None:
    grant = access()
    receipt = await granter.grant(grant)
    assert receipt["previous_role"] == "User"
    await granter.revoke(back(grant, receipt))
    assert bob.role == "user"
    [patch] = [r for r in og.requests_to(f"/v2/users/{bob.id}") if r.method == "PATCH"][-1:]
    assert patch.sent == {"role": {"name": "user"}}


async def test_a_role_changed_by_hand_meanwhile_is_left_alone_and_reported(
    og: FakeOpsgenie, granter: OpsgenieRoleGranter, bob: User, notes: SqlKeyValues
) -> None:
    grant = access()
    receipt = await granter.grant(grant)
    bob.role = "admin"  # an admin promoted Bob by hand while the access lasted
    undone = await granter.revoke(back(grant, receipt))
    assert bob.role == "admin"
    assert undone["manual_change"] == (
        "bob@example.com's Opsgenie role is now Admin, not Incident Commander as granted, "
        "so it was left as it is instead of going back to User."
    )
    assert "restored" not in undone
    assert og.role_changes == [("bob@example.com", "user", IC)]  # only the grant wrote
    assert await notes.get(f"opsgenie-role:{bob.id}") is None


async def test_a_grant_retried_after_a_lost_answer_keeps_the_role_from_before(
    og: FakeOpsgenie, granter: OpsgenieRoleGranter, bob: User
) -> None:
    grant = access()
    og.lose_answer("PATCH", "/v2/users/*")
    with pytest.raises(ProviderUnavailable):
        await granter.grant(grant)
    assert bob.role == IC  # Opsgenie acted; only its answer was lost
    receipt = await granter.grant(grant)  # the service's retry, with no receipt yet
    assert receipt["previous_role"] == "User"
    await granter.revoke(back(grant, receipt))
    assert bob.role == "user"


async def test_a_revoke_retried_after_a_lost_answer_reports_no_manual_change(
    og: FakeOpsgenie, granter: OpsgenieRoleGranter, bob: User
) -> None:
    grant = access()
    receipt = await granter.grant(grant)
    og.lose_answer("PATCH", "/v2/users/*")
    with pytest.raises(ProviderUnavailable):
        await granter.revoke(back(grant, receipt))
    assert bob.role == "user"
    undone = await granter.revoke(back(grant, receipt))
    assert undone == {"type": "opsgenie-role", "role": IC, "restored": "User"}


async def test_missing_prerequisite_rights_are_explained_before_anyone_changes(
    og: FakeOpsgenie, granter: OpsgenieRoleGranter, notes: SqlKeyValues
) -> None:
    og.add_custom_role("Cleaner", "user", ["alert-delete"])
    bob = og.add_user("bob@example.com")
    with pytest.raises(DomainError) as refused:
        await granter.grant(access(role="Cleaner"))
    assert refused.value.message == (
        "The Opsgenie role 'Cleaner' lacks rights that its rights require (alert-delete needs "
        "alert-close, which needs alert-action): add alert-close and alert-action."
    )
    assert bob.role == "user" and og.role_changes == []
    assert await notes.get(f"opsgenie-role:{bob.id}") is None


async def test_a_role_the_policy_would_create_is_checked_before_it_is_created(
    og: FakeOpsgenie, granter: OpsgenieRoleGranter, bob: User
) -> None:
    spec = {"role": "Watcher", "extends": "observer", "rights": ["alert-action"], "ensure": True}
    with pytest.raises(DomainError, match="extends observer, but alert-action needs a role"):
        await granter.grant(access(**spec))
    assert og.requests_to("/v2/roles") == [] and bob.role == "user"


async def test_a_key_without_create_and_update_is_explained_and_leaves_no_note(
    og: FakeOpsgenie, granter: OpsgenieRoleGranter, bob: User, notes: SqlKeyValues
) -> None:
    og.api_keys["testkey"] = set(NEEDED_RIGHTS)  # Read and Configuration Access only
    with pytest.raises(DomainError) as refused:
        await granter.grant(access())
    assert refused.value.message == KEY_NEEDS
    assert "Create and Update" in KEY_NEEDS
    assert bob.role == "user"
    assert await notes.get(f"opsgenie-role:{bob.id}") is None
    og.api_keys["testkey"] = set(WRITE_RIGHTS)  # the admin fixes the key; the retry works
    receipt = await granter.grant(access())
    assert receipt["previous_role"] == "User" and bob.role == IC


async def test_an_unknown_custom_role_is_explained(granter: OpsgenieRoleGranter, bob: User) -> None:
    with pytest.raises(DomainError, match="no custom user role named 'Ghost'"):
        await granter.grant(access(role="Ghost"))


async def test_ensure_creates_the_role_and_updates_it_when_the_policy_changes(
    og: FakeOpsgenie, granter: OpsgenieRoleGranter, bob: User
) -> None:
    rights = ["alert-action", "alert-acknowledge"]
    grant = access(role="Acker", rights=rights, ensure=True)
    receipt = await granter.grant(grant)
    [acker] = [r for r in og.custom_roles if r.name == "Acker"]
    assert (acker.extended_role, acker.granted) == ("user", rights)
    assert bob.role == "Acker"
    await granter.revoke(back(grant, receipt))
    more = [*rights, "alert-close"]
    await granter.grant(access("r2", role="Acker", rights=more, ensure=True))
    assert acker.granted == more and bob.role == "Acker"
    writes = [(r.method, r.path) for r in og.requests if r.path.startswith("/v2/roles")]
    assert [w for w in writes if w[0] != "GET"] == [
        ("POST", "/v2/roles"),
        ("PUT", f"/v2/roles/{acker.id}"),
    ]


async def test_someone_who_already_has_the_role_or_more_keeps_it_after_the_access(
    og: FakeOpsgenie, granter: OpsgenieRoleGranter, bob: User
) -> None:
    bob.role = IC
    alice = og.add_user("alice@example.com", "Alice", role="admin")
    for who in ("bob@example.com", "alice@example.com"):
        grant = access(email=who)
        receipt = await granter.grant(grant)
        assert receipt["unchanged"] is True
        assert (await granter.revoke(back(grant, receipt)))["unchanged"] is True
    assert (bob.role, alice.role) == (IC, "admin") and og.role_changes == []


async def test_two_grants_of_one_role_share_it_and_the_last_to_end_restores(
    og: FakeOpsgenie, granter: OpsgenieRoleGranter, bob: User
) -> None:
    first, second = access("r1"), access("r2")
    first_receipt = await granter.grant(first)
    second_receipt = await granter.grant(second)
    assert second_receipt["previous_role"] == "User"  # not the role r1 gave
    kept = await granter.revoke(back(first, first_receipt))
    assert kept["kept_for"] == ["r2"] and bob.role == IC
    await granter.revoke(back(second, second_receipt))
    assert bob.role == "user"


async def test_a_second_temporary_role_waits_for_the_first_to_end(
    og: FakeOpsgenie, granter: OpsgenieRoleGranter, bob: User
) -> None:
    og.add_custom_role("Acker", "user", ["alert-action", "alert-acknowledge"])
    await granter.grant(access("r1"))
    with pytest.raises(DomainError, match="roles do not stack"):
        await granter.grant(access("r2", role="Acker"))
    assert bob.role == IC


async def test_a_person_opsgenie_does_not_know_is_explained(
    granter: OpsgenieRoleGranter, bob: User
) -> None:
    with pytest.raises(DomainError, match=r"Opsgenie has no user nobody@example\.com"):
        await granter.grant(access(email="nobody@example.com"))


async def test_a_policy_without_a_role_or_with_the_owner_role_is_refused(
    granter: OpsgenieRoleGranter, bob: User
) -> None:
    with pytest.raises(DomainError, match="needs `role: NAME`"):
        await granter.grant(access(role=""))
    with pytest.raises(DomainError, match="owner role cannot be given"):
        await granter.grant(access(role="Owner"))
