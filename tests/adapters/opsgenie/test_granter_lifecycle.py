"""opsgenie-role end to end: a real bot (roster file, SQLite, a clock the test moves) with
Opsgenie connected. The role is given when the request is approved and the role from before is
back when the access expires; a role changed by hand meanwhile is left alone and admins are told."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from textwrap import dedent

from adapters.opsgenie import OpsgenieRosterProvider
from bot.granters import role_granters
from bot.scheduler import Scheduler
from bot.wiring import Bot
from core.identity import Actor
from core.requests import Status
from tests.builders import make_bot
from tests.conftest import FakeClock
from tests.fakes.opsgenie import FakeOpsgenie
from tests.fakes.opsgenie.server import WRITE_RIGHTS

IC = "Incident Commander"
POLICY = dedent(
    f"""
    version: 1
    resources:
      incident-commander:
        request: {{on_call: ["file:schedule/Primary SRE"]}}
        approve: {{auto_if_on_call: true, people: ["lead@example.com"]}}
        max_duration: 2h
        grant: {{type: opsgenie-role, role: {IC}}}
    """
)


def seed(og: FakeOpsgenie) -> None:
    og.api_keys["testkey"] = set(WRITE_RIGHTS)
    og.add_custom_role(IC, "user", ["alert-action", "alert-acknowledge", "alert-close"])
    og.add_user("alice@example.com", "Alice Ng")  # on call for Primary SRE in the roster file


def with_role_granters(bot: Bot) -> None:
    """The granters as `bot/wiring.py` adds them (kept when the wiring already has them)."""
    for kind, granter in role_granters(bot.providers, bot.kv).items():
        bot.service.granting.granters.setdefault(kind, granter)  # type: ignore[attr-defined]


def connect(bot: Bot, og: FakeOpsgenie) -> None:
    """What connecting Opsgenie leaves behind: its provider in the bot's live list."""
    bot.providers.append(OpsgenieRosterProvider.from_settings(api_key="testkey", base_url=og.url))


async def test_the_role_is_given_at_approval_and_restored_when_the_access_expires(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, og: FakeOpsgenie
) -> None:
    seed(og)
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=POLICY)
    with_role_granters(bot)
    connect(bot, og)
    alice = next(u for u in og.users.values() if u.username == "alice@example.com")
    try:
        active = await bot.service.request(
            Actor("alice@example.com"), "incident-commander", timedelta(minutes=30), "INC-7"
        )
        assert active.status == Status.ACTIVE and alice.role == IC
        assert active.grant_receipt is not None
        assert active.grant_receipt["previous_role"] == "User"
        clock.advance(timedelta(minutes=29))
        await Scheduler(bot).run_lifecycle()
        assert alice.role == IC  # not a second early
        clock.advance(timedelta(minutes=1))
        await Scheduler(bot).run_lifecycle()
        assert (await bot.service.get(active.id)).status == Status.EXPIRED
        assert alice.role == "user"
        last = (await bot.audit.records())[-1]
        assert last.event == "access.expired"
        assert last.detail["granter"]["restored"] == "User"
    finally:
        await bot.close()


async def test_a_role_changed_by_hand_is_left_alone_at_expiry_and_admins_are_told(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, og: FakeOpsgenie
) -> None:
    seed(og)
    lines: list[str] = []
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=POLICY, lines=lines)
    with_role_granters(bot)
    connect(bot, og)
    alice = next(u for u in og.users.values() if u.username == "alice@example.com")
    try:
        active = await bot.service.request(
            Actor("alice@example.com"), "incident-commander", timedelta(minutes=30), ""
        )
        alice.role = "admin"  # promoted by hand during the incident
        clock.advance(timedelta(minutes=30))
        await Scheduler(bot).run_lifecycle()
        assert (await bot.service.get(active.id)).status == Status.EXPIRED
        assert alice.role == "admin"
        [alert] = [line for line in lines if "to admins: Revoking" in line]
        assert "left a manual change alone" in alert
        assert "alice@example.com's Opsgenie role is now Admin, not Incident Commander" in alert
    finally:
        await bot.close()


async def test_a_grant_before_opsgenie_is_connected_waits_and_is_retried(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, og: FakeOpsgenie
) -> None:
    seed(og)
    lines: list[str] = []
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=POLICY, lines=lines)
    with_role_granters(bot)
    try:
        reply = await bot.dispatcher.handle(
            Actor("alice@example.com"), "request incident-commander 30m"
        )
        assert not reply.ok and "granting it failed" in reply.text and reply.request is not None
        assert any("to admins:" in line and "Opsgenie is not connected" in line for line in lines)
        connect(bot, og)  # the granter finds the connection when it next acts
        clock.advance(timedelta(seconds=31))
        await Scheduler(bot).run_lifecycle()
        assert (await bot.service.get(reply.request.id)).status == Status.ACTIVE
        alice = next(u for u in og.users.values() if u.username == "alice@example.com")
        assert alice.role == IC
    finally:
        await bot.close()
