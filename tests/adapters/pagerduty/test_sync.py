"""A whole sync of a larger organisation through throttling and failures, on virtual time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.providerhttp import RateLimit, RetryPolicy
from adapters.providerhttp.virtualtime import VirtualTime
from tests.adapters.pagerduty.conftest import NOW, provider_for
from tests.fakes.pagerduty import FakePagerDuty, generate_org

BUDGET = RateLimit(120, 60.0)  # a small budget so the limiter really has to work


@pytest.fixture
async def busy(vt: VirtualTime) -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty(
        api_keys={"testkey"}, now=lambda: NOW, clock=vt.monotonic, rate_limit=(120, 60.0)
    ) as fake:
        yield fake


async def test_many_pages_with_a_429_and_a_500_complete_within_the_limit(
    busy: FakePagerDuty, vt: VirtualTime
) -> None:
    shape = generate_org(
        busy, users=2_400, schedules=330, escalation_policies=100, seed=11, now=NOW
    )
    busy.fail("/oncalls", 429, at=3, headers={"ratelimit-reset": "7"})
    busy.fail("/users", 500, at=9)
    provider = provider_for(busy, vt, rate_limit=BUDGET, retry=RetryPolicy(random=lambda: 0.5))
    try:
        result = await provider.fetch()
    finally:
        await provider.aclose()
    snap = result.snapshot

    # every page of every list was read
    assert len(snap.people) == shape.users
    users = busy.requests_to("/users")
    (failed,) = [int(r.param("offset") or 0) for r in users if r.status == 500]
    offsets = sorted(int(r.param("offset") or 0) for r in users)
    assert offsets == sorted([*range(0, 2_400, 100), failed])  # the failed page asked again
    assert len(busy.requests_to("/oncalls")) == -(-shape.oncall_entries // 100) + 1
    # every person on call, at every level of every policy
    expected = {
        (p.name, lvl) for p in busy.policies.values() for lvl in range(1, len(p.levels) + 1)
    }
    got = {
        (ref.name, shift.level)
        for ref, group in snap.groups.items()
        if ref.kind.value == "escalation_policy"
        for shift in group.shifts
    }
    assert got == expected
    assert snap.counts["shifts"] >= shape.oncall_entries
    # within the limit: the fake never had to throttle us; only the injected 429 happened
    assert busy.throttled == 0
    assert busy.max_in_window <= 120
    assert sorted(r.status for r in busy.requests if r.status >= 400) == [429, 500]
    assert result.api_calls == len(busy.requests)
    # every 120 past the first waited for a minute to pass, and no longer than needed
    minutes = (len(busy.requests) - 1) // BUDGET.requests
    assert minutes * 60.0 <= vt.elapsed <= minutes * 60.0 + 10.0
    assert snap.warnings == ()


async def test_throttled_by_the_provider_we_wait_as_told(
    busy: FakePagerDuty, vt: VirtualTime
) -> None:
    generate_org(busy, users=300, schedules=40, escalation_policies=12, seed=2, now=NOW)
    # a client with no limiter of its own runs into the fake's limit and must honour 429s
    provider = provider_for(
        busy, vt, rate_limit=None, retry=RetryPolicy(attempts=30, random=lambda: 0.5)
    )
    busy.rate_limit = (10, 60.0)
    try:
        result = await provider.fetch()
    finally:
        await provider.aclose()
    assert busy.throttled > 0
    assert len(result.snapshot.people) == 300


async def test_budget_spent_by_another_client_on_the_key_is_left_alone(
    busy: FakePagerDuty, vt: VirtualTime
) -> None:
    shape = generate_org(busy, users=1_500, schedules=200, escalation_policies=60, seed=5, now=NOW)
    neighbour = provider_for(busy, vt, rate_limit=None)
    try:
        for _ in range(90):  # another deployment on the same key spends 90 of the 120
            await neighbour.client.get("/users", [("limit", 1)])
    finally:
        await neighbour.aclose()
    provider = provider_for(busy, vt, rate_limit=BUDGET)
    try:
        result = await provider.fetch()
    finally:
        await provider.aclose()
    # our own count alone would have sent 120 at once; the fake's ratelimit-remaining said 30
    assert busy.throttled == 0
    assert busy.max_in_window <= 120
    assert len(result.snapshot.people) == shape.users
