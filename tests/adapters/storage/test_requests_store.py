"""Requests on a real SQLite file and a real PostgreSQL: compare-and-set under concurrency."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.audit import verify_chain
from core.identity import Actor
from core.requests import Status
from tests.builders import make_bot, roster_yaml
from tests.conftest import FakeClock


async def test_twenty_concurrent_approvals_give_exactly_one_decision(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    approvers = tuple(f"approver{i}@example.com" for i in range(20))
    roster = roster_yaml(clock.now(), extra_secondary=approvers)
    bot = await make_bot(tmp_path, database_url, clock, roster=roster)
    try:
        alice = Actor("alice@example.com")
        request = await bot.service.request(alice, "prod-db", None, "INC-1 failover")
        assert request.status == Status.PENDING

        replies = await asyncio.gather(
            *(bot.dispatcher.handle(Actor(a), f"approve {request.id}") for a in approvers)
        )

        assert sum(r.ok for r in replies) == 1
        refusals = [r.text for r in replies if not r.ok]
        assert all("already approved" in t for t in refusals), refusals
        records = await bot.audit.records()
        assert [r.event for r in records].count("request.approved") == 1
        assert [r.event for r in records].count("access.granted") == 1
        assert (await bot.service.get(request.id)).status == Status.ACTIVE
        assert verify_chain(records, await bot.audit.head()) is None
    finally:
        await bot.close()


async def test_concurrent_appends_keep_one_linear_chain(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    bot = await make_bot(tmp_path, database_url, clock)
    try:
        from core.audit import AuditEvent

        await asyncio.gather(
            *(
                bot.audit.append(AuditEvent("test.event", clock.now(), "system", detail={"i": i}))
                for i in range(40)
            )
        )
        records = await bot.audit.records()
        prev_hashes = [r.prev_hash for r in records]
        assert len(prev_hashes) == len(set(prev_hashes))
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        assert sorted(r.detail.get("i") for r in records if r.event == "test.event") == list(
            range(40)
        )
        assert verify_chain(records, await bot.audit.head()) is None
    finally:
        await bot.close()


async def test_a_stale_transition_changes_nothing(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    bot = await make_bot(tmp_path, database_url, clock)
    try:
        request = await bot.service.request(Actor("alice@example.com"), "prod-db", None, "INC-2")
        await bot.service.deny(Actor("bob@example.com"), request.id, "not now")
        events_before = len(await bot.audit.records())

        reply = await bot.dispatcher.handle(Actor("lead@example.com"), f"approve {request.id}")

        assert not reply.ok and "already denied by bob@example.com" in reply.text
        assert (await bot.service.get(request.id)).status == Status.DENIED
        assert len(await bot.audit.records()) == events_before
    finally:
        await bot.close()


async def test_times_round_trip_as_utc(tmp_path: Path, database_url: str, clock: FakeClock) -> None:
    bot = await make_bot(tmp_path, database_url, clock)
    try:
        request = await bot.service.request(Actor("alice@example.com"), "grafana-admin", None, "")
        stored = await bot.service.get(request.id)
        assert stored.granted_at == clock.now()
        assert stored.expires_at is not None and stored.expires_at.utcoffset() is not None
        assert stored.expires_at - stored.granted_at == stored.duration
    finally:
        await bot.close()
