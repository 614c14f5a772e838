"""Replicas on one database act as one: a connection changed on one replica is used by every
other within a tick, a sync slot runs once across the fleet, and the work of a replica that died
passes to another once its short lease runs out.

Two bots built through the real composition root share one database (a real SQLite file and a
real PostgreSQL) and one controllable clock; each has its own scheduler, as two processes would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from adapters.storage.crypto import new_key
from bot.scheduler import LEASE_SECONDS, Scheduler
from bot.settings import Settings
from bot.wiring import Bot, build
from core.connections import ConnectForm
from core.groups import Provider
from core.policy import Policy
from tests.adapters.pagerduty.conftest import NOW, seed_small
from tests.conftest import FakeClock
from tests.fakes.pagerduty import FakePagerDuty

ADMIN = "admin@example.com"


@pytest.fixture
async def pagerduty() -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty(api_keys={"first-key"}, now=lambda: NOW) as fake:
        seed_small(fake)
        yield fake


@pytest.fixture
async def fleet(
    database_url: str, pagerduty: FakePagerDuty
) -> AsyncIterator[tuple[FakeClock, list[Bot]]]:
    clock = FakeClock(NOW)
    settings = Settings(
        ONCALL_ACCESS_DATABASE_URL=database_url,
        ONCALL_ACCESS_SECRET_KEY=new_key(),
        PAGERDUTY_API_URL=pagerduty.url,
        ONCALL_ACCESS_ADMINS=ADMIN,
        ONCALL_ACCESS_SYNC_SCHEDULE="5,35 * * * *",
        _env_file=None,  # type: ignore[call-arg]
    )
    bots = [await build(settings, policy=Policy(version=1), clock=clock) for _ in range(2)]
    try:
        yield clock, bots
    finally:
        for bot in bots:
            await bot.close()


def providers(bot: Bot) -> list[Provider]:
    return [p.provider for p in bot.providers]


async def syncs(bot: Bot) -> int:
    return sum(r.event == "roster.synced" for r in await bot.audit.records())


async def test_a_connection_made_on_one_replica_is_used_by_the_other_within_a_tick(
    fleet: tuple[FakeClock, list[Bot]], pagerduty: FakePagerDuty
) -> None:
    _, (a, b) = fleet
    other = Scheduler(b)
    assert a.admin is not None and b.admin is not None

    assert (await a.admin.connect(ConnectForm("pagerduty", api_key="first-key"), ADMIN)).ok
    assert providers(b) == []
    await other.tick()
    assert providers(b) == [Provider.PAGERDUTY]
    assert (await b.admin.status_lines())[0].startswith("PagerDuty: connected, last good sync")
    assert all(o.ok for o in await b.syncer.sync_all())

    # A rotated key: the old one stops working at PagerDuty, and b must use the new one.
    pagerduty.api_keys = {"second-key"}
    assert (await a.admin.connect(ConnectForm("pagerduty", api_key="second-key"), ADMIN)).ok
    await other.tick()
    [outcome] = await b.syncer.sync_all()
    assert outcome.ok, outcome.error

    await a.admin.disconnect("pagerduty", ADMIN)
    await other.tick()
    assert providers(b) == []
    assert await b.syncer.sync_all() == []
    assert (await b.admin.status_lines())[0].startswith("No provider is connected")


async def test_an_unchanged_connection_is_not_rebuilt_at_each_tick(
    fleet: tuple[FakeClock, list[Bot]],
) -> None:
    _, (a, b) = fleet
    assert a.admin is not None
    assert (await a.admin.connect(ConnectForm("pagerduty", api_key="first-key"), ADMIN)).ok
    other = Scheduler(b)
    await other.tick()
    [built] = b.providers
    await other.tick()
    await Scheduler(a).tick()
    assert b.providers == [built]
    assert len(a.providers) == 1


async def test_a_sync_slot_runs_once_across_the_fleet(
    fleet: tuple[FakeClock, list[Bot]],
) -> None:
    clock, (a, b) = fleet
    assert a.admin is not None
    assert (await a.admin.connect(ConnectForm("pagerduty", api_key="first-key"), ADMIN)).ok
    schedulers = [Scheduler(a), Scheduler(b)]
    await asyncio.gather(*(s.tick() for s in schedulers))  # both see the connection
    before = await syncs(a)

    clock.advance(timedelta(minutes=5, seconds=1))  # 12:05:01, the slot of 12:05
    await asyncio.gather(*(s.tick() for s in schedulers))
    await asyncio.gather(*(s.tick() for s in schedulers))
    assert await syncs(a) == before + 1

    clock.advance(timedelta(minutes=30))  # the slot of 12:35
    await asyncio.gather(*(s.tick() for s in schedulers))
    assert await syncs(b) == before + 2


async def test_a_slot_whose_runner_died_is_run_by_another_replica_after_the_lease(
    fleet: tuple[FakeClock, list[Bot]],
) -> None:
    clock, (a, b) = fleet
    assert a.admin is not None
    assert (await a.admin.connect(ConnectForm("pagerduty", api_key="first-key"), ADMIN)).ok
    survivor = Scheduler(b)
    await survivor.tick()
    before = await syncs(b)

    clock.advance(timedelta(minutes=5, seconds=1))
    slot = NOW + timedelta(minutes=5)
    # A replica claimed the slot and was killed before it finished: its lease is never renewed.
    assert await a.leases.claim(f"sync@{slot.isoformat()}", "killed", clock.now(), LEASE_SECONDS)
    await survivor.tick()
    assert await syncs(b) == before

    clock.advance(timedelta(seconds=LEASE_SECONDS))
    await survivor.tick()
    assert await syncs(b) == before + 1
    await survivor.tick()
    assert await syncs(b) == before + 1


async def test_the_lifecycle_of_a_replica_that_died_passes_on_after_its_lease(
    fleet: tuple[FakeClock, list[Bot]],
) -> None:
    clock, (a, b) = fleet
    assert await a.leases.claim("lifecycle", "killed", clock.now(), LEASE_SECONDS)
    survivor = Scheduler(b)
    assert await survivor.run_lifecycle() == {}
    clock.advance(timedelta(seconds=LEASE_SECONDS))
    assert await survivor.run_lifecycle() != {}
    # Released after the run: the other replica's next tick may run it at once.
    assert await Scheduler(a).run_lifecycle() != {}


async def test_a_lease_is_renewed_while_its_work_runs_and_released_after(
    fleet: tuple[FakeClock, list[Bot]],
) -> None:
    clock, (a, b) = fleet
    scheduler = Scheduler(a)
    async with scheduler.held("long-job") as mine:
        assert mine
        assert not await b.leases.claim("long-job", "other", clock.now(), LEASE_SECONDS)
        clock.advance(timedelta(seconds=LEASE_SECONDS - 1))
        assert await a.leases.renew("long-job", scheduler.holder, clock.now(), LEASE_SECONDS)
        clock.advance(timedelta(seconds=LEASE_SECONDS - 1))
        assert not await b.leases.claim("long-job", "other", clock.now(), LEASE_SECONDS)
    assert await b.leases.claim("long-job", "other", clock.now(), LEASE_SECONDS)
