"""Webhook grants end to end: a real bot, a receiver that verifies what it gets, a controllable
clock. Exactly one grant and one revoke reach the receiver per access, also across retries,
outages and restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from textwrap import dedent

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.scheduler import Scheduler
from core.identity import Actor
from core.requests import Status
from tests.builders import make_bot
from tests.conftest import FakeClock
from tests.fakes.webhook import FakeWebhookReceiver

SECRET = "s3cret-for-tests"


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[FakeWebhookReceiver, str]]:
    fake = FakeWebhookReceiver(SECRET)
    app = web.Application()
    app.router.add_post("/hook", fake.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield fake, str(server.make_url("/hook"))
    finally:
        await server.close()


def policy(url: str) -> str:
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


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)


async def _no_wait(_: float) -> None:
    return None


def _fast_retries(bot: object) -> None:
    granter = bot.service.granting.granters["webhook"]
    granter._sleep = _no_wait


async def test_one_grant_and_one_revoke_reach_the_receiver(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, receiver: tuple[FakeWebhookReceiver, str]
) -> None:
    fake, url = receiver
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(url))
    try:
        active = await bot.service.request(
            Actor("alice@example.com"), "grafana-admin", timedelta(minutes=30), ""
        )
        assert active.status == Status.ACTIVE
        [grant] = fake.events("grant")
        assert (grant["email"], grant["resource"], grant["request_id"]) == (
            "alice@example.com",
            "grafana-admin",
            active.id,
        )
        clock.advance(timedelta(minutes=29))
        await Scheduler(bot).run_lifecycle()
        assert fake.events("revoke") == []  # not a second early
        clock.advance(timedelta(minutes=1))
        await Scheduler(bot).run_lifecycle()
        [revoke] = fake.events("revoke")
        assert revoke["idempotency_key"] == f"{active.id}:revoke"
        assert (await bot.service.get(active.id)).status == Status.EXPIRED
        assert fake.rejected == 0
    finally:
        await bot.close()


async def test_a_lost_answer_is_retried_with_the_same_key_and_acted_on_once(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, receiver: tuple[FakeWebhookReceiver, str]
) -> None:
    fake, url = receiver
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(url))
    _fast_retries(bot)
    try:
        fake.lose_response_next = 2  # acts, but answers 500 twice
        active = await bot.service.request(Actor("alice@example.com"), "grafana-admin", None, "")
        assert active.status == Status.ACTIVE
        assert fake.deliveries == 3
        assert len(fake.events("grant")) == 1
    finally:
        await bot.close()


async def test_a_revoke_is_retried_until_the_receiver_is_back_and_admins_are_told(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, receiver: tuple[FakeWebhookReceiver, str]
) -> None:
    fake, url = receiver
    lines: list[str] = []
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(url), lines=lines)
    _fast_retries(bot)
    try:
        active = await bot.service.request(
            Actor("alice@example.com"), "grafana-admin", timedelta(minutes=10), ""
        )
        fake.down = True
        clock.advance(timedelta(minutes=10))
        await Scheduler(bot).run_lifecycle()
        still = await bot.service.get(active.id)
        assert still.status == Status.ACTIVE and still.attempts == 1
        assert any("to admins: Revoking" in line for line in lines)
        fake.down = False
        await Scheduler(bot).run_lifecycle()  # backoff not over yet: no new attempt
        assert fake.events("revoke") == []
        clock.advance(timedelta(seconds=31))
        await Scheduler(bot).run_lifecycle()
        assert len(fake.events("revoke")) == 1
        assert (await bot.service.get(active.id)).status == Status.EXPIRED
        events = [r.event for r in await bot.audit.records()]
        assert events.count("access.revoke_failed") == 1 and events[-1] == "access.expired"
    finally:
        await bot.close()


async def test_a_grant_whose_end_passed_while_the_bot_was_down_is_revoked_at_start(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, receiver: tuple[FakeWebhookReceiver, str]
) -> None:
    fake, url = receiver
    first = await make_bot(tmp_path, sqlite_url, clock, policy=policy(url))
    active = await first.service.request(
        Actor("alice@example.com"), "grafana-admin", timedelta(minutes=15), ""
    )
    await first.close()  # the bot stops with the access still held

    clock.advance(timedelta(hours=3))
    second = await make_bot(tmp_path, sqlite_url, clock, policy=policy(url))
    try:
        await Scheduler(second).run_lifecycle()  # the first tick after start
        assert len(fake.events("revoke")) == 1
        assert (await second.service.get(active.id)).status == Status.EXPIRED
    finally:
        await second.close()


async def test_a_refused_grant_leaves_the_request_approved_and_is_retried(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, receiver: tuple[FakeWebhookReceiver, str]
) -> None:
    fake, url = receiver
    lines: list[str] = []
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(url), lines=lines)
    try:
        fake.fail_next = [400]
        reply = await bot.dispatcher.handle(Actor("alice@example.com"), "request grafana-admin 1h")
        assert not reply.ok and "granting it failed" in reply.text
        assert reply.request is not None
        assert (await bot.service.get(reply.request.id)).status == Status.APPROVED
        assert any("to alice@example.com" in line and "failed" in line for line in lines)
        clock.advance(timedelta(seconds=31))
        await Scheduler(bot).run_lifecycle()
        assert (await bot.service.get(reply.request.id)).status == Status.ACTIVE
        assert len(fake.events("grant")) == 1
    finally:
        await bot.close()


async def test_a_manual_revoke_that_fails_is_finished_by_the_scheduler(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, receiver: tuple[FakeWebhookReceiver, str]
) -> None:
    fake, url = receiver
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(url))
    _fast_retries(bot)
    try:
        active = await bot.service.request(
            Actor("alice@example.com"), "grafana-admin", timedelta(hours=1), ""
        )
        fake.down = True
        reply = await bot.dispatcher.handle(Actor("alice@example.com"), f"revoke {active.id}")
        assert not reply.ok and "retried until it does" in reply.text
        fake.down = False
        clock.advance(timedelta(seconds=31))
        await Scheduler(bot).run_lifecycle()
        assert (await bot.service.get(active.id)).status == Status.REVOKED
        assert len(fake.events("revoke")) == 1
    finally:
        await bot.close()


async def test_a_policy_change_mid_grant_still_revokes_what_was_granted(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, receiver: tuple[FakeWebhookReceiver, str]
) -> None:
    fake, url = receiver
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(url))
    try:
        active = await bot.service.request(
            Actor("alice@example.com"), "grafana-admin", timedelta(minutes=20), ""
        )
        changed = tmp_path / "policy.yaml"
        changed.write_text(
            policy(url)
            .replace("grant: {type: webhook", "grant: {type: record, was: webhook")
            .split(", url:")[0]
            + "}\n"
        )
        bot.policy.path = changed
        assert bot.policy.reload().resources["grafana-admin"].grants[0].type == "record"

        clock.advance(timedelta(minutes=20))
        await Scheduler(bot).run_lifecycle()

        assert len(fake.events("revoke")) == 1  # the webhook that granted it is told
        assert (await bot.service.get(active.id)).status == Status.EXPIRED
    finally:
        await bot.close()


async def test_an_extension_reaches_the_receiver_with_the_new_end_and_its_own_signed_key(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, receiver: tuple[FakeWebhookReceiver, str]
) -> None:
    fake, url = receiver
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(url))
    try:
        alice = Actor("alice@example.com")
        active = await bot.service.request(alice, "grafana-admin", timedelta(minutes=30), "")

        extended = await bot.service.extend(alice, active.id, timedelta(minutes=30))
        await bot.service.extend(alice, active.id, timedelta(minutes=15))

        assert extended.expires_at is not None
        first, second = fake.events("extend")
        new_end = extended.expires_at.isoformat().replace("+00:00", "Z")
        assert (first["request_id"], first["end"]) == (active.id, new_end)
        # The key the receiver deduplicates on is in the signed body, one per extension.
        assert first["idempotency_key"] == f"{active.id}:extend:{new_end}"
        assert second["idempotency_key"] != first["idempotency_key"]
        assert fake.rejected == 0
        clock.advance(timedelta(minutes=74))
        await Scheduler(bot).run_lifecycle()
        assert fake.events("revoke") == []  # the grant now runs 75 minutes
        clock.advance(timedelta(minutes=1))
        await Scheduler(bot).run_lifecycle()
        assert len(fake.events("revoke")) == 1
    finally:
        await bot.close()


async def test_an_extension_the_receiver_refuses_stands_and_the_admins_are_told(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, receiver: tuple[FakeWebhookReceiver, str]
) -> None:
    fake, url = receiver
    lines: list[str] = []
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(url), lines=lines)
    try:
        alice = Actor("alice@example.com")
        active = await bot.service.request(alice, "grafana-admin", timedelta(minutes=30), "")
        fake.fail_next = [400]

        extended = await bot.service.extend(alice, active.id, timedelta(minutes=30))

        assert extended.status == Status.ACTIVE and fake.events("extend") == []
        assert any(
            f"The extension of {active.id}" in line and "refused (400)" in line for line in lines
        )
    finally:
        await bot.close()
