"""A sync after a full one, with nothing changed in PagerDuty's audit trail, reads only what can
have changed; its summary line and `status` say how many calls that saved."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.storage.crypto import new_key
from bot.settings import Settings
from bot.wiring import build
from core.connections import ConnectForm
from core.policy import Policy
from tests.adapters.pagerduty.conftest import NOW, seed_small
from tests.conftest import FakeClock
from tests.fakes.pagerduty import FakePagerDuty, generate_org

ADMIN = "admin@example.com"


@pytest.fixture
async def pagerduty() -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty(api_keys={"key"}, now=lambda: NOW, record_bodies=False) as fake:
        seed_small(fake, odd=False)
        generate_org(fake, users=230, schedules=30, escalation_policies=9, seed=4, now=NOW)
        yield fake


async def test_the_next_sync_says_how_many_calls_it_saved(
    database_url: str, pagerduty: FakePagerDuty
) -> None:
    settings = Settings(
        ONCALL_ACCESS_DATABASE_URL=database_url,
        ONCALL_ACCESS_SECRET_KEY=new_key(),
        PAGERDUTY_API_URL=pagerduty.url,
        ONCALL_ACCESS_ADMINS=ADMIN,
        _env_file=None,  # type: ignore[call-arg]
    )
    bot = await build(settings, policy=Policy(version=1), clock=FakeClock(NOW))
    try:
        assert bot.admin is not None
        result = await bot.admin.connect(ConnectForm("pagerduty", api_key="key"), ADMIN)
        assert result.ok, result.message
        assert "saved" not in result.sync_summary  # the first sync is a full one
        full = len(pagerduty.requests)

        seen = len(pagerduty.requests)
        (outcome,) = await bot.syncer.sync_all()
        made = len(pagerduty.requests) - seen
        assert outcome.api_calls == made < full
        assert outcome.calls_saved > 0
        assert f"({made} API calls, {outcome.calls_saved:,} saved" in outcome.summary()

        (line,) = await bot.admin.status_lines()
        assert f"in {made:,} API calls, {outcome.calls_saved:,} saved by reading only" in line
        assert "api_calls" not in line
    finally:
        await bot.close()
