"""Job leases and roster snapshots on real databases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from adapters.storage.audit import SqlAuditLog
from adapters.storage.engine import make_engine
from adapters.storage.leases import SqlJobLeases
from adapters.storage.migrate import upgrade
from adapters.storage.roster import SqlRosterStore
from core.audit import AuditEvent, verify_chain
from core.groups import GroupRef, Provider
from core.roster import Group, RosterSnapshot, Shift
from tests.conftest import FakeClock


async def test_only_one_of_many_replicas_claims_a_job(database_url: str, clock: FakeClock) -> None:
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        leases = SqlJobLeases(engine)
        results = await asyncio.gather(
            *(leases.claim("sync@slot-1", f"replica-{i}", clock.now(), 60) for i in range(10))
        )
        assert sum(results) == 1
        # Once the lease runs out, another replica may take the job.
        clock.advance(timedelta(seconds=61))
        assert await leases.claim("sync@slot-1", "replica-late", clock.now(), 60)
        assert not await leases.claim("sync@slot-1", "replica-0", clock.now(), 60)
    finally:
        await engine.dispose()


def _snapshot(clock: FakeClock, email: str) -> RosterSnapshot:
    ref = GroupRef.parse("file:schedule/Primary SRE")
    shift = Shift(email, clock.now() - timedelta(hours=1), clock.now() + timedelta(hours=1))
    return RosterSnapshot(
        Provider.FILE, clock.now(), {ref: Group(ref, frozenset({email}), (shift,))}
    )


async def test_roster_replace_swaps_the_whole_snapshot_and_records_the_sync(
    database_url: str, clock: FakeClock
) -> None:
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        store = SqlRosterStore(engine)
        event = AuditEvent("roster.synced", clock.now(), "system", detail={"n": 1})
        await store.replace(_snapshot(clock, "alice@example.com"), event)
        clock.advance(timedelta(minutes=30))
        await store.replace(_snapshot(clock, "carol@example.com"), event)

        [latest] = await store.latest()
        ref = GroupRef.parse("file:schedule/Primary SRE")
        assert latest.taken_at == clock.now()
        assert [s.email for s in latest.groups[ref].shifts] == ["carol@example.com"]
        assert await store.versions() == {Provider.FILE: clock.now()}
        audit = SqlAuditLog(engine)
        assert [r.event for r in await audit.records()] == ["roster.synced", "roster.synced"]
    finally:
        await engine.dispose()


async def test_another_replicas_sync_is_seen_within_a_second_and_ones_own_at_once(
    database_url: str, clock: FakeClock
) -> None:
    engines = [make_engine(database_url) for _ in range(2)]
    ticks = [0.0]
    try:
        await upgrade(engines[0])
        mine, other = (SqlRosterStore(e, monotonic=lambda: ticks[0]) for e in engines)
        event = AuditEvent("roster.synced", clock.now(), "system")
        await mine.replace(_snapshot(clock, "alice@example.com"), event)
        first = clock.now()
        assert await mine.versions() == await other.versions() == {Provider.FILE: first}

        clock.advance(timedelta(minutes=5))
        await mine.replace(_snapshot(clock, "carol@example.com"), event)

        assert await mine.versions() == {Provider.FILE: clock.now()}  # its own sync: at once
        assert await other.versions() == {Provider.FILE: first}  # read less than a second ago
        ticks[0] += SqlRosterStore.FRESH_FOR
        assert await other.versions() == {Provider.FILE: clock.now()}
    finally:
        for engine in engines:
            await engine.dispose()


async def test_failed_syncs_are_counted_and_reset_by_a_good_one(
    database_url: str, clock: FakeClock
) -> None:
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        store = SqlRosterStore(engine)
        assert [
            await store.record_failure(Provider.FILE, clock.now(), "boom") for _ in range(3)
        ] == [1, 2, 3]
        [health] = await store.health()
        assert health.consecutive_failures == 3 and health.last_error == "boom"
        await store.replace(
            _snapshot(clock, "a@example.com"), AuditEvent("roster.synced", clock.now(), "system")
        )
        [health] = await store.health()
        assert health.consecutive_failures == 0 and health.last_success == clock.now()
    finally:
        await engine.dispose()


async def test_audit_verify_finds_rows_edited_or_removed_in_the_database(
    database_url: str, clock: FakeClock
) -> None:
    from sqlalchemy import text

    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        audit = SqlAuditLog(engine)
        for i in range(5):
            await audit.append(AuditEvent("test.event", clock.now(), "system", detail={"i": i}))
        assert verify_chain(await audit.records(), await audit.head()) is None

        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM audit_events WHERE seq = 5"))
        broken = verify_chain(await audit.records(), await audit.head())
        assert broken is not None and broken.seq == 5

        async with engine.begin() as conn:
            await conn.execute(
                text("""UPDATE audit_events SET detail = '{"i": 99}' WHERE seq = 2""")
            )
        broken = verify_chain(await audit.records(), await audit.head())
        assert broken is not None and broken.seq == 2 and "altered" in broken.problem
    finally:
        await engine.dispose()
