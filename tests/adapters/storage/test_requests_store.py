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


async def test_a_row_stored_before_evidence_was_typed_reads_as_typed_evidence(
    database_url: str,
) -> None:
    """Rows written by earlier releases hold evidence as the plain object they built by hand;
    they read back as the same facts, and a rule this release does not know leaves the
    request readable."""
    import json

    from sqlalchemy import text

    from adapters.storage.engine import make_engine
    from adapters.storage.migrate import upgrade
    from adapters.storage.requests import SqlRequestStore
    from core.evidence import Basis, Rule
    from core.groups import GroupRef
    from core.replies import evidence_sentence

    legacy = {
        "rule": "request.on_call",
        "group": "pagerduty:schedule/Primary SRE",
        "provider": "pagerduty",
        "snapshot_at": "2026-11-23T11:50:00+00:00",
        "roster_age_s": 600,
        "live_confirm": False,
        "shift_start": "2026-11-23T08:00:00+00:00",
        "shift_end": "2026-11-23T18:00:00+00:00",
    }
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            for rid, evidence in (
                ("rlegacy", legacy),
                ("rodd", {"rule": "request.since_renamed", "group": "not a group"}),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO requests (id, resource, requester, duration_seconds, reason,"
                        " status, created_at, timeout_at, decision_note, evidence, message_refs,"
                        " version, kind, attempts) VALUES (:id, 'prod-db', 'alice@example.com',"
                        " 3600, '', 'pending', '2026-11-23 12:00:00', '2026-11-23 12:30:00', '',"
                        " :evidence, '[]', 0, 'request', 0)"
                    ),
                    {"id": rid, "evidence": json.dumps(evidence)},
                )
        store = SqlRequestStore(engine)
        found = await store.get("rlegacy")
        odd = await store.get("rodd")
    finally:
        await engine.dispose()

    assert found is not None and odd is not None
    ev = found.evidence
    assert (ev.rule, ev.basis, ev.group) == (
        Rule.REQUEST_ON_CALL,
        Basis.ON_CALL,
        GroupRef.parse("pagerduty:schedule/Primary SRE"),
    )
    assert ev.to_dict() == legacy
    assert (
        evidence_sentence(found, now=found.created_at)
        == "on call for Primary SRE (PagerDuty) until 18:00 UTC"
    )
    assert (odd.evidence.rule, odd.evidence.group) == (Rule.NONE, None)
