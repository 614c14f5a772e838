"""Time passing, as the scheduler sees it on a controllable clock: grants expire at their end,
undecided requests time out, shift ends and old rosters are honoured without a new sync, and
roster syncs run once per cron slot however many replicas share the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.wiring import Bot, build
from core.audit import AuditRecord
from core.identity import Actor
from core.policy import parse_policy
from core.requests import Status
from tests.builders import POLICY, iso, make_bot, roster_yaml
from tests.conftest import FakeClock

ALICE, BOB = Actor("alice@example.com"), Actor("bob@example.com")


async def _events(bot: Bot, name: str) -> list[AuditRecord]:
    return [r for r in await bot.audit.records() if r.event == name]


async def _lifecycle(scheduler: Scheduler) -> tuple[int, int]:
    """One lifecycle tick: (grants expired, requests timed out)."""
    counts = await scheduler.run_lifecycle()
    return counts.get("expired", 0), counts.get("timed_out", 0)


async def _requested(bot: Bot, actor: Actor, text: str) -> str:
    reply = await bot.dispatcher.handle(actor, text)
    assert reply.ok and reply.request is not None, reply.text
    return reply.request.id


# -- expiry and approval timeouts -----------------------------------------------------------------


async def test_a_grant_expires_once_the_clock_passes_its_end(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    told: list[str] = []
    bot = await make_bot(tmp_path, database_url, clock, lines=told)
    try:
        rid = await _requested(bot, ALICE, "request grafana-admin 30m")
        scheduler = Scheduler(bot)

        clock.advance(timedelta(minutes=29, seconds=59))
        assert await _lifecycle(scheduler) == (0, 0)
        still = await bot.dispatcher.handle(ALICE, "mine")
        assert f"{rid}  grafana-admin  30m  active, 1s left" in still.full_text

        clock.advance(timedelta(seconds=1))
        assert await _lifecycle(scheduler) == (1, 0)
        assert await _lifecycle(scheduler) == (0, 0)

        request = await bot.requests.get(rid)
        assert request is not None and request.status == Status.EXPIRED
        (expired,) = await _events(bot, "access.expired")
        assert (expired.actor, expired.subject, expired.request_id) == (
            "system",
            "alice@example.com",
            rid,
        )
        assert expired.at == clock.now()
        assert (
            f"  » to alice@example.com: Your access to grafana-admin ({rid}) has expired." in told
        )
        mine = await bot.dispatcher.handle(ALICE, "mine")
        assert f"{rid}  grafana-admin  30m  expired" in mine.full_text
    finally:
        await bot.close()


async def test_an_undecided_request_times_out_after_the_approval_timeout(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    told: list[str] = []
    bot = await make_bot(tmp_path, sqlite_url, clock, lines=told)
    try:
        rid = await _requested(bot, ALICE, 'request prod-db 1h "INC-4411 failover"')
        scheduler = Scheduler(bot)

        clock.advance(timedelta(minutes=29, seconds=59))
        assert await _lifecycle(scheduler) == (0, 0)
        clock.advance(timedelta(seconds=1))
        assert await _lifecycle(scheduler) == (0, 1)

        (timed_out,) = await _events(bot, "request.timed_out")
        assert (timed_out.actor, timed_out.request_id) == ("system", rid)
        assert (
            f"  » to alice@example.com: Nobody decided your request {rid} for prod-db in time; "
            "it timed out."
        ) in told
        assert f"  » to bob@example.com: approval message for {rid} updated: timed out." in told
        late = await bot.dispatcher.handle(BOB, f"approve {rid}")
        assert not late.ok
        assert late.text == f"Request {rid} timed out before anyone decided."
        assert await _events(bot, "access.granted") == []
    finally:
        await bot.close()


async def test_two_replicas_expire_a_grant_exactly_once(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    told_a: list[str] = []
    told_b: list[str] = []
    a = await make_bot(tmp_path / "a", database_url, clock, lines=told_a)
    b = await make_bot(tmp_path / "b", database_url, clock, lines=told_b)
    try:
        rid = await _requested(a, ALICE, "request grafana-admin 30m")
        clock.advance(timedelta(minutes=31))

        results = await asyncio.gather(_lifecycle(Scheduler(a)), _lifecycle(Scheduler(b)))

        assert sum(expired for expired, _ in results) == 1, results
        assert [e.request_id for e in await _events(a, "access.expired")] == [rid]
        expired_notices = [n for n in told_a + told_b if "has expired" in n]
        assert len(expired_notices) == 1, expired_notices
    finally:
        await a.close()
        await b.close()


# -- on-call status between syncs -----------------------------------------------------------------


async def test_a_shift_that_ended_after_the_last_sync_is_not_honoured(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    now = clock.now()
    roster = roster_yaml(now).replace(
        f'email: alice@example.com, start: "{iso(now - timedelta(hours=1))}", '
        f'end: "{iso(now + timedelta(hours=7))}"',
        f'email: alice@example.com, start: "{iso(now - timedelta(hours=1))}", '
        f'end: "{iso(now + timedelta(minutes=10))}"',
    )
    assert "12:10:00Z" in roster
    bot = await make_bot(tmp_path, sqlite_url, clock, roster=roster)
    try:
        clock.advance(timedelta(minutes=20))  # no sync since 12:00

        refused = await bot.dispatcher.handle(ALICE, "request grafana-admin 30m")

        assert not refused.ok
        assert refused.text == "Your shift for Primary SRE (roster file) ended at 12:10 UTC."
        assert (await bot.dispatcher.handle(ALICE, "mine")).text.startswith("You have no requests.")
        assert await _events(bot, "request.created") == []
    finally:
        await bot.close()


async def test_a_roster_older_than_the_allowed_age_is_not_trusted(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    bot = await make_bot(tmp_path, sqlite_url, clock)
    try:
        clock.advance(timedelta(minutes=45))
        assert (await bot.dispatcher.handle(ALICE, "request grafana-admin 30m")).ok

        clock.advance(timedelta(minutes=1))
        refused = await bot.dispatcher.handle(ALICE, 'request prod-db 1h "INC-4411 failover"')

        assert not refused.ok
        assert refused.text.startswith(
            "The on-call roster is out of date (last good sync 12:00 UTC"
        )
        assert "46m ago" in refused.text
        assert "`sync`" in refused.text
        assert [r.resource for r in await bot.requests.by_requester(ALICE.email)] == [
            "grafana-admin"
        ]
    finally:
        await bot.close()


# -- roster syncs on the schedule -----------------------------------------------------------------


async def test_sync_if_due_runs_at_the_cron_slot_and_once_per_slot(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    bot = await make_bot(tmp_path, sqlite_url, clock)
    try:
        scheduler = Scheduler(bot)
        assert scheduler.next_sync_at() == datetime(2026, 11, 23, 12, 5, tzinfo=UTC)
        assert await scheduler.sync_if_due() == []

        clock.advance(timedelta(minutes=4, seconds=59))
        assert await scheduler.sync_if_due() == []
        clock.advance(timedelta(seconds=1))
        (outcome,) = await scheduler.sync_if_due()
        assert outcome.ok, outcome.error
        assert await scheduler.sync_if_due() == []
        assert scheduler.next_sync_at() == datetime(2026, 11, 23, 12, 35, tzinfo=UTC)

        assert len(await _events(bot, "roster.synced")) == 2  # make_bot's, then the 12:05 slot
        assert (await bot.rosters.versions())[bot.providers[0].provider] == clock.now()
    finally:
        await bot.close()


async def test_two_replicas_never_both_run_the_same_sync_slot(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = await make_bot(tmp_path / "a", database_url, clock)
    b = await make_bot(tmp_path / "b", database_url, clock)
    try:
        first, second = Scheduler(a), Scheduler(b)
        assert first.next_sync_at() == second.next_sync_at()  # both started at 12:00
        before = len(await _events(a, "roster.synced"))
        clock.advance(timedelta(minutes=5))  # 12:05, then 12:35, 13:05, 13:35

        for _ in range(4):
            ran = await asyncio.gather(first.sync_if_due(), second.sync_if_due())
            assert sorted(len(outcomes) for outcomes in ran) == [0, 1], ran
            clock.advance(timedelta(minutes=30))

        assert len(await _events(a, "roster.synced")) == before + 4
    finally:
        await a.close()
        await b.close()


async def _unsynced_bot(tmp: Path, database_url: str, clock: FakeClock) -> Bot:
    """Wired as `serve` wires it, with a roster file that was never synced."""
    (tmp / "roster.yaml").write_text(roster_yaml(clock.now()))
    settings = Settings(
        ONCALL_ACCESS_DATABASE_URL=database_url,
        ONCALL_ACCESS_ROSTER_FILE=str(tmp / "roster.yaml"),
        _env_file=None,  # type: ignore[call-arg]
    )
    return await build(settings, policy=parse_policy(POLICY, "policy.yaml"), clock=clock)


async def test_sync_if_stale_syncs_a_missing_roster(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    bot = await _unsynced_bot(tmp_path, sqlite_url, clock)
    try:
        refused = await bot.dispatcher.handle(ALICE, "request grafana-admin 30m")
        assert not refused.ok
        assert "never" in refused.text  # no roster: nobody is trusted as on call

        (outcome,) = await Scheduler(bot).sync_if_stale()

        assert outcome.ok, outcome.error
        assert (await bot.dispatcher.handle(ALICE, "request grafana-admin 30m")).ok
    finally:
        await bot.close()


async def test_sync_if_stale_syncs_only_a_roster_that_is_too_old(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    bot = await make_bot(tmp_path, sqlite_url, clock)
    try:
        scheduler = Scheduler(bot)
        assert await scheduler.sync_if_stale() == []
        clock.advance(timedelta(minutes=45))
        assert await scheduler.sync_if_stale() == []

        clock.advance(timedelta(minutes=1))
        (outcome,) = await scheduler.sync_if_stale()

        assert outcome.ok, outcome.error
        assert (await bot.rosters.versions())[bot.providers[0].provider] == clock.now()
        assert await scheduler.sync_if_stale() == []
        assert len(await _events(bot, "roster.synced")) == 2
    finally:
        await bot.close()


async def test_the_scheduler_loop_expires_grants_and_stops_when_told(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    expired = asyncio.Event()

    class Told(list[str]):
        def append(self, line: str) -> None:
            super().append(line)
            if "has expired" in line:
                expired.set()

    told = Told()
    bot = await make_bot(tmp_path, sqlite_url, clock, lines=told)
    bot.settings = bot.settings.model_copy(update={"tick_seconds": 0.01})
    try:
        rid = await _requested(bot, ALICE, "request grafana-admin 30m")
        clock.advance(timedelta(minutes=30))
        stop = asyncio.Event()
        loop = asyncio.create_task(Scheduler(bot).run(stop))

        await asyncio.wait_for(expired.wait(), 10)  # the requester is told when it expires
        assert await _events(bot, "access.expired")
        stop.set()
        await asyncio.wait_for(loop, 5)

        request = await bot.requests.get(rid)
        assert request is not None and request.status == Status.EXPIRED
    finally:
        await bot.close()
