"""JsmRosterProvider against the fake site: schedules, shift ends, teams, people, paging, 429."""

from __future__ import annotations

import re

import httpx
import pytest

from adapters.providerhttp import NotFound, Unauthorized, retry_after
from adapters.providerhttp.virtualtime import VirtualTime
from core.groups import GroupRef, Provider
from core.roster import Roster
from tests.adapters.jsm.conftest import HOUR, NOW, TOKEN, Make, seed_small
from tests.fakes.jsm import FakeJsm, Participant

PRIMARY = GroupRef.parse("jsm:schedule/Primary")
TEAM_ROTA = GroupRef.parse("jsm:schedule/Team Rota")
ESCALATED = GroupRef.parse("jsm:schedule/Escalated")
QUIET = GroupRef.parse("jsm:schedule/Quiet")
SRE = GroupRef.parse("jsm:team/SRE")


async def test_fetch_builds_schedules_with_shift_ends_teams_and_people(
    jsm: FakeJsm, make: Make
) -> None:
    seed_small(jsm)
    provider = make()
    assert provider.provider is Provider.JSM
    result = await provider.fetch()
    snap = result.snapshot
    roster = Roster.of([snap])

    shift = roster.on_call("alice@example.com", PRIMARY, NOW)
    assert shift is not None and (shift.start, shift.end) == (NOW - 20 * HOUR, NOW + 4 * HOUR)
    assert roster.on_call("bob@example.com", PRIMARY, NOW) is None
    assert snap.groups[PRIMARY].members == {"alice@example.com", "bob@example.com"}
    # a team in the rotation contributes its members; the team on call puts them on call
    assert snap.groups[TEAM_ROTA].members == {"alice@example.com", "bob@example.com"}
    team_shift = roster.on_call("bob@example.com", TEAM_ROTA, NOW)
    assert team_shift is not None and team_shift.end == NOW + 2 * HOUR
    # users nested under an on-call escalation are on call
    escalated = roster.on_call("bob@example.com", ESCALATED, NOW)
    assert escalated is not None and escalated.end == NOW + HOUR
    assert snap.groups[QUIET].members == {"carol@example.com"} and snap.groups[QUIET].shifts == ()
    assert snap.groups[SRE].members == {"alice@example.com", "bob@example.com"}
    assert snap.people["alice@example.com"].name == "Alice Admin"

    assert provider.directory.schedule_ids["Primary"]
    assert result.api_calls == len(jsm.requests)
    tenant = jsm.requests_to("/_edge/tenant_info")
    assert len(tenant) == 1 and "Authorization" not in tenant[0].headers  # public endpoint
    oncalls = jsm.requests_to("*/on-calls")[0]
    assert oncalls.path.startswith(f"/jsm/ops/api/{jsm.cloud_id}/v1/schedules/")
    assert oncalls.param("date") == "2030-01-07T12:00:00Z"


async def test_hidden_emails_are_reported_by_name_and_can_be_mapped_by_hand(
    jsm: FakeJsm, make: Make
) -> None:
    site = seed_small(jsm)
    snap = (await make().fetch()).snapshot
    hidden = [w for w in snap.warnings if "Dana Private" in w]
    assert len(hidden) == 1
    assert f"map jsm:{site.dana.account_id} to their e-mail" in hidden[0]
    assert "hides their e-mail" in hidden[0]
    assert "jsm:team/SRE" in hidden[0] and "jsm:schedule/Team Rota" in hidden[0]
    assert "dana@example.com" not in snap.groups[SRE].members

    mapped = make(account_emails={site.dana.account_id: "Dana@Example.com"})
    snap = (await mapped.fetch()).snapshot
    assert "dana@example.com" in snap.groups[SRE].members
    assert not any("Dana" in w for w in snap.warnings)
    assert Roster.of([snap]).on_call("dana@example.com", TEAM_ROTA, NOW) is not None

    provider = make()  # mapped later, while running
    await provider.fetch()
    provider.map_accounts({site.dana.account_id: "dana@example.com"})
    snap = (await provider.fetch()).snapshot
    assert "dana@example.com" in snap.groups[SRE].members
    assert await provider.confirm_on_call("dana@example.com", TEAM_ROTA, NOW) is not None


async def test_emails_are_cached_between_syncs_but_hidden_ones_are_asked_again(
    jsm: FakeJsm, make: Make
) -> None:
    site = seed_small(jsm)
    provider = make()
    await provider.fetch()
    first = [r for r in jsm.requests_to("/rest/api/3/user/bulk")]
    asked = {i for r in first for i in r.params("accountId")}
    assert {site.alice.account_id, site.dana.account_id} <= asked
    jsm.requests.clear()
    await provider.fetch()
    again = {i for r in jsm.requests_to("/rest/api/3/user/bulk") for i in r.params("accountId")}
    assert again == {site.dana.account_id}


async def test_schedules_are_followed_across_pages_keeping_expand(jsm: FakeJsm, make: Make) -> None:
    jsm.schedules_page_max = 2
    crew = [jsm.add_user(f"u{i}@example.com", f"User {i}") for i in range(5)]
    for i, user in enumerate(crew):
        jsm.add_schedule(f"Schedule {i}", [user])
    snap = (await make().fetch()).snapshot
    pages = jsm.requests_to("*/v1/schedules")
    assert [r.param("offset") for r in pages] == ["0", "2", "4"]
    assert all(r.param("expand") == "rotation" for r in pages)  # carried over from page one
    for i in range(5):
        group = snap.groups[GroupRef.parse(f"jsm:schedule/Schedule {i}")]
        assert group.members == {f"u{i}@example.com"}  # rotations came with every page


async def test_a_429_in_the_middle_of_paging_waits_and_the_sync_completes(
    jsm: FakeJsm, make: Make, vt: VirtualTime
) -> None:
    jsm.schedules_page_max = 2
    for i in range(5):
        jsm.add_schedule(f"Schedule {i}", [jsm.add_user(f"u{i}@example.com")])
    jsm.fail("*/v1/schedules", 429, at=2, headers={"Retry-After": "9"})
    snap = (await make().fetch()).snapshot
    assert len([g for g in snap.groups if g.kind.value == "schedule"]) == 5
    throttled = [r for r in jsm.requests if r.status == 429]
    assert len(throttled) == 1 and throttled[0].param("offset") == "2"
    assert vt.elapsed >= 9
    retried = [r for r in jsm.requests_to("*/v1/schedules") if r.param("offset") == "2"]
    assert [r.status for r in retried] == [429, 200]


async def test_real_429_headers_come_from_the_rate_limit(jsm: FakeJsm, make: Make) -> None:
    jsm.rate_limit = (3, 60.0)
    seed_small(jsm)
    snap = (await make().fetch()).snapshot
    assert PRIMARY in snap.groups
    throttled = [r for r in jsm.requests if r.status == 429]
    assert throttled
    assert jsm.max_in_window <= 3


def test_the_fakes_429_headers_are_atlassians(jsm: FakeJsm) -> None:
    headers = jsm.throttle_headers(2.4)
    assert headers["Retry-After"] == "3" and headers["X-RateLimit-Remaining"] == "0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ", headers["X-RateLimit-Reset"])
    assert retry_after(httpx.Headers(headers)) == 3.0  # what the HTTP layer will wait


async def test_partial_data_is_skipped_with_warnings(jsm: FakeJsm, make: Make) -> None:
    site = seed_small(jsm)
    jsm.add_schedule("Odd", [Participant("robot", "r1")])
    jsm.fail(f"*/v1/schedules/{site.team_rota.id}/timeline", 404)
    snap = (await make().fetch()).snapshot
    warnings = "\n".join(snap.warnings)
    assert "'Odd'" in warnings and "robot" in warnings
    assert "Team Rota" in warnings and "vanished" in warnings
    assert Roster.of([snap]).on_call("alice@example.com", PRIMARY, NOW) is not None
    assert TEAM_ROTA in snap.groups and snap.groups[TEAM_ROTA].shifts == ()


async def test_team_members_need_the_organization_id(jsm: FakeJsm, make: Make) -> None:
    seed_small(jsm)
    snap = (await make(org_id=None).fetch()).snapshot
    assert snap.groups[SRE].members == frozenset()
    warnings = "\n".join(snap.warnings)
    assert "organization id" in warnings
    assert "team 'SRE' on call, whose members could not be read" in warnings
    assert not jsm.requests_to("/gateway/*")
    roster = Roster.of([snap])
    assert roster.on_call("alice@example.com", PRIMARY, NOW) is not None  # schedules unaffected
    assert roster.on_call("alice@example.com", TEAM_ROTA, NOW) is None  # fail closed


async def test_a_team_larger_than_one_page_is_read_page_by_page(jsm: FakeJsm, make: Make) -> None:
    jsm.members_page_size = 2
    people = [jsm.add_user(f"m{i}@example.com") for i in range(5)]
    jsm.add_team("Big", people)
    snap = (await make().fetch()).snapshot
    assert len(snap.groups[GroupRef.parse("jsm:team/Big")].members) == 5
    assert not any("'Big'" in w for w in snap.warnings)
    assert len(jsm.requests_to("/gateway/*")) == 3  # pages of 2, 2 and 1


async def test_a_refused_token_fails_the_sync_without_leaking_it(jsm: FakeJsm, make: Make) -> None:
    seed_small(jsm)
    with pytest.raises(Unauthorized) as raised:
        await make(api_token="Wr0ngT0ken").fetch()
    assert "401" in str(raised.value) and "Wr0ngT0ken" not in str(raised.value)
    assert "Wr0ngT0ken" not in repr(raised.value.__dict__)


async def test_a_wrong_cloud_id_is_not_found(jsm: FakeJsm, make: Make) -> None:
    with pytest.raises(NotFound):
        await make(cloud_id="00000000-0000-0000-0000-000000000000").fetch()
    assert not jsm.requests_to("/_edge/tenant_info")  # a given cloud id is not looked up


async def test_confirm_on_call(jsm: FakeJsm, make: Make) -> None:
    site = seed_small(jsm)
    provider = make()
    await provider.fetch()
    shift = await provider.confirm_on_call("ALICE@example.com", PRIMARY, NOW)
    assert shift is not None and shift.end == NOW + 4 * HOUR
    assert await provider.confirm_on_call("bob@example.com", PRIMARY, NOW) is None
    assert await provider.confirm_on_call("alice@example.com", SRE, NOW) is None
    later = await provider.confirm_on_call("bob@example.com", PRIMARY, NOW + 5 * HOUR)
    assert later is not None and later.end == NOW + 28 * HOUR

    fresh = make()  # no sync yet: the schedule is found by name, the people by account id
    assert await fresh.confirm_on_call("alice@example.com", PRIMARY, NOW) is not None
    lookup = jsm.requests_to("*/v1/schedules")[-1]
    assert lookup.param("query") == "Primary"
    jsm.remove_schedule(site.primary.id)
    assert await make().confirm_on_call("alice@example.com", PRIMARY, NOW) is None


async def test_tenant_info_is_looked_up_once_per_provider(jsm: FakeJsm, make: Make) -> None:
    seed_small(jsm)
    provider = make()
    await provider.fetch()
    await provider.fetch()
    await provider.confirm_on_call("alice@example.com", PRIMARY, NOW)
    assert len(jsm.requests_to("/_edge/tenant_info")) == 1
    assert all(
        r.headers.get("Authorization", "").startswith("Basic ")
        for r in jsm.requests
        if r.path != "/_edge/tenant_info"
    )
    assert TOKEN not in str([r.headers for r in jsm.requests])  # only ever base64-encoded
