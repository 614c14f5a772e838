"""Syncs after a full one read only what can have changed: who is on call for the window, while
PagerDuty's audit trail shows no user, team, schedule, escalation policy or service changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from adapters.pagerduty import PagerDutyClient, PagerDutyRosterProvider
from adapters.providerhttp import RetryPolicy
from adapters.providerhttp.virtualtime import VirtualTime
from core.groups import GroupRef
from core.ports import FetchResult
from core.roster import Roster
from core.sync import SyncOutcome
from tests.adapters.pagerduty.conftest import HOUR, NOW, seed_small
from tests.fakes.pagerduty import FakePagerDuty, generate_org

SHIFT_BASED = GroupRef.parse("pagerduty:schedule/Shift Based")
PLATFORM = GroupRef.parse("pagerduty:team/Platform")
UNUSED = GroupRef.parse("pagerduty:schedule/Unused Rota")


class Clock:
    """The one "now" the fake and the provider share, moved by the test."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def fake(vt: VirtualTime, clock: Clock) -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty(api_keys={"testkey"}, now=clock, clock=vt.monotonic) as pd:
        seed_small(pd)
        generate_org(pd, users=230, schedules=30, escalation_policies=9, seed=4, now=NOW)
        yield pd


@pytest.fixture
async def provider(
    fake: FakePagerDuty, vt: VirtualTime, clock: Clock
) -> AsyncIterator[PagerDutyRosterProvider]:
    made = fresh(fake, vt, clock)
    yield made
    await made.aclose()


def fresh(fake: FakePagerDuty, vt: VirtualTime, clock: Clock) -> PagerDutyRosterProvider:
    client = PagerDutyClient(api_key="testkey", base_url=fake.url, clock=vt.monotonic,
                             sleep=vt.sleep, retry=RetryPolicy(random=lambda: 0.5))  # fmt: skip
    return PagerDutyRosterProvider(client, now=clock)


async def fetch_counting(provider: PagerDutyRosterProvider, fake: FakePagerDuty) -> FetchResult:
    before = len(fake.requests)
    result = await provider.fetch()
    assert result.api_calls == len(fake.requests) - before  # what the fake saw, no more
    return result


async def test_with_nothing_changed_only_the_oncalls_are_read_again(
    provider: PagerDutyRosterProvider, fake: FakePagerDuty, vt: VirtualTime, clock: Clock
) -> None:
    full = await fetch_counting(provider, fake)
    assert full.calls_saved == 0
    clock.now = NOW + 3 * HOUR  # the shift-based schedule's shift (to NOW + 1h) is over
    unused = next(x for x in fake.schedules.values() if x.name == "Unused Rota")
    dave = next(u for u in fake.users.values() if u.email == "dave@example.com")
    fake.add_oncall(unused, dave, NOW + 2 * HOUR, NOW + 4 * HOUR)  # an override, not audited
    seen = len(fake.requests)
    again = await fetch_counting(provider, fake)
    paths = [r.path for r in fake.requests[seen:]]
    assert set(paths) == {"/audit/records", "/oncalls", "/schedules"}
    assert paths.count("/audit/records") == 1
    assert again.calls_saved == full.api_calls - again.api_calls > 0

    roster = Roster.of([again.snapshot])
    assert roster.on_call("dave@example.com", SHIFT_BASED, clock.now) is None
    assert roster.on_call("dave@example.com", UNUSED, clock.now) is not None
    other = fresh(fake, vt, clock)  # a full sync at the same moment agrees
    try:
        expected = (await other.fetch()).snapshot
    finally:
        await other.aclose()
    assert again.snapshot.groups == expected.groups
    assert again.snapshot.people == expected.people
    assert again.snapshot.warnings == expected.warnings

    outcome = SyncOutcome(
        again.snapshot.provider,
        True,
        again.snapshot.counts,
        again.api_calls,
        0.5,
        calls_saved=again.calls_saved,
    )
    assert f"{again.calls_saved:,} saved" in outcome.summary()


async def test_a_change_in_the_audit_trail_means_a_full_sync(
    provider: PagerDutyRosterProvider, fake: FakePagerDuty, clock: Clock
) -> None:
    full = await fetch_counting(provider, fake)
    clock.now = NOW + HOUR
    team = next(t for t in fake.teams.values() if t.name == "Platform")
    carol = next(u for u in fake.users.values() if u.email == "carol@example.com")
    fake.add_team_member(team, carol)
    fake.changed("teams", team.id)
    again = await fetch_counting(provider, fake)
    assert again.calls_saved == 0 and again.api_calls == full.api_calls + 1  # + the audit trail
    assert "carol@example.com" in again.snapshot.groups[PLATFORM].members


async def test_without_the_audit_trail_every_sync_is_full(
    provider: PagerDutyRosterProvider, fake: FakePagerDuty
) -> None:
    fake.audit_trail = False  # a plan without the Audit Trail feature answers 402
    full = await fetch_counting(provider, fake)
    second = await fetch_counting(provider, fake)
    third = await fetch_counting(provider, fake)
    assert second.calls_saved == third.calls_saved == 0
    assert len(fake.requests_to("/audit/records")) == 1  # asked once, then not again
    assert third.api_calls == full.api_calls
