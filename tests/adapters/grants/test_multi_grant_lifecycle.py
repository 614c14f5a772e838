"""A resource with two grants, end to end on a real SQLite file: two signed webhook receivers,
one of them down at first. What one grant gave is kept across a restart, the other is given by
the retry on the new process, and each receiver sees exactly one grant and one revoke."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from textwrap import dedent

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.grant_targets import GranterContext, all_granters
from bot.scheduler import Scheduler
from bot.settings import Settings
from core.grant_types import names
from core.identity import Actor
from core.requests import Status
from tests.builders import make_bot
from tests.conftest import FakeClock
from tests.fakes.webhook import FakeWebhookReceiver

SECRET = "s3cret-for-tests"


@pytest.fixture
async def receivers() -> AsyncIterator[tuple[FakeWebhookReceiver, FakeWebhookReceiver, str]]:
    first, second = FakeWebhookReceiver(SECRET), FakeWebhookReceiver(SECRET)
    app = web.Application()
    app.router.add_post("/first", first.handle)
    app.router.add_post("/second", second.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield first, second, str(server.make_url(""))
    finally:
        await server.close()


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)


def policy(base: str) -> str:
    return dedent(
        f"""
        version: 1
        resources:
          grafana-admin:
            request: {{on_call: ["file:schedule/Primary SRE"]}}
            approve: {{auto_if_on_call: true, people: ["lead@example.com"]}}
            grant:
              - {{type: webhook, url: "{base}/first", secret_env: HOOK_SECRET}}
              - {{type: webhook, url: "{base}/second", secret_env: HOOK_SECRET}}
        """
    )


async def _no_wait(_: float) -> None:
    return None


async def test_a_partial_grant_is_finished_after_a_restart_and_both_are_revoked(
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
    receivers: tuple[FakeWebhookReceiver, FakeWebhookReceiver, str],
) -> None:
    first, second, base = receivers
    second.down = True
    lines: list[str] = []
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(base), lines=lines)
    bot.service.granting.granters["webhook"]._sleep = _no_wait  # type: ignore[attr-defined]
    try:
        approved = await bot.service.request(
            Actor("alice@example.com"), "grafana-admin", timedelta(minutes=30), ""
        )
        assert approved.status == Status.APPROVED
        assert len(first.events("grant")) == 1 and second.events("grant") == []
        assert any("to admins: Granting" in line and "/second" not in line for line in lines)
    finally:
        await bot.close()

    second.down = False
    clock.advance(timedelta(seconds=31))
    bot = await make_bot(tmp_path, sqlite_url, clock, policy=policy(base))  # a new process
    try:
        await Scheduler(bot).run_lifecycle()
        assert (await bot.service.get(approved.id)).status == Status.ACTIVE
        assert len(first.events("grant")) == 1  # not given twice
        assert len(second.events("grant")) == 1
        clock.advance(timedelta(minutes=31))
        await Scheduler(bot).run_lifecycle()
        assert (await bot.service.get(approved.id)).status == Status.EXPIRED
        assert len(first.events("revoke")) == len(second.events("revoke")) == 1
    finally:
        await bot.close()


async def test_every_grant_type_the_policy_accepts_has_a_granter_wired(tmp_path: Path) -> None:
    bot_settings = Settings(
        ONCALL_ACCESS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        _env_file=None,  # type: ignore[call-arg]
    )
    wired = all_granters(GranterContext(bot_settings, {}, _NoNotes(), [], FakeClock()))
    assert sorted(wired) == sorted(names())


class _NoNotes:
    """The key-value store's shape; building granters reads and writes nothing."""

    async def get(self, key: str, default: object = None) -> object:
        return default

    async def put(self, key: str, value: object) -> None:
        raise AssertionError("nothing is written while granters are built")

    async def delete(self, key: str) -> None:
        raise AssertionError("nothing is deleted while granters are built")
