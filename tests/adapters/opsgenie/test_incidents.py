"""Who responds to an Opsgenie incident, as the Incident API models it: user responders, and the
members of team responders; escalation and schedule responders name nobody. Services are
matched by the ids in `impactedServices`, including a service created since the last sync."""

from __future__ import annotations

from collections.abc import Callable

from adapters.opsgenie import OpsgenieRosterProvider
from core.groups import GroupRef
from core.incidents import IncidentStatus
from tests.adapters.opsgenie.conftest import NOW
from tests.fakes.opsgenie import FakeOpsgenie

Make = Callable[..., OpsgenieRosterProvider]
CHECKOUT = [GroupRef.parse("opsgenie:service/Checkout")]


async def test_user_and_team_responders_respond_and_nobody_else(
    og: FakeOpsgenie, make: Make
) -> None:
    alice, bob = og.add_user("alice@example.com"), og.add_user("bob@example.com")
    carol, dave = og.add_user("carol@example.com"), og.add_user("dave@example.com")
    sre = og.add_team("SRE", [(carol, "user")])
    checkout = og.add_service("Checkout", sre)
    incident = og.open_incident([checkout], "Checkout is down", [alice, sre], NOW)
    og.incidents[incident.id].responders.append(("escalation", "esc-1"))
    provider = make()
    await provider.fetch()

    found = await provider.incidents.open_on(CHECKOUT)

    assert [(i.id, i.status, i.number, i.title) for i in found] == [
        (incident.id, IncidentStatus.OPEN, 1, "Checkout is down")
    ]
    assert found[0].assignees == {"alice@example.com", "carol@example.com"}
    assert found[0].service == CHECKOUT[0]
    for email, responds in [(alice, True), (carol, True), (bob, False), (dave, False)]:
        assert bool(await provider.incidents.assigned(email.username, CHECKOUT)) is responds


async def test_what_the_sync_did_not_see_is_read_live(og: FakeOpsgenie, make: Make) -> None:
    provider = make()
    await provider.fetch()  # an empty account
    erin = og.add_user("erin@example.com")
    frank = og.add_user("frank@example.com")
    ops = og.add_team("Ops", [(frank, "user")])
    checkout = og.add_service("Checkout", ops)
    og.open_incident([checkout], "Checkout is down", [erin, ops], NOW)

    found = await provider.incidents.open_on(CHECKOUT)

    assert found[0].assignees == {"erin@example.com", "frank@example.com"}
    assert og.requests_to("/v1/services") and og.requests_to(f"/v2/teams/{ops.id}")


async def test_a_service_nobody_has_asks_no_incidents(og: FakeOpsgenie, make: Make) -> None:
    provider = make()
    await provider.fetch()

    assert await provider.incidents.assigned("alice@example.com", CHECKOUT) == []
    assert og.requests_to("/v1/incidents") == []


async def test_a_resolved_or_deleted_incident_reads_as_such(og: FakeOpsgenie, make: Make) -> None:
    alice = og.add_user("alice@example.com")
    checkout = og.add_service("Checkout", og.add_team("SRE"))
    incident = og.open_incident([checkout], "Checkout is down", [alice], NOW)
    og.resolve_incident(incident, NOW)
    provider = make()
    await provider.fetch()

    got = await provider.incidents.get(incident.id)

    assert got is not None and got.status is IncidentStatus.RESOLVED and not got.is_open
    assert got.service == CHECKOUT[0]
    del og.incidents[incident.id]
    assert await provider.incidents.get(incident.id) is None


async def test_a_plan_without_the_service_api_still_syncs_the_roster(
    og: FakeOpsgenie, make: Make
) -> None:
    og.add_user("alice@example.com")
    og.add_service("Checkout", og.add_team("SRE"))
    og.fail("/v1/services", 402)

    fetched = await make().fetch()

    assert [p.email for p in fetched.snapshot.people.values()] == ["alice@example.com"]
    assert GroupRef.parse("opsgenie:service/Checkout") not in fetched.snapshot.groups
    assert any("Opsgenie services were not synced" in w for w in fetched.snapshot.warnings)
