"""How `serve` gets Slack: settings decide whether the surface is on and how it is reached.
The bot built from Slack settings has its notifier in the fan-out from the start, and
`mount_slack` adds the route and the start/stop hooks to the one aiohttp app."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from adapters.slack.app import BACKGROUND_LIMIT
from bot.http import make_app
from bot.settings import Settings
from bot.slack_wiring import SLACK_KEY, mount_slack, slack_config
from tests.adapters.slack.rig import ALICE, SlackRig
from tests.builders import make_bot
from tests.conftest import FakeClock
from tests.fakes.slack import FakeSlackApi, payloads, send_signed, serve
from tests.fakes.slack.constants import SIGNING_SECRET


def _settings(**env: str) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


def test_slack_is_off_without_a_bot_token() -> None:
    assert slack_config(_settings(SLACK_SIGNING_SECRET="s")) is None


def test_slack_needs_a_way_in(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    assert slack_config(_settings(SLACK_BOT_TOKEN="xoxb-1")) is None
    assert "neither SLACK_SIGNING_SECRET nor SLACK_APP_TOKEN" in caplog.text
    assert "xoxb-1" not in caplog.text


def test_settings_map_to_the_slack_config() -> None:
    config = slack_config(
        _settings(
            SLACK_BOT_TOKEN="xoxb-1",
            SLACK_SIGNING_SECRET="sig",
            SLACK_APP_TOKEN="xapp-1",
            SLACK_API_URL="http://127.0.0.1:9/api",
            ONCALL_ACCESS_SLACK_TEAM_ID="T1",
            ONCALL_ACCESS_SLACK_APPROVALS_CHANNEL="C1",
        )
    )
    assert config is not None
    assert (config.bot_token, config.signing_secret, config.app_token) == (
        "xoxb-1",
        "sig",
        "xapp-1",
    )
    assert config.base_url == "http://127.0.0.1:9/api/"
    assert (config.team_id, config.approvals_channel) == ("T1", "C1")
    assert "xoxb-1" not in repr(config) and "sig" not in repr(config)


async def test_mount_slack_from_the_bots_settings(
    fake_slack: FakeSlackApi, tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    fake_slack.add_user(ALICE, "alice@example.com")
    bot = await make_bot(
        tmp_path,
        sqlite_url,
        clock,
        fields={
            "slack_bot_token": fake_slack.token,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": fake_slack.base_url,
        },
    )
    try:
        app = make_app(bot)
        surface = mount_slack(bot, app)
        assert surface is not None and app[SLACK_KEY] is surface
        assert surface.notifier in bot.notifier.notifiers
        async with serve(app) as root:
            body, content_type = payloads.slash_command(
                "help", user_id=ALICE, response_url=fake_slack.response_url("cmd")
            )
            reply = await send_signed(
                f"{root}/slack/events", body, content_type, secret=SIGNING_SECRET
            )
            assert reply.status == 200
            assert (
                "request RESOURCE"
                in (await fake_slack.next_call("response_url:cmd")).params["text"]
            )
    finally:
        await bot.close()


async def test_mount_slack_does_nothing_when_slack_is_not_configured(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    bot = await make_bot(tmp_path, sqlite_url, clock)
    try:
        app = make_app(bot)
        assert mount_slack(bot, app) is None
        assert all(
            r.resource is None or r.resource.canonical != "/slack/events"
            for r in app.router.routes()
        )
    finally:
        await bot.close()


async def test_work_after_the_ack_runs_a_bounded_number_at_a_time(rig: SlackRig) -> None:
    """A burst of commands never starts more database work at once than the pool can serve."""
    running, peak, release = 0, 0, asyncio.Event()
    all_waiting = asyncio.Event()

    async def work() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        if running == BACKGROUND_LIMIT:
            all_waiting.set()
        await release.wait()
        running -= 1

    tasks = [rig.surface.spawn(work()) for _ in range(3 * BACKGROUND_LIMIT)]
    await asyncio.wait_for(all_waiting.wait(), 5)
    assert (running, peak) == (BACKGROUND_LIMIT, BACKGROUND_LIMIT)
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert (running, peak) == (0, BACKGROUND_LIMIT)
