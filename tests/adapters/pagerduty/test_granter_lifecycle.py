"""pagerduty-role end to end: a real bot (roster file, SQLite, a clock the test moves) with
PagerDuty connected. A base role, or a role on a team, is given when the request is approved and
what the person had before is back when the access expires."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from textwrap import dedent

import pytest

from adapters.pagerduty import PagerDutyRosterProvider
from bot.granters import role_granters
from bot.scheduler import Scheduler
from core.identity import Actor
from core.requests import Status
from tests.builders import make_bot
from tests.conftest import FakeClock
from tests.fakes.pagerduty import FakePagerDuty


def policy(grant: str) -> str:
    return dedent(
        f"""
        version: 1
        resources:
          pd-access:
            request: {{on_call: ["file:schedule/Primary SRE"]}}
            approve: {{auto_if_on_call: true, people: ["lead@example.com"]}}
            max_duration: 2h
            grant: {grant}
        """
    )


@pytest.mark.parametrize(
    ("grant", "during", "after"),
    [
        ("{type: pagerduty-role, role: user}", ("user", None), ("limited_user", None)),
        (
            "{type: pagerduty-role, team: Platform, team_role: responder}",
            ("limited_user", "responder"),
            ("limited_user", None),
        ),
    ],
    ids=["base-role", "team-role"],
)
async def test_the_role_is_given_at_approval_and_what_was_before_is_back_at_expiry(
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
    pd: FakePagerDuty,
    grant: str,
    during: tuple[str, str | None],
    after: tuple[str, str | None],
) -> None:
    alice = pd.add_user("Alice Ng", "alice@example.com", role="limited_user")
    platform = pd.add_team("Platform")
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(grant))
    for kind, granter in role_granters(bot.providers, bot.kv).items():
        bot.service.granting.granters.setdefault(kind, granter)  # type: ignore[attr-defined]
    bot.providers.append(PagerDutyRosterProvider.from_settings(api_key="testkey", base_url=pd.url))
    try:
        active = await bot.service.request(
            Actor("alice@example.com"), "pd-access", timedelta(minutes=45), "INC-9"
        )
        assert active.status == Status.ACTIVE
        assert (alice.role, pd.team_role(platform, alice)) == during
        clock.advance(timedelta(minutes=45))
        await Scheduler(bot).run_lifecycle()
        assert (await bot.service.get(active.id)).status == Status.EXPIRED
        assert (alice.role, pd.team_role(platform, alice)) == after
        assert len(pd.role_changes) == 2
    finally:
        await bot.close()
