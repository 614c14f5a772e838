"""Birthright grants follow the rota to the second: granted when a shift starts, revoked when it
ends, reconciled when a sync brings an override."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from textwrap import dedent

from bot.scheduler import Scheduler
from core.requests import Kind, Status
from tests.builders import iso, make_bot
from tests.conftest import FakeClock

POLICY = dedent(
    """
    version: 1
    resources:
      grafana-admin:
        request: {on_call: ["file:schedule/Primary SRE"]}
        approve: {auto_if_on_call: true, people: ["lead@example.com"]}
    birthright:
      - {resource: grafana-admin, on_call: ["file:schedule/Primary SRE"]}
    """
)


def rota(clock: FakeClock, *shifts: tuple[str, int, int]) -> str:
    """Shifts as (email, start hours from now, end hours from now)."""
    lines = ["groups:", '  "schedule/Primary SRE":', "    on_call:"]
    for email, start, end in shifts:
        s, e = clock.now() + timedelta(hours=start), clock.now() + timedelta(hours=end)
        lines.append(f'      - {{email: {email}, start: "{iso(s)}", end: "{iso(e)}"}}')
    return "\n".join(lines) + "\n"


async def held(bot: object) -> dict[str, Status]:
    found = await bot.requests.of_kind(
        Kind.BIRTHRIGHT, Status.ACTIVE, Status.EXPIRED, Status.REVOKED
    )  # type: ignore[attr-defined]
    return {r.requester: r.status for r in found}


async def test_birthright_follows_shift_boundaries_exactly(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    roster = rota(clock, ("alice@example.com", -1, 2), ("carol@example.com", 2, 10))
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=POLICY, roster=roster)
    try:
        scheduler = Scheduler(bot)
        await scheduler.run_lifecycle()
        assert await held(bot) == {"alice@example.com": Status.ACTIVE}

        clock.advance(timedelta(hours=2) - timedelta(seconds=1))
        assert (await bot.syncer.sync(bot.providers[0])).ok  # the half-hourly sync keeps it fresh
        await scheduler.run_lifecycle()
        assert await held(bot) == {"alice@example.com": Status.ACTIVE}  # not a second early

        clock.advance(timedelta(seconds=1))  # hand-off: alice's shift ends, carol's starts
        await scheduler.run_lifecycle()
        assert await held(bot) == {
            "alice@example.com": Status.EXPIRED,
            "carol@example.com": Status.ACTIVE,
        }
        audit = [r for r in await bot.audit.records() if r.event == "access.expired"]
        assert audit[-1].subject == "alice@example.com" and audit[-1].actor == "system"
    finally:
        await bot.close()


async def test_an_override_synced_later_ends_the_grant_at_once(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    bot = await make_bot(
        tmp_path, sqlite_url, clock, policy=POLICY, roster=rota(clock, ("alice@example.com", -1, 8))
    )
    try:
        scheduler = Scheduler(bot)
        await scheduler.run_lifecycle()
        assert await held(bot) == {"alice@example.com": Status.ACTIVE}

        clock.advance(timedelta(minutes=10))
        (tmp_path / "roster.yaml").write_text(
            rota(clock, ("bob@example.com", 0, 8))
        )  # bob takes over
        assert (await bot.syncer.sync(bot.providers[0])).ok
        await scheduler.run_lifecycle()

        assert await held(bot) == {
            "alice@example.com": Status.EXPIRED,
            "bob@example.com": Status.ACTIVE,
        }
    finally:
        await bot.close()


async def test_a_shift_extended_by_the_rota_moves_the_grant_end(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    bot = await make_bot(
        tmp_path, sqlite_url, clock, policy=POLICY, roster=rota(clock, ("alice@example.com", -1, 2))
    )
    try:
        scheduler = Scheduler(bot)
        await scheduler.run_lifecycle()
        clock.advance(timedelta(seconds=1))
        (tmp_path / "roster.yaml").write_text(rota(clock, ("alice@example.com", -1, 5)))
        assert (await bot.syncer.sync(bot.providers[0])).ok
        await scheduler.run_lifecycle()
        [grant] = await bot.requests.of_kind(Kind.BIRTHRIGHT, Status.ACTIVE)
        assert grant.expires_at == clock.now() + timedelta(hours=5)
        assert grant.status == Status.ACTIVE
        clock.advance(timedelta(hours=3))
        await scheduler.run_lifecycle()
        assert await held(bot) == {"alice@example.com": Status.ACTIVE}
    finally:
        await bot.close()


async def test_a_stale_roster_grants_nothing_new(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    roster = rota(clock, ("alice@example.com", -1, 2), ("carol@example.com", 2, 10))
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=POLICY, roster=roster)
    try:
        scheduler = Scheduler(bot)
        await scheduler.run_lifecycle()
        clock.advance(timedelta(hours=2))  # no sync for two hours: the roster is not trusted
        await scheduler.run_lifecycle()
        assert await held(bot) == {"alice@example.com": Status.EXPIRED}  # ends on time, nobody new
    finally:
        await bot.close()
