"""An organisation larger than PagerDuty will list: past the 10,000-offset cap of `/users`, the
people a policy can name are still known, and `status` says how many entries were not listed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.storage.crypto import new_key
from bot.settings import Settings
from bot.wiring import build
from core.connections import ConnectForm
from core.groups import GroupRef
from core.policy import Policy
from core.roster import Roster
from tests.adapters.pagerduty.conftest import HOUR, NOW
from tests.conftest import FakeClock
from tests.fakes.pagerduty import FakePagerDuty

ADMIN = "admin@example.com"
USERS = 10_060


@pytest.fixture
async def pagerduty() -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty(api_keys={"key"}, now=lambda: NOW, record_bodies=False) as fake:
        people = [fake.add_user(f"User {i:05d}", f"user{i:05d}@example.com") for i in range(USERS)]
        late = people[-10:]  # listed after the 10,000th: no /users page reaches them
        rota = fake.add_schedule("Night Rota", [late[0], late[1]])  # no policy uses it
        fake.add_oncall(rota, late[0], NOW - HOUR, NOW + 5 * HOUR)
        shifts = fake.add_schedule("Weekend Shifts", [late[2]], v3=True)  # nor this one
        fake.add_oncall(shifts, late[2], NOW - HOUR, NOW + 2 * HOUR)
        paged = fake.add_schedule("Paged Rota", [late[3]])
        fake.add_oncall(paged, late[3], NOW - HOUR, NOW + HOUR)
        fake.add_escalation_policy("Paging", [[paged]])
        fake.add_team("Platform", [(late[4], "responder")])
        yield fake


async def test_people_past_the_listing_cap_are_known_where_a_policy_can_name_them(
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
        assert "58 directory entries were not listed" in result.sync_summary

        roster = Roster.of(await bot.rosters.latest())
        on_call = {
            "schedule/Night Rota": "user10050@example.com",
            "schedule/Weekend Shifts": "user10052@example.com",
            "schedule/Paged Rota": "user10053@example.com",
            "escalation_policy/Paging": "user10053@example.com",
        }
        for group, email in on_call.items():
            assert roster.on_call(email, GroupRef.parse(f"pagerduty:{group}"), NOW), group
        team = GroupRef.parse("pagerduty:team/Platform")
        assert roster.is_member("user10054@example.com", team)
        # 2 looked up one by one: the on-call people the schedules name by id only
        assert sorted(r.path for r in pagerduty.requests_to("/users/*")) == sorted(
            f"/users/{u.id}"
            for u in pagerduty.users.values()
            if u.email in ("user10050@example.com", "user10052@example.com")
        )

        (line,) = await bot.admin.status_lines()
        assert (
            "58 directory entries were not listed (PagerDuty lists at most 10,000 users per "
            "query), so only people on call or in a group are known of those"
        ) in line
    finally:
        await bot.close()
