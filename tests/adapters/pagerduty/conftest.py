from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.pagerduty import PagerDutyClient, PagerDutyRosterProvider
from adapters.providerhttp import RetryPolicy
from adapters.providerhttp.virtualtime import VirtualTime
from tests.fakes.pagerduty import FakePagerDuty, Schedule, Team, User

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime(NOW)


@pytest.fixture
async def pd(vt: VirtualTime) -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty(api_keys={"testkey"}, now=lambda: NOW, clock=vt.monotonic) as fake:
        yield fake


@pytest.fixture
async def make(
    pd: FakePagerDuty, vt: VirtualTime
) -> AsyncIterator[Callable[..., PagerDutyRosterProvider]]:
    """Providers on the fake and the virtual clock, closed after the test."""
    made: list[PagerDutyRosterProvider] = []

    def factory(**kw: Any) -> PagerDutyRosterProvider:
        made.append(provider_for(pd, vt, **kw))
        return made[-1]

    yield factory
    for provider in made:
        await provider.aclose()


def provider_for(
    fake: FakePagerDuty, vt: VirtualTime, *, api_key: str = "testkey", **kw: Any
) -> PagerDutyRosterProvider:
    kw.setdefault("retry", RetryPolicy(random=lambda: 0.5))
    client = PagerDutyClient(
        api_key=api_key, base_url=fake.url, clock=vt.monotonic, sleep=vt.sleep, **kw
    )
    return PagerDutyRosterProvider(client, now=lambda: NOW)


@dataclass
class SmallOrg:
    alice: User
    bob: User
    carol: User
    dave: User
    ghost: User
    primary: Schedule
    secondary: Schedule
    unused: Schedule
    shift_based: Schedule
    platform: Team


def seed_small(pd: FakePagerDuty, *, odd: bool = True) -> SmallOrg:
    """Two layered schedules behind one policy, a direct user target, an unused schedule,
    a shift-based (v3) schedule behind another policy, a team, and (`odd`) a user without
    e-mail — data outside the spec, which requires one, but which a sync must survive."""
    alice = pd.add_user("Alice Admin", "Alice@Example.com", role="admin")
    bob = pd.add_user("Bob Responder", "bob@example.com", role="limited_user")
    carol = pd.add_user("Carol Manager", "carol@example.com", role="user")
    dave = pd.add_user("Dave Observer", "dave@example.com", role="observer")
    ghost = pd.add_user("Ghost", None if odd else "ghost@example.com")
    primary = pd.add_schedule("Primary SRE", [alice, bob])
    pd.add_oncall(primary, alice, NOW - 24 * HOUR, NOW + 24 * HOUR)
    pd.add_oncall(primary, bob, NOW + 24 * HOUR, NOW + 48 * HOUR)  # next week's, not now
    secondary = pd.add_schedule("Secondary SRE", [bob, carol])
    pd.add_oncall(secondary, bob, NOW - 2 * HOUR, NOW + 10 * HOUR)
    unused = pd.add_schedule("Unused Rota", [carol, dave])
    pd.add_oncall(unused, carol, NOW - 3 * HOUR, NOW + 5 * HOUR)
    shift_based = pd.add_schedule("Shift Based", [dave], v3=True)
    pd.add_oncall(shift_based, dave, NOW - HOUR, NOW + HOUR)
    platform = pd.add_team("Platform", [(alice, "manager"), (bob, "responder")])
    pd.add_escalation_policy("SRE Policy", [[primary], [secondary], [carol]], teams=[platform])
    pd.add_escalation_policy("Data Policy", [[shift_based]])
    return SmallOrg(
        alice, bob, carol, dave, ghost, primary, secondary, unused, shift_based, platform
    )
