from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.jsm import JsmRosterProvider
from adapters.providerhttp import RetryPolicy
from adapters.providerhttp.virtualtime import VirtualTime
from tests.fakes.jsm import FakeJsm, Participant, Schedule, Team, User

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
AGENT = "agent@example.com"
TOKEN = "token-1"
_ORG = object()

Make = Callable[..., JsmRosterProvider]


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime(NOW)


@pytest.fixture
async def jsm(vt: VirtualTime) -> AsyncIterator[FakeJsm]:
    async with FakeJsm(now=lambda: NOW, clock=vt.monotonic) as fake:
        yield fake


@pytest.fixture
async def make(jsm: FakeJsm, vt: VirtualTime) -> AsyncIterator[Make]:
    made: list[JsmRosterProvider] = []

    def factory(
        *, email: str = AGENT, api_token: str = TOKEN, org_id: Any = _ORG, **kw: Any
    ) -> JsmRosterProvider:
        kw.setdefault("retry", RetryPolicy(random=lambda: 0.5))
        provider = JsmRosterProvider.from_settings(
            site="acme",
            email=email,
            api_token=api_token,
            base_url=jsm.url,
            org_id=jsm.org_id if org_id is _ORG else org_id,
            now=lambda: NOW,
            clock=vt.monotonic,
            sleep=vt.sleep,
            **kw,
        )
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.aclose()


@dataclass
class SmallSite:
    alice: User
    bob: User
    carol: User
    dana: User
    sre: Team
    primary: Schedule
    team_rota: Schedule
    escalated: Schedule


def seed_small(jsm: FakeJsm) -> SmallSite:
    alice = jsm.add_user("Alice@Example.com", "Alice Admin")
    bob = jsm.add_user("bob@example.com", "Bob User")
    carol = jsm.add_user("carol@example.com", "Carol Quiet")
    dana = jsm.add_user("dana@example.com", "Dana Private", email_visible=False)
    sre = jsm.add_team("SRE", [alice, bob, dana])
    primary = jsm.add_schedule("Primary", [alice, bob], team=sre)
    jsm.add_oncall(primary, alice, NOW - 20 * HOUR, NOW + 4 * HOUR)
    jsm.add_oncall(primary, bob, NOW + 4 * HOUR, NOW + 28 * HOUR)
    team_rota = jsm.add_schedule("Team Rota", [sre, Participant("escalation", "e1")])
    jsm.add_oncall(team_rota, sre, NOW - HOUR, NOW + 2 * HOUR)
    jsm.add_schedule("Quiet", [carol])
    escalated = jsm.add_schedule("Escalated", [bob])
    jsm.add_escalation_oncall(escalated, [bob], NOW - 2 * HOUR, NOW + HOUR)
    return SmallSite(alice, bob, carol, dana, sre, primary, team_rota, escalated)
