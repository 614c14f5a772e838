"""`/metrics` after real actions: requests by outcome with their decision time, roster syncs
timed and their failures counted, webhook grants and revokes that fail or wait, each read over
HTTP from the real app and parsed with prometheus_client's text parser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from textwrap import dedent

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.http import make_app
from bot.scheduler import Scheduler
from bot.wiring import Bot
from core.identity import Actor
from core.requests import Status
from tests.builders import make_bot
from tests.conftest import FakeClock
from tests.fakes.webhook import FakeWebhookReceiver
from tests.scrape import scrape

ALICE, BOB = Actor("alice@example.com"), Actor("bob@example.com")
SECRET = "s3cret-for-metrics"


@pytest.fixture
async def bot(tmp_path: Path, sqlite_url: str, clock: FakeClock) -> AsyncIterator[Bot]:
    built = await make_bot(tmp_path, sqlite_url, clock)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def url(bot: Bot) -> AsyncIterator[str]:
    """Where the bot's real aiohttp app serves, on a free loopback port."""
    server = TestServer(make_app(bot), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield str(server.make_url(""))
    finally:
        await server.close()


async def test_requests_are_counted_by_outcome_with_the_time_to_their_verdict(
    bot: Bot, url: str
) -> None:
    before = await scrape(url)
    assert before.value("oncall_access_requests_total", outcome="approved") == 0
    assert before.types["oncall_access_decision_seconds"] == "histogram"

    await bot.dispatcher.handle(ALICE, "request grafana-admin 30m")  # on call: at once
    await bot.dispatcher.handle(ALICE, 'request prod-db 1h "INC-1"')  # asks the secondary
    await bot.dispatcher.handle(ALICE, "request prod-db 9h INC-2")  # over the 4h maximum
    await bot.dispatcher.handle(BOB, "request grafana-admin 30m")  # not on call for Primary

    after = await scrape(url)
    assert after.value("oncall_access_requests_total", outcome="approved") == 1
    assert after.value("oncall_access_requests_total", outcome="pending") == 1
    assert after.value("oncall_access_requests_total", outcome="refused") == 2
    assert after.value("oncall_access_requests_total", outcome="error") == 0
    assert after.value("oncall_access_decision_seconds_count") == 4
    assert after.value("oncall_access_decision_seconds_bucket", le="+Inf") == 4
    assert after.value("oncall_access_requests_open", status="pending") == 1
    assert after.value("oncall_access_requests_open", status="active") == 1


async def test_syncs_are_timed_and_failed_ones_counted(
    bot: Bot, url: str, tmp_path: Path, clock: FakeClock
) -> None:
    first = await scrape(url)
    assert first.value("oncall_access_sync_seconds_count", provider="file") == 1  # at build
    assert first.value("oncall_access_sync_failures_total", provider="file") == 0

    (tmp_path / "roster.yaml").write_text("groups: [\n")
    clock.advance(timedelta(minutes=10))
    for _ in range(2):
        assert not (await bot.syncer.sync(bot.providers[0])).ok

    after = await scrape(url)
    assert after.value("oncall_access_sync_seconds_count", provider="file") == 3
    assert after.value("oncall_access_sync_failures_total", provider="file") == 2
    assert after.value("oncall_access_sync_consecutive_failures", provider="file") == 2
    assert after.value("oncall_access_roster_age_seconds", provider="file") == 600


async def test_a_provider_whose_roster_was_removed_leaves_no_age_behind(bot: Bot, url: str) -> None:
    assert (await scrape(url)).has("oncall_access_roster_age_seconds", provider="file")

    await bot.rosters.remove(bot.providers[0].provider)

    assert not (await scrape(url)).has("oncall_access_roster_age_seconds", provider="file")


@pytest.fixture
async def receiver(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[FakeWebhookReceiver, str]]:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    fake = FakeWebhookReceiver(SECRET)
    app = web.Application()
    app.router.add_post("/hook", fake.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield fake, str(server.make_url("/hook"))
    finally:
        await server.close()


def webhook_policy(url: str) -> str:
    return dedent(
        f"""
        version: 1
        resources:
          grafana-admin:
            request: {{on_call: ["file:schedule/Primary SRE"]}}
            approve: {{auto_if_on_call: true, people: ["lead@example.com"]}}
            max_duration: 2h
            grant: {{type: webhook, url: "{url}", secret_env: HOOK_SECRET}}
        """
    )


async def test_webhook_grants_and_revokes_report_latency_failures_and_waiting_work(
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
    receiver: tuple[FakeWebhookReceiver, str],
) -> None:
    fake, hook = receiver
    built = await make_bot(tmp_path, sqlite_url, clock, policy=webhook_policy(hook))
    server = TestServer(make_app(built), host="127.0.0.1", port=0)
    await server.start_server()
    url = str(server.make_url(""))
    try:
        fake.fail_next = [403]  # the receiver refuses the grant once
        request = await built.service.request(ALICE, "grafana-admin", timedelta(minutes=30), "")
        assert request.status == Status.APPROVED

        failed = await scrape(url)
        assert (
            failed.value("oncall_access_grant_failures_total", kind="webhook", action="grant") == 1
        )
        assert failed.value("oncall_access_grants_pending") == 1
        assert failed.value("oncall_access_webhook_seconds_count") == 1

        clock.advance(timedelta(seconds=31))  # the retry is due
        await Scheduler(built).run_lifecycle()
        granted = await scrape(url)
        assert (await built.service.get(request.id)).status == Status.ACTIVE
        assert granted.value("oncall_access_grants_pending") == 0
        assert granted.value("oncall_access_revokes_pending") == 0
        assert granted.value("oncall_access_webhook_seconds_count") == 2

        clock.advance(timedelta(minutes=30))  # the access ends; the receiver refuses the revoke
        fake.fail_next = [403]
        await Scheduler(built).run_lifecycle()
        waiting = await scrape(url)
        assert waiting.value("oncall_access_revokes_pending") == 1
        assert (
            waiting.value("oncall_access_grant_failures_total", kind="webhook", action="revoke")
            == 1
        )
        assert waiting.value("oncall_access_webhook_seconds_count") == 3
    finally:
        await server.close()
        await built.close()


async def test_two_bots_in_one_process_count_apart(
    bot: Bot, url: str, tmp_path: Path, clock: FakeClock
) -> None:
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = await make_bot(other_dir, f"sqlite+aiosqlite:///{other_dir / 'other.db'}", clock)
    server = TestServer(make_app(other), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        await bot.dispatcher.handle(ALICE, "request grafana-admin 30m")

        assert (await scrape(url)).value("oncall_access_requests_total", outcome="approved") == 1
        other_scrape = await scrape(str(server.make_url("")))
        assert other_scrape.value("oncall_access_requests_total", outcome="approved") == 0
    finally:
        await server.close()
        await other.close()
