"""OpsgenieRosterProvider against the fake: schedules, shift ends, teams, paging, checks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from adapters.opsgenie import OpsgenieClient, OpsgenieRosterProvider
from adapters.opsgenie.client import rate_domain
from adapters.providerhttp import RateLimit
from adapters.providerhttp.virtualtime import VirtualTime
from core.groups import GroupRef, Provider
from core.roster import Roster
from tests.adapters.opsgenie.conftest import HOUR, NOW, seed_small
from tests.fakes.opsgenie import FakeOpsgenie, Participant, generate_org

Make = Callable[..., OpsgenieRosterProvider]
PRIMARY = GroupRef.parse("opsgenie:schedule/Primary")
TEAM_ROTA = GroupRef.parse("opsgenie:schedule/Team Rota")
SRE = GroupRef.parse("opsgenie:team/SRE")


async def test_fetch_builds_schedules_with_shift_ends_and_teams(
    og: FakeOpsgenie, make: Make
) -> None:
    seed_small(og)
    provider = make()
    assert provider.provider is Provider.OPSGENIE
    result = await provider.fetch()
    snap = result.snapshot
    roster = Roster.of([snap])

    shift = roster.on_call("alice@example.com", PRIMARY, NOW)
    assert shift is not None and (shift.start, shift.end) == (NOW - 20 * HOUR, NOW + 4 * HOUR)
    assert roster.on_call("bob@example.com", PRIMARY, NOW) is None
    assert snap.groups[PRIMARY].members == {"alice@example.com", "bob@example.com"}
    assert snap.groups[TEAM_ROTA].members == {"alice@example.com", "bob@example.com"}  # via team
    assert roster.on_call("bob@example.com", TEAM_ROTA, NOW) is not None
    quiet = snap.groups[GroupRef.parse("opsgenie:schedule/Quiet")]
    assert quiet.members == {"carol@example.com"} and quiet.shifts == ()

    assert snap.groups[SRE].members == {"alice@example.com", "bob@example.com"}
    assert provider.directory.team_roles[("SRE", "alice@example.com")] == "admin"
    assert provider.directory.roles["carol@example.com"] == "Observer"
    assert provider.directory.custom_roles == ("Incident Commander",)
    assert any("ghost-no-email" not in w and "Ghost" in w for w in snap.warnings)

    paths = [r.path for r in og.requests]
    assert "/v2/schedules/on-calls" in paths and "/v2/roles" in paths
    oncalls = og.requests_to("/v2/schedules/on-calls")[0]
    assert oncalls.param("flat") == "true"
    assert oncalls.param("date") == "2030-01-07T12:00:00+00:00"  # the `+` arrived escaped
    assert result.api_calls == len(og.requests)


async def test_users_are_followed_through_paging_next(og: FakeOpsgenie, make: Make) -> None:
    for i in range(250):
        og.add_user(f"u{i}@example.com")
    snap = (await make().fetch()).snapshot
    assert len(snap.people) == 250
    pages = og.requests_to("/v2/users")
    assert [r.param("offset") for r in pages] == ["0", "100", "200"]
    assert pages[1].param("sortField") == "username"  # taken verbatim from `paging.next`


async def test_partial_data_is_skipped_with_warnings(og: FakeOpsgenie, make: Make) -> None:
    org = seed_small(og)
    og.add_schedule("Odd", [Participant("robot", "r1", "R2D2")])
    og.fail(f"/v2/schedules/{org.team_rota.id}/timeline", 404)
    og.fail(f"/v2/teams/{org.sre.id}", 404)
    snap = (await make().fetch()).snapshot
    warnings = "\n".join(snap.warnings)
    assert "'Odd'" in warnings and "robot" in warnings
    assert "Team Rota" in warnings and "vanished" in warnings
    assert "SRE" in warnings
    assert Roster.of([snap]).on_call("alice@example.com", PRIMARY, NOW) is not None


async def test_confirm_on_call(og: FakeOpsgenie, make: Make) -> None:
    seed_small(og)
    provider = make()
    await provider.fetch()
    shift = await provider.confirm_on_call("alice@example.com", PRIMARY, NOW)
    assert shift is not None and shift.end == NOW + 4 * HOUR
    assert await provider.confirm_on_call("bob@example.com", PRIMARY, NOW) is None
    assert await provider.confirm_on_call("alice@example.com", SRE, NOW) is None
    fresh = make()  # no sync yet: the schedule is named, not looked up by id
    assert await fresh.confirm_on_call("alice@example.com", PRIMARY, NOW) is not None
    by_name = og.requests[-2:]
    assert {r.param("scheduleIdentifierType") or r.param("identifierType") for r in by_name} == {
        "name"
    }


async def test_verify_names_the_access_the_key_needs(og: FakeOpsgenie, make: Make) -> None:
    good = await make().verify()
    assert good.ok and "schedules" in good.capabilities
    og.api_keys["readonly"] = {"read"}
    refused = await make(api_key="readonly").verify()
    assert not refused.ok
    assert refused.summary.startswith("The Opsgenie API key needs Read and Configuration Access.")
    bad = await make(api_key="Wr0ngKey").verify()
    assert not bad.ok and "401" in bad.summary and "Wr0ngKey" not in bad.summary


async def test_429_waits_for_the_throttle_period(
    og: FakeOpsgenie, make: Make, vt: VirtualTime
) -> None:
    seed_small(og)
    og.fail("/v2/schedules", 429, headers={"X-RateLimit-Period-In-Sec": "12"})
    snap = (await make().fetch()).snapshot
    assert PRIMARY in snap.groups
    assert vt.elapsed >= 12
    throttled = [r for r in og.requests if r.status == 429]
    assert len(throttled) == 1


@pytest.mark.parametrize(
    ("region", "host"), [("us", "api.opsgenie.com"), ("eu", "api.eu.opsgenie.com")]
)
async def test_region_selects_the_host(region: str, host: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": [], "took": 0.0, "requestId": "r"})

    client = OpsgenieClient(api_key="k9", region=region, transport=httpx.MockTransport(handler))
    async with client:
        await client.data("/v2/teams")
    assert seen[0].url.host == host and seen[0].url.scheme == "https"
    assert seen[0].headers["Authorization"] == "GenieKey k9"
    override = OpsgenieClient(api_key="k", region="eu", base_url="https://og.proxy/")
    assert override.base_url == "https://og.proxy"
    await override.aclose()


async def test_each_request_domain_spends_its_own_budget(
    vt: VirtualTime, make_with: Callable[..., OpsgenieRosterProvider]
) -> None:
    """Opsgenie limits Search (the user list), Schedule-oncalls and Configuration apart: at 20
    a minute each, 7 user pages and 35 configuration reads (the services list among them)
    finish within the second minute without a 429, where one shared budget of 20 would need a
    third minute."""
    async with FakeOpsgenie(now=lambda: NOW, clock=vt.monotonic, rate_limit=(20, 60.0)) as fake:
        generate_org(fake, users=700, schedules=30, teams=1, seed=4, now=NOW)
        provider = make_with(fake, rate_limit=RateLimit(20, 60.0))
        result = await provider.fetch()
    assert result.snapshot.counts["people"] == 700
    assert result.snapshot.counts["shifts"] == 30
    assert fake.throttled == 0
    domains = Counter(rate_domain(r.path) for r in fake.requests)
    assert domains == {"search": 7, "schedule-oncalls": 1, "configuration": 35}
    assert vt.elapsed < 120
