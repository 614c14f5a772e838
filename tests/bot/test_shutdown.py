"""Graceful shutdown of a real `oncall-access serve` process: on SIGTERM it stops taking work
(readiness fails, new chat requests get 503), finishes the grant and the revoke it has in flight
at a slow webhook receiver, answers in chat, leaves no job lease behind and exits 0; work that
outlasts ONCALL_ACCESS_SHUTDOWN_SECONDS is cancelled and the replica still exits 0 in time."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.slack.constants import EVENTS_PATH
from adapters.storage.crypto import new_key
from adapters.storage.engine import make_engine
from adapters.storage.tables import audit_events, job_leases, requests
from tests.bot.serving import Served, base_env, eventually, start_serve
from tests.builders import roster_yaml
from tests.fakes.slack import FakeSlackApi, payloads, send_signed
from tests.fakes.slack.constants import SIGNING_SECRET

ALICE = "UALICE0001"


@dataclass
class HoldingReceiver:
    """A grant webhook receiver that, once told to hold, keeps every delivery waiting until the
    test lets them go."""

    holding: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)
    held: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        event = json.loads(await request.read())
        self.received.append(event)
        if self.holding:
            self.held += 1
            await self.gate.wait()
        return web.json_response({"ok": True})


def _policy(hook: str) -> str:
    grant = f'{{type: webhook, url: "{hook}", secret_env: HOOK_SECRET}}'
    return dedent(
        f"""
        version: 1
        resources:
          grafana-admin:
            request: {{on_call: ["file:schedule/Primary SRE"]}}
            approve: {{auto_if_on_call: true, people: ["lead@example.com"]}}
            grant: {grant}
          prod-logs:
            request: {{on_call: ["file:schedule/Primary SRE"]}}
            approve: {{auto_if_on_call: true, people: ["lead@example.com"]}}
            grant: {grant}
        """
    )


@dataclass
class Rig:
    served: Served
    receiver: HoldingReceiver
    slack: FakeSlackApi
    engine: AsyncEngine

    async def slash(self, command: str, name: str) -> int:
        url = self.slack.response_url(name, channel="C0FAKECHN1", user=ALICE)
        body, ctype = payloads.slash_command(command, user_id=ALICE, response_url=url)
        reply = await send_signed(self.served.url + EVENTS_PATH, body, ctype, secret=SIGNING_SECRET)
        return reply.status

    async def rows(self, query: Any) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def status_of(self, resource: str) -> str | None:
        found = await self.rows(select(requests.c.status).where(requests.c.resource == resource))
        return found[0].status if found else None

    async def leases_held(self) -> list[Any]:
        pid = f":{self.served.process.pid}:"
        return [r for r in await self.rows(select(job_leases)) if pid in r.holder]


@pytest.fixture
async def rig(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Rig]:
    receiver = HoldingReceiver()
    hook_app = web.Application()
    hook_app.router.add_post("/hook", receiver.handle)
    hook = TestServer(hook_app, host="127.0.0.1", port=0)
    await hook.start_server()
    (tmp_path / "policy.yaml").write_text(_policy(str(hook.make_url("/hook"))))
    (tmp_path / "roster.yaml").write_text(roster_yaml(datetime.now(UTC)))
    shutdown_seconds = getattr(request, "param", "60")
    async with FakeSlackApi() as slack:
        slack.add_user(ALICE, "alice@example.com", name="alice")
        env = base_env(
            {
                "ONCALL_ACCESS_DATABASE_URL": database_url,
                "ONCALL_ACCESS_SECRET_KEY": new_key(),
                "ONCALL_ACCESS_POLICY_FILE": str(tmp_path / "policy.yaml"),
                "ONCALL_ACCESS_ROSTER_FILE": str(tmp_path / "roster.yaml"),
                "ONCALL_ACCESS_TICK_SECONDS": "0.3",
                "ONCALL_ACCESS_SHUTDOWN_SECONDS": shutdown_seconds,
                "HOOK_SECRET": "hook-secret-for-tests",
                "SLACK_BOT_TOKEN": slack.token,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": slack.base_url,
            }
        )
        engine = make_engine(database_url)
        served = await start_serve(env, tmp_path)
        try:  # ready: the roster is synced, so alice is on call
            await eventually(lambda: _is(served.status("/readyz"), 200), within=30, what="ready")
            yield Rig(served, receiver, slack, engine)
        finally:
            receiver.gate.set()
            await served.stop()
            await engine.dispose()
            await hook.close()


async def test_sigterm_finishes_the_grant_and_revoke_in_flight_and_exits_0(rig: Rig) -> None:
    assert await rig.slash("request grafana-admin 2s", "first") == 200
    await eventually(
        lambda: _true(bool(rig.receiver.received)), within=15, what="the first grant delivered"
    )
    rig.receiver.holding = True  # from now on the receiver keeps every delivery waiting
    assert await rig.slash("request prod-logs 1h", "second") == 200
    # The grant of prod-logs (Slack's background work) and, once grafana-admin's 2 s are up,
    # its revoke (the scheduler's lifecycle job, under its lease) both wait at the receiver.
    await eventually(lambda: _true(rig.receiver.held >= 2), within=20, what="two held deliveries")
    assert await rig.leases_held(), "the lifecycle job holds its lease while it revokes"

    rig.served.process.send_signal(signal.SIGTERM)

    await eventually(lambda: _is(rig.served.status("/readyz"), 503), within=10, what="not ready")
    assert await rig.slash("mine", "refused") == 503  # no new work
    assert rig.served.process.returncode is None  # still finishing what it has
    rig.receiver.gate.set()

    assert await asyncio.wait_for(rig.served.process.wait(), 30) == 0
    assert await rig.status_of("prod-logs") == "active"
    assert await rig.status_of("grafana-admin") == "expired"
    events = [r.event for r in await rig.rows(select(audit_events.c.event))]
    assert events.count("access.granted") == 2 and events.count("access.expired") == 1
    answer = await rig.slack.next_call("response_url:second", timeout=5)
    assert "prod-logs is yours" in answer.params["text"], answer.params
    assert await rig.leases_held() == []
    assert [e["event"] for e in rig.receiver.received].count("revoke") == 1
    log = rig.served.log.read_text()
    assert "Traceback" not in log and "stopped before" not in log
    assert "job lease(s) released" in log


@pytest.mark.parametrize("rig", ["2"], indirect=True)
async def test_work_that_outlasts_the_shutdown_budget_is_cancelled_and_the_replica_still_exits_0(
    rig: Rig,
) -> None:
    rig.receiver.holding = True  # never let go while the replica runs
    assert await rig.slash("request prod-logs 1h", "held") == 200
    await eventually(lambda: _true(rig.receiver.held >= 1), within=15, what="a held grant")

    rig.served.process.send_signal(signal.SIGTERM)

    # 2 s of budget, then cancelled: without it the replica would wait for the receiver forever
    assert await asyncio.wait_for(rig.served.process.wait(), 20) == 0
    assert await rig.status_of("prod-logs") == "approved"  # granted later by the scheduler
    assert await rig.leases_held() == []
    assert "stopped before chat requests and their answers finished" in rig.served.log.read_text()


async def _is(probe: Any, expected: Any) -> bool:
    return await probe == expected


async def _true(value: bool) -> bool:
    return value
