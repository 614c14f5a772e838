"""A real bot (tests/builders.make_bot) with the Slack surface mounted through
`bot/slack_wiring.py` on the real aiohttp app, served on an ephemeral port; its Web API calls go
to the stateful fake, and every inbound request is signed as Slack signs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.adapters.slack.rig import ALICE, BOB, LEAD, NOBODY, SlackRig, start_rig
from tests.conftest import FakeClock
from tests.fakes.slack import FakeSlackApi
from tests.fakes.slack.fixtures import fake_slack  # noqa: F401


@pytest.fixture
async def rig(
    fake_slack: FakeSlackApi,  # noqa: F811
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
) -> AsyncIterator[SlackRig]:
    fake_slack.add_user(ALICE, "alice@example.com", tz="Europe/Berlin", name="alice")
    fake_slack.add_user(BOB, "bob@example.com", tz="America/New_York", name="bob")
    fake_slack.add_user(LEAD, "Lead@Example.com", tz="UTC", name="lead")
    fake_slack.add_user(NOBODY, None, name="nobody")
    async with start_rig(fake_slack, tmp_path, sqlite_url, clock) as found:
        yield found
