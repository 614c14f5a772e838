"""PagerDuty incidents read live: assignment by user and service in one call, one incident by
id, assignees read back as emails; the fake's answers and the client's questions checked
against PagerDuty's OpenAPI spec."""

from __future__ import annotations

from collections.abc import Callable

from adapters.pagerduty import PagerDutyRosterProvider
from core.groups import GroupRef
from core.incidents import IncidentStatus
from tests.adapters.providerhttp.openapi import all_errors, pagerduty_spec
from tests.fakes.pagerduty import FakePagerDuty

Make = Callable[..., PagerDutyRosterProvider]
CHECKOUT = GroupRef.parse("pagerduty:service/Checkout API")


async def test_assignment_is_asked_per_user_and_service_and_read_as_emails(
    pd: FakePagerDuty, make: Make
) -> None:
    alice = pd.add_user("Alice", "Alice@Example.com")
    bob = pd.add_user("Bob", "bob@example.com")
    checkout, search = pd.add_service("Checkout API"), pd.add_service("Search")
    mine = pd.trigger(checkout, "Checkout is down", [alice, bob], acknowledged=True)
    pd.trigger(search, "Search is slow", [alice])
    pd.trigger(checkout, "Someone else's", [bob])
    provider = make()
    await provider.fetch()  # services and users come with the roster

    found = await provider.incidents.assigned("alice@example.com", [CHECKOUT])

    assert [(i.id, i.number, i.status) for i in found] == [
        (mine.id, mine.number, IncidentStatus.ACKNOWLEDGED)
    ]
    assert found[0].assignees == {"alice@example.com", "bob@example.com"}
    assert found[0].service == CHECKOUT
    [asked] = pd.requests_to("/incidents")
    assert asked.params("user_ids[]") == [alice.id]
    assert asked.params("service_ids[]") == [checkout.id]
    assert asked.params("statuses[]") == ["triggered", "acknowledged"]


async def test_one_incident_is_read_by_id_and_a_missing_one_is_none(
    pd: FakePagerDuty, make: Make
) -> None:
    alice = pd.add_user("Alice", "alice@example.com")
    incident = pd.trigger(pd.add_service("Checkout API"), "Checkout is down", [alice])
    provider = make()  # not synced: the assignee's email is looked up by id
    pd.resolve(incident)

    found = await provider.incidents.get(incident.id)

    assert found is not None and found.status is IncidentStatus.RESOLVED
    assert not found.is_open and found.assignees == frozenset()
    assert await provider.incidents.get("PNOTHERE") is None


async def test_a_service_created_since_the_sync_is_found_by_name(
    pd: FakePagerDuty, make: Make
) -> None:
    alice = pd.add_user("Alice", "alice@example.com")
    provider = make()
    await provider.fetch()
    late = pd.add_service("Checkout API")
    pd.trigger(late, "Checkout is down", [alice])

    assert len(await provider.incidents.open_on([CHECKOUT])) == 1


async def test_incident_answers_and_questions_match_the_spec(pd: FakePagerDuty, make: Make) -> None:
    alice = pd.add_user("Alice", "alice@example.com")
    checkout = pd.add_service("Checkout API")
    incident = pd.trigger(checkout, "Checkout is down", [alice])
    provider = make()
    await provider.fetch()
    await provider.incidents.assigned("alice@example.com", [CHECKOUT])
    await provider.incidents.open_on([CHECKOUT])
    await provider.incidents.get(incident.id)
    await provider.incidents.get("PNOTHERE")
    spec = pagerduty_spec()
    seen = [r for r in pd.requests if r.path.startswith(("/incidents", "/services"))]
    assert {r.path for r in seen} >= {"/incidents", "/services", f"/incidents/{incident.id}"}
    assert all_errors(seen, spec.response_errors) == []
    assert all_errors(seen, spec.request_errors) == []
