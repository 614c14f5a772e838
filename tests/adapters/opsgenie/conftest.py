from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.opsgenie import OpsgenieClient, OpsgenieRosterProvider
from adapters.providerhttp import RetryPolicy
from adapters.providerhttp.virtualtime import VirtualTime
from tests.fakes.opsgenie import FakeOpsgenie, Participant, Schedule, Team, User

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime(NOW)


@pytest.fixture
async def og(vt: VirtualTime) -> AsyncIterator[FakeOpsgenie]:
    async with FakeOpsgenie(now=lambda: NOW, clock=vt.monotonic) as fake:
        yield fake


@pytest.fixture
async def make(
    og: FakeOpsgenie, vt: VirtualTime
) -> AsyncIterator[Callable[..., OpsgenieRosterProvider]]:
    made: list[OpsgenieRosterProvider] = []

    def factory(*, api_key: str = "testkey", **kw: Any) -> OpsgenieRosterProvider:
        kw.setdefault("retry", RetryPolicy(random=lambda: 0.5))
        client = OpsgenieClient(
            api_key=api_key, base_url=og.url, clock=vt.monotonic, sleep=vt.sleep, **kw
        )
        made.append(OpsgenieRosterProvider(client, now=lambda: NOW))
        return made[-1]

    yield factory
    for provider in made:
        await provider.aclose()


@pytest.fixture
async def make_with(vt: VirtualTime) -> AsyncIterator[Callable[..., OpsgenieRosterProvider]]:
    """Providers against a fake the test starts itself (its own limits or size)."""
    made: list[OpsgenieRosterProvider] = []

    def factory(fake: FakeOpsgenie, **kw: Any) -> OpsgenieRosterProvider:
        kw.setdefault("retry", RetryPolicy(random=lambda: 0.5))
        client = OpsgenieClient(
            api_key="testkey", base_url=fake.url, clock=vt.monotonic, sleep=vt.sleep, **kw
        )
        made.append(OpsgenieRosterProvider(client, now=lambda: NOW))
        return made[-1]

    yield factory
    for provider in made:
        await provider.aclose()


@dataclass
class SmallOrg:
    alice: User
    bob: User
    carol: User
    sre: Team
    primary: Schedule
    team_rota: Schedule


def seed_small(og: FakeOpsgenie, *, odd: bool = True) -> SmallOrg:
    alice = og.add_user("Alice@Example.com", "Alice Admin", role="admin")
    bob = og.add_user("bob@example.com", "Bob User")
    carol = og.add_user("carol@example.com", "Carol Observer", role="observer")
    if odd:
        og.add_user("ghost-no-email", "Ghost")
    sre = og.add_team("SRE", [(alice, "admin"), (bob, "user")])
    primary = og.add_schedule("Primary", [alice, bob], owner=sre)
    og.add_oncall(primary, alice, NOW - 20 * HOUR, NOW + 4 * HOUR)
    og.add_oncall(primary, bob, NOW + 4 * HOUR, NOW + 28 * HOUR)
    team_rota = og.add_schedule("Team Rota", [sre, Participant("escalation", "e1", "Esc")])
    og.add_oncall(team_rota, bob, NOW - HOUR, NOW + 2 * HOUR)
    og.add_schedule("Quiet", [carol])
    og.add_custom_role("Incident Commander", "user", ["alert-escalate"])
    return SmallOrg(alice, bob, carol, sre, primary, team_rota)
