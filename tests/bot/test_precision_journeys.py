"""On-call precision through the real bot and its console notices: grants end with the shift,
eligibility is re-checked at the click, identities are mapped, and nothing fails silently."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from textwrap import dedent

from bot.scheduler import Scheduler
from core.identity import Actor
from core.requests import Status
from tests.builders import iso, make_bot
from tests.conftest import FakeClock

POLICY = dedent(
    """
    version: 1
    resources:
      prod-db:
        request: {on_call: ["file:schedule/Primary SRE"]}
        approve:
          on_call: ["file:schedule/Secondary SRE"]
          people: ["lead@example.com"]
        max_duration: 4h
      grafana-admin:
        request: {on_call: ["file:schedule/Primary SRE"]}
        approve: {auto_if_on_call: true, people: ["lead@example.com"]}
        notify_on_auto: channel
      stale-ok:
        request: {on_call: ["file:schedule/Primary SRE"]}
        approve: {people: ["lead@example.com"]}
        on_stale: manual
    """
)


def rota(
    clock: FakeClock, primary_ends_in: timedelta, bob_ends_in: timedelta = timedelta(hours=8)
) -> str:
    start = iso(clock.now() - timedelta(hours=1))
    return dedent(
        f"""
        people:
          - {{email: carol@example.com}}
        groups:
          "schedule/Primary SRE":
            on_call:
              - {{email: alice@example.com, start: "{start}", end: "{iso(clock.now() + primary_ends_in)}"}}
          "schedule/Secondary SRE":
            on_call:
              - {{email: bob@example.com, start: "{start}", end: "{iso(clock.now() + bob_ends_in)}"}}
        """
    )


ALICE, BOB, CAROL, LEAD = (Actor(f"{n}@example.com") for n in ("alice", "bob", "carol", "lead"))


async def test_a_grant_ends_with_the_shift_and_the_requester_is_warned_first(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    lines: list[str] = []
    bot = await make_bot(
        tmp_path,
        sqlite_url,
        clock,
        policy=POLICY,
        roster=rota(clock, timedelta(minutes=40)),
        lines=lines,
    )
    try:
        pending = await bot.service.request(ALICE, "prod-db", timedelta(hours=2), "INC-7")
        active = await bot.service.approve(BOB, pending.id)
        assert active.expires_at == clock.now() + timedelta(minutes=40)  # the shift end, not 2h
        scheduler = Scheduler(bot)
        clock.advance(timedelta(minutes=29))
        await scheduler.run_lifecycle()
        assert not [line for line in lines if "with your shift" in line]
        clock.advance(timedelta(minutes=1))
        await scheduler.run_lifecycle()
        [warning] = [line for line in lines if "with your shift" in line]
        assert warning.startswith("  » to alice@example.com") and "ends in 10m" in warning
        clock.advance(timedelta(minutes=10))
        await scheduler.run_lifecycle()
        assert (await bot.service.get(active.id)).status == Status.EXPIRED
    finally:
        await bot.close()


async def test_an_approval_after_the_requesters_shift_ended_is_refused_and_both_are_told(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    lines: list[str] = []
    bot = await make_bot(
        tmp_path,
        sqlite_url,
        clock,
        policy=POLICY,
        roster=rota(clock, timedelta(minutes=20)),
        lines=lines,
    )
    try:
        pending = await bot.service.request(ALICE, "prod-db", timedelta(hours=1), "INC-8")
        clock.advance(timedelta(minutes=25))  # alice's shift ended while the request waited
        reply = await bot.dispatcher.handle(BOB, f"approve {pending.id}")
        assert not reply.ok
        assert (
            "alice@example.com may no longer have prod-db" in reply.text
            and "ended at" in reply.text
        )
        assert (await bot.service.get(pending.id)).status == Status.DENIED
        assert any(
            line.startswith("  » to alice@example.com") and "can no longer be approved" in line
            for line in lines
        )
        events = [(r.event, r.actor) for r in await bot.audit.records()]
        assert ("request.denied", "system") in events
    finally:
        await bot.close()


async def test_an_approver_whose_shift_ended_cannot_approve(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    roster = rota(clock, timedelta(hours=8), bob_ends_in=timedelta(minutes=10))
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=POLICY, roster=roster)
    try:
        pending = await bot.service.request(ALICE, "prod-db", timedelta(hours=1), "INC-9")
        clock.advance(timedelta(minutes=15))
        reply = await bot.dispatcher.handle(BOB, f"approve {pending.id}")
        assert not reply.ok and "may not approve" in reply.text
        assert (await bot.service.get(pending.id)).status == Status.PENDING
    finally:
        await bot.close()


async def test_someone_not_in_the_roster_is_told_so_and_goes_to_the_named_approvers(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    lines: list[str] = []
    bot = await make_bot(
        tmp_path,
        sqlite_url,
        clock,
        policy=POLICY,
        roster=rota(clock, timedelta(hours=8)),
        lines=lines,
    )
    try:
        reply = await bot.dispatcher.handle(Actor("dave@example.com"), "request prod-db 1h INC-10")
        assert reply.ok
        assert reply.text.startswith("You are not in the on-call roster as dave@example.com")
        assert any(line.startswith("  » to lead@example.com") for line in lines)
        assert not any(line.startswith("  » to bob@example.com") for line in lines)
        refused = await bot.dispatcher.handle(
            CAROL, "request prod-db 1h INC-10"
        )  # known, not on call
        assert (
            not refused.ok and refused.text == "You are not on call for Primary SRE (roster file)."
        )
    finally:
        await bot.close()


async def test_a_domain_alias_lets_a_corp_address_match_the_roster(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    bot = await make_bot(
        tmp_path,
        sqlite_url,
        clock,
        policy=POLICY,
        roster=rota(clock, timedelta(hours=8)),
        aliases="corp.example.com=example.com",
    )
    try:
        reply = await bot.dispatcher.handle(
            Actor("Alice@Corp.Example.com"), "request grafana-admin 30m"
        )
        assert reply.ok and "Approved at once" in reply.text
        assert reply.request is not None and reply.request.requester == "alice@example.com"
    finally:
        await bot.close()


async def test_an_admin_mapping_from_chat_is_used_at_once(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    bot = await make_bot(
        tmp_path, sqlite_url, clock, policy=POLICY, roster=rota(clock, timedelta(hours=8))
    )
    try:
        stranger = Actor("a.ng@elsewhere.org", surface="slack", user_key="slack:U777")
        unknown = await bot.dispatcher.handle(stranger, "request grafana-admin 30m")
        assert unknown.text.startswith("You are not in the on-call roster as a.ng@elsewhere.org")
        assert not (
            await bot.dispatcher.handle(ALICE, "identity map slack:U777 alice@example.com")
        ).ok  # admins only
        mapped = await bot.dispatcher.handle(LEAD, "identity map slack:U777 alice@example.com")
        assert mapped.ok
        reply = await bot.dispatcher.handle(stranger, "request grafana-admin 30m")
        assert (
            reply.ok
            and reply.request is not None
            and reply.request.requester == "alice@example.com"
        )
        assert "identity.mapped" in [r.event for r in await bot.audit.records()]
    finally:
        await bot.close()


async def test_auto_approval_posts_one_line_and_no_buttons(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    lines: list[str] = []
    bot = await make_bot(
        tmp_path,
        sqlite_url,
        clock,
        policy=POLICY,
        roster=rota(clock, timedelta(hours=8)),
        lines=lines,
    )
    try:
        await bot.dispatcher.handle(ALICE, "request grafana-admin 30m")
        announced = [line for line in lines if "approvals channel" in line]
        assert (
            len(announced) == 1
            and "auto-approved: alice@example.com has grafana-admin for 30m" in announced[0]
        )
        assert not [line for line in lines if "Reply `approve" in line]
    finally:
        await bot.close()


async def test_a_stale_roster_sends_on_stale_manual_resources_to_named_approvers(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    bot = await make_bot(
        tmp_path, sqlite_url, clock, policy=POLICY, roster=rota(clock, timedelta(hours=8))
    )
    try:
        clock.advance(timedelta(hours=1))  # no sync for an hour: the roster is stale
        refused = await bot.dispatcher.handle(ALICE, "request prod-db 1h INC-11")
        assert not refused.ok and "out of date" in refused.text and "`sync`" in refused.text
        manual = await bot.dispatcher.handle(ALICE, "request stale-ok 1h INC-11")
        assert manual.ok and "out of date" in manual.text and "named approvers" in manual.text
    finally:
        await bot.close()


async def test_why_explains_the_rule_the_shift_and_the_roster_age(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    bot = await make_bot(
        tmp_path, sqlite_url, clock, policy=POLICY, roster=rota(clock, timedelta(hours=3))
    )
    try:
        clock.advance(timedelta(minutes=12))
        reply = await bot.dispatcher.handle(ALICE, "why prod-db")
        text = reply.full_text
        assert "on call for Primary SRE (roster file): you are, until 15:00 UTC" in text
        assert "who can approve now: lead@example.com, bob@example.com" in text
        assert "Roster from roster file synced 12m ago" in text
        other = (await bot.dispatcher.handle(CAROL, "why prod-db")).full_text
        assert "✗ You are not on call for Primary SRE" in other
    finally:
        await bot.close()


async def test_a_shift_bound_grant_ends_on_time_across_a_restart(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    roster = rota(clock, timedelta(minutes=40))
    first = await make_bot(tmp_path, sqlite_url, clock, policy=POLICY, roster=roster)
    pending = await first.service.request(ALICE, "prod-db", timedelta(hours=2), "INC-12")
    active = await first.service.approve(BOB, pending.id)
    await first.close()  # the bot stops during the grant

    clock.advance(timedelta(minutes=41))  # the shift ended while it was down
    second = await make_bot(tmp_path, sqlite_url, clock, policy=POLICY, roster=roster)
    try:
        await Scheduler(second).run_lifecycle()  # the first tick after start
        ended = await second.service.get(active.id)
        assert ended.status == Status.EXPIRED
        records = await second.audit.records()
        approved = next(
            r for r in records if r.event == "request.approved" and r.request_id == active.id
        )
        evidence = approved.detail["requester_evidence"]
        assert {"rule", "group", "shift_end", "roster_age_s", "live_confirm"} <= set(evidence)
    finally:
        await second.close()
