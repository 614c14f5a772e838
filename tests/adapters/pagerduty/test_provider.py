"""PagerDutyRosterProvider against the fake: groups, shifts, partial data, live checks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters.pagerduty import PagerDutyClient, PagerDutyRosterProvider, role_display
from adapters.providerhttp import ProviderUnavailable
from core.groups import GroupRef, Provider
from core.ports import RosterProvider
from core.roster import Roster
from tests.adapters.pagerduty.conftest import HOUR, NOW, seed_small
from tests.fakes.pagerduty import FakePagerDuty, Target

Make = Callable[..., PagerDutyRosterProvider]
SRE = GroupRef.parse("pagerduty:escalation_policy/SRE Policy")
PRIMARY = GroupRef.parse("pagerduty:schedule/Primary SRE")


async def test_fetch_builds_schedules_policies_and_teams(pd: FakePagerDuty, make: Make) -> None:
    org = seed_small(pd)
    provider: RosterProvider = make()
    assert provider.provider is Provider.PAGERDUTY
    result = await provider.fetch()
    snap = result.snapshot
    roster = Roster.of([snap])

    primary = snap.groups[PRIMARY]
    assert primary.members == {"alice@example.com", "bob@example.com"}
    (shift,) = roster.shifts_of("alice@example.com", PRIMARY)
    assert (shift.start, shift.end) == (NOW - 24 * HOUR, NOW + 24 * HOUR)  # exact, from /oncalls
    assert roster.on_call("bob@example.com", PRIMARY, NOW) is None

    levels = {s.email: s.level for s in snap.groups[SRE].shifts}
    assert levels == {"alice@example.com": 1, "bob@example.com": 2, "carol@example.com": 3}
    direct = roster.on_call("carol@example.com", SRE, NOW)
    assert direct is not None and direct.end is None  # a direct user target is permanent
    assert snap.groups[SRE].members >= {"alice@example.com", "bob@example.com", "carol@example.com"}

    unused = GroupRef.parse("pagerduty:schedule/Unused Rota")
    (carol,) = snap.groups[unused].shifts
    assert (carol.start, carol.end) == (NOW - 3 * HOUR, NOW + 5 * HOUR)  # not cut to the window
    assert snap.groups[unused].members == {"carol@example.com", "dave@example.com"}

    v3 = GroupRef.parse("pagerduty:schedule/Shift Based")
    assert roster.on_call("dave@example.com", v3, NOW) is not None
    data = GroupRef.parse("pagerduty:escalation_policy/Data Policy")
    assert roster.on_call("dave@example.com", data, NOW) is not None

    team = GroupRef.parse("pagerduty:team/Platform")
    assert snap.groups[team].members == {"alice@example.com", "bob@example.com"}
    assert provider.directory.team_roles[("Platform", "bob@example.com")] == "responder"
    assert provider.directory.roles["alice@example.com"] == "Global Admin"
    assert provider.directory.roles["bob@example.com"] == "Responder"

    assert snap.people["alice@example.com"].name == "Alice Admin"
    assert any("Ghost" in w and "e-mail" in w for w in snap.warnings)
    # 7 lists (users, on-calls, teams, schedules, policies, shift-based schedules, services)
    # + 1 team: the unused schedule's final schedule came with the schedules' page
    assert result.api_calls == len(pd.requests) == 8
    assert f"/schedules/{org.unused.id}" not in {r.path for r in pd.requests}


async def test_an_unused_schedules_shift_longer_than_the_listed_window_is_read_exactly(
    pd: FakePagerDuty, make: Make
) -> None:
    org = seed_small(pd)
    long = pd.add_schedule("Quarterly Rota", [org.carol])
    pd.add_oncall(long, org.carol, NOW - 40 * 24 * HOUR, NOW + 50 * 24 * HOUR)
    snap = (await make().fetch()).snapshot
    (shift,) = snap.groups[GroupRef.parse("pagerduty:schedule/Quarterly Rota")].shifts
    assert (shift.start, shift.end) == (NOW - 40 * 24 * HOUR, NOW + 50 * 24 * HOUR)
    details = [r.path for r in pd.requests if r.path.startswith("/schedules/")]
    assert details == [f"/schedules/{long.id}"]  # only the one cut by the window


async def test_a_shift_based_schedule_no_policy_uses_is_listed_with_its_on_call(
    pd: FakePagerDuty, make: Make
) -> None:
    org = seed_small(pd)
    lone = pd.add_schedule("Weekend Shifts", [org.bob], v3=True)
    pd.add_oncall(lone, org.bob, NOW - 2 * HOUR, NOW + 30 * HOUR)
    pd.add_schedule("Empty Shifts", [], v3=True)

    snap = (await make().fetch()).snapshot
    roster = Roster.of([snap])

    weekend = GroupRef.parse("pagerduty:schedule/Weekend Shifts")
    shift = roster.on_call("bob@example.com", weekend, NOW)
    assert shift is not None and (shift.start, shift.end) == (NOW - 2 * HOUR, NOW + 30 * HOUR)
    assert snap.groups[weekend].members == {"bob@example.com"}
    assert roster.has_group(GroupRef.parse("pagerduty:schedule/Empty Shifts"))
    assert roster.on_call_now(GroupRef.parse("pagerduty:schedule/Empty Shifts"), NOW) == []
    details = [r for r in pd.requests_to("/v3/schedules/*")]
    assert [r.path for r in details] == [
        f"/v3/schedules/{lone.id}",
        "/v3/schedules/" + next(s.id for s in pd.schedules.values() if s.name == "Empty Shifts"),
    ]  # used ones: /oncalls
    assert all(r.param("include[]") == "final_schedule" for r in details)


async def test_an_account_without_shift_based_schedules_still_syncs(
    pd: FakePagerDuty, make: Make
) -> None:
    seed_small(pd)
    pd.fail("/v3/schedules", 403)
    snap = (await make().fetch()).snapshot
    assert GroupRef.parse("pagerduty:schedule/Primary SRE") in snap.groups
    assert any("shift-based schedules were not listed" in w for w in snap.warnings)


def test_role_display_names() -> None:
    expected = {
        "owner": "Account Owner",
        "admin": "Global Admin",
        "user": "Manager",
        "limited_user": "Responder",
        "observer": "Observer",
        "restricted_access": "Restricted Access",
        "read_only_user": "Stakeholder",
        "read_only_limited_user": "Limited Stakeholder",
    }
    assert {role: role_display(role) for role in expected} == expected
    assert role_display("team_responder") == "team_responder"
    assert role_display(None) == "Unknown role"


async def test_partial_data_is_skipped_with_warnings(pd: FakePagerDuty, make: Make) -> None:
    org = seed_small(pd)
    pd.add_escalation_policy(
        "Odd Policy", [[Target("service_reference", "PSVC001", "Mail"), org.primary]]
    )
    nomail = pd.add_user("No Mail", None)
    pd.add_escalation_policy("No Mail Policy", [[nomail]])
    gone = pd.add_schedule("Gone Rota", [org.dave])
    pd.add_oncall(gone, org.dave, NOW - 40 * 24 * HOUR, NOW + 50 * 24 * HOUR)  # needs its detail
    pd.fail(f"/schedules/{gone.id}", 404)  # deleted between the list and the detail
    pd.fail(f"/teams/{org.platform.id}/members", 404)

    result = await make().fetch()
    warnings = "\n".join(result.snapshot.warnings)
    assert "Odd Policy" in warnings and "service_reference" in warnings
    assert "No Mail" in warnings
    assert "Gone Rota" in warnings and "vanished" in warnings
    assert "Platform" in warnings
    assert PRIMARY in result.snapshot.groups  # the rest of the roster is intact
    assert GroupRef.parse("pagerduty:escalation_policy/Odd Policy") in result.snapshot.groups


async def test_same_display_name_is_merged_with_a_warning(pd: FakePagerDuty, make: Make) -> None:
    org = seed_small(pd)
    pd.add_schedule("Primary SRE", [org.carol])
    snap = (await make().fetch()).snapshot
    assert "carol@example.com" in snap.groups[PRIMARY].members
    assert any("more than one schedule named 'Primary SRE'" in w for w in snap.warnings)


async def test_confirm_on_call(pd: FakePagerDuty, make: Make) -> None:
    seed_small(pd)
    provider = make()
    await provider.fetch()
    before = len(pd.requests)
    shift = await provider.confirm_on_call("ALICE@example.com", PRIMARY, NOW)
    assert shift is not None and shift.end == NOW + 24 * HOUR
    assert await provider.confirm_on_call("bob@example.com", PRIMARY, NOW) is None
    level = await provider.confirm_on_call("bob@example.com", SRE, NOW)
    assert level is not None and level.level == 2
    team = GroupRef.parse("pagerduty:team/Platform")
    assert await provider.confirm_on_call("alice@example.com", team, NOW) is None
    calls = pd.requests[before:]
    assert [r.path for r in calls] == ["/oncalls"] * 3
    assert calls[0].params("user_ids[]") and calls[0].params("schedule_ids[]")


async def test_confirm_looks_the_user_up_without_a_previous_sync(
    pd: FakePagerDuty, make: Make
) -> None:
    seed_small(pd)
    provider = make()
    shift = await provider.confirm_on_call("alice@example.com", PRIMARY, NOW)
    assert shift is not None
    assert [r.path for r in pd.requests] == ["/users", "/oncalls"]
    assert await provider.confirm_on_call("nobody@example.com", PRIMARY, NOW) is None


async def test_confirm_answers_within_its_deadline() -> None:
    async with FakePagerDuty(api_keys={"k"}, now=lambda: NOW, latency=5.0) as slow:
        seed_small(slow)
        provider = PagerDutyRosterProvider(
            PagerDutyClient(api_key="k", base_url=slow.url), now=lambda: NOW, confirm_deadline=0.3
        )
        import time

        started = time.monotonic()
        with pytest.raises(ProviderUnavailable):
            await provider.confirm_on_call("alice@example.com", PRIMARY, NOW)
        assert time.monotonic() - started < 5.0  # the fake answers after 5 s: cut short
        await provider.aclose()


async def test_verify_reports_what_the_key_can_read(pd: FakePagerDuty, make: Make) -> None:
    ok = await make().verify()
    assert ok.ok and "users.read" in ok.capabilities and "oncalls.read" in ok.capabilities

    bad = await make(api_key="Wr0ngKey123").verify()
    assert not bad.ok and "401" in bad.summary and "Wr0ngKey123" not in bad.summary

    pd.deny("teams")
    partial = await make().verify()
    assert partial.ok and "cannot read teams (403)" in partial.summary

    pd.deny("oncalls")
    missing = await make().verify()
    assert not missing.ok and "oncalls.read" not in missing.capabilities


async def test_teams_ability_missing_still_syncs(pd: FakePagerDuty, make: Make) -> None:
    seed_small(pd)
    pd.fail("/teams", 402)
    snap = (await make().fetch()).snapshot
    assert any("teams were not synced" in w for w in snap.warnings)
    assert PRIMARY in snap.groups


async def test_fetch_fails_whole_when_a_roster_list_fails(pd: FakePagerDuty, make: Make) -> None:
    seed_small(pd)
    pd.deny("oncalls")
    from adapters.providerhttp import Forbidden

    with pytest.raises(Forbidden):
        await make().fetch()


async def test_confirm_honours_a_level_scope(pd: FakePagerDuty, make: Make) -> None:
    seed_small(pd)
    provider = make()
    await provider.fetch()
    first = GroupRef.parse("pagerduty:escalation_policy/SRE Policy@1")
    assert await provider.confirm_on_call("alice@example.com", first, NOW) is not None
    assert await provider.confirm_on_call("bob@example.com", first, NOW) is None  # level 2
