"""Two `oncall-access serve` processes on one PostgreSQL database, as a fleet behind a load
balancer runs: a provider connected with the CLI while they run is picked up by both, each sync
slot runs on exactly one of them, 20 concurrent Approve clicks split over both give one decision,
and when the replica holding a sync is killed with SIGKILL the other carries it through and
expires grants on time.

The replicas are real processes on the real clock; PagerDuty and Slack are the stateful fakes,
served from this test's event loop. Waits poll the database or HTTP with deadlines.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.slack.constants import APPROVE, DECISION_BLOCK, EVENTS_PATH
from adapters.storage.crypto import new_key
from adapters.storage.engine import make_engine
from adapters.storage.tables import audit_events, job_leases, job_runs, requests
from core.errors import DATABASE_UNAVAILABLE
from tests.adapters.pagerduty.conftest import seed_small
from tests.bot.serving import eventually, free_port
from tests.builders import POLICY, roster_yaml
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlackApi, payloads, send_signed
from tests.fakes.slack.constants import SIGNING_SECRET
from tests.tcpproxy import CuttableProxy, cut_postgres  # noqa: F401

ALICE, BOB, LEAD = "UALICE0001", "UBOB000001", "ULEAD00001"
ROOT = Path(__file__).resolve().parents[2]
SLOT_SECONDS = 20  # sync slots far enough apart that a taken-over slot is not superseded
TICK = "0.3"


@dataclass
class Replica:
    name: str
    port: int
    process: asyncio.subprocess.Process
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def holder_pid(self) -> str:
        return f":{self.process.pid}:"


@dataclass
class Fleet:
    replicas: list[Replica]
    engine: AsyncEngine
    env: dict[str, str]
    folder: Path
    pagerduty: FakePagerDuty
    slack: FakeSlackApi

    async def cli(self, *args: str, stdin: bytes = b"") -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", *args,
            cwd=self.folder, env=self.env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(stdin), 60)
        return proc.returncode or 0, out.decode()

    async def ready_checks(self, replica: Replica) -> dict[str, str]:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{replica.url}/readyz") as resp,
        ):
            return dict((await resp.json())["checks"])

    async def rows(self, query: Any) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def events(self, name: str) -> list[Any]:
        return await self.rows(select(audit_events).where(audit_events.c.event == name))

    async def slash(self, replica: Replica, command: str, user: str, name: str) -> None:
        url = self.slack.response_url(name, channel="C0FAKECHN1", user=user)
        body, ctype = payloads.slash_command(command, user_id=user, response_url=url)
        reply = await send_signed(replica.url + EVENTS_PATH, body, ctype, secret=SIGNING_SECRET)
        assert reply.status == 200, reply.text


async def _start(name: str, env: dict[str, str], folder: Path) -> Replica:
    port = free_port()
    log = folder / f"{name}.log"
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
            cwd=folder, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    replica = Replica(name, port, process, log)

    async def healthy() -> bool:
        if process.returncode is not None:
            raise AssertionError(f"{name} exited: {log.read_text()[-2000:]}")
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{replica.url}/healthz") as resp,
            ):
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    await eventually(healthy, within=30, what=f"{name} serving")
    return replica


async def _stop(replica: Replica) -> None:
    if replica.process.returncode is None:
        replica.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(replica.process.wait(), 10)
        except TimeoutError:
            replica.process.kill()
            await replica.process.wait()


def _env(
    database_url: str, folder: Path, pagerduty: FakePagerDuty, slack: FakeSlackApi
) -> dict[str, str]:
    """What every replica of one fleet is started with: the same settings, one database."""
    (folder / "policy.yaml").write_text(POLICY)
    (folder / "roster.yaml").write_text(roster_yaml(datetime.now(UTC)))
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("ONCALL_", "SLACK_"))}
    return {
        **keep,
        "PYTHONPATH": str(ROOT),
        "ONCALL_ACCESS_DATABASE_URL": database_url,
        "ONCALL_ACCESS_SECRET_KEY": new_key(),
        "ONCALL_ACCESS_POLICY_FILE": str(folder / "policy.yaml"),
        "ONCALL_ACCESS_ROSTER_FILE": str(folder / "roster.yaml"),
        "ONCALL_ACCESS_ADMINS": "lead@example.com",
        "ONCALL_ACCESS_TICK_SECONDS": TICK,
        "ONCALL_ACCESS_SYNC_SCHEDULE": f"* * * * * */{SLOT_SECONDS}",
        "PAGERDUTY_API_URL": pagerduty.url,
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
    }


@asynccontextmanager
async def _fleet(database_url: str, folder: Path, size: int) -> AsyncIterator[Fleet]:
    async with FakePagerDuty(api_keys={"pd-key"}) as pagerduty, FakeSlackApi() as slack:
        seed_small(pagerduty)
        slack.add_user(ALICE, "alice@example.com", name="alice")
        slack.add_user(BOB, "bob@example.com", name="bob")
        slack.add_user(LEAD, "lead@example.com", name="lead")
        env = _env(database_url, folder, pagerduty, slack)
        engine = make_engine(database_url)
        replicas: list[Replica] = []
        try:
            for name in "abc"[:size]:  # one after the other: the first migrates the database
                replicas.append(await _start(name, env, folder))
            yield Fleet(replicas, engine, env, folder, pagerduty, slack)
        finally:
            for replica in replicas:
                await _stop(replica)
            await engine.dispose()


@pytest.fixture
async def fleet(postgres_url: str, tmp_path: Path) -> AsyncIterator[Fleet]:
    async with _fleet(postgres_url, tmp_path, 2) as found:
        yield found


async def test_a_cli_connection_reaches_both_replicas_and_each_slot_syncs_once(
    fleet: Fleet,
) -> None:
    await _connect_with_the_cli(fleet)

    async def finished_slots() -> list[datetime]:
        done = await fleet.rows(select(job_runs.c.job).where(job_runs.c.job.like("sync@%")))
        return [datetime.fromisoformat(r.job.removeprefix("sync@")) for r in done]

    async def quiet_boundary() -> datetime | None:
        """A slot boundary ahead whose previous slot has finished: every sync before it is
        then behind us, so syncs from it on belong to the slots counted (a slot that began
        earlier and ran late under load would otherwise count on one side only)."""
        now = datetime.now(UTC)
        ahead = now.replace(microsecond=0) + timedelta(
            seconds=SLOT_SECONDS - now.second % SLOT_SECONDS
        )
        previous = ahead - timedelta(seconds=SLOT_SECONDS)
        if ahead - now > timedelta(seconds=1) and previous in await finished_slots():
            return ahead
        return None

    picked_up = await eventually(
        quiet_boundary, within=3 * SLOT_SECONDS + 10, what="a quiet slot boundary"
    )

    async def slots_done() -> int:
        """Finished slots from that boundary on."""
        return sum(slot >= picked_up for slot in await finished_slots())

    async def counted() -> tuple[int, int] | None:
        """Those slots and the PagerDuty syncs since, read when no slot finished in between."""
        before = await slots_done()
        synced = [
            e
            for e in await fleet.events("roster.synced")
            if e.detail["provider"] == "pagerduty" and e.at >= picked_up
        ]
        return (before, len(synced)) if before >= 2 and await slots_done() == before else None

    done, synced = await eventually(counted, within=3 * SLOT_SECONDS + 10, what="two slots")
    assert synced == done  # exactly one sync per slot across the two replicas


async def _connect_with_the_cli(fleet: Fleet) -> None:
    """`oncall-access connect pagerduty` while the fleet runs, until every replica uses it."""
    code, out = await fleet.cli("connect", "pagerduty", "--api-key-file", "-", stdin=b"pd-key\n")
    assert code == 0, out
    for replica in fleet.replicas:
        await eventually(
            lambda r=replica: _has_pagerduty(fleet, r),  # type: ignore[misc]
            within=10,
            what=f"replica {replica.name} using the new connection",
        )


async def _has_pagerduty(fleet: Fleet, replica: Replica) -> bool:
    return "roster:pagerduty" in await fleet.ready_checks(replica)


async def test_concurrent_approve_clicks_on_both_replicas_make_one_decision(
    fleet: Fleet,
) -> None:
    await fleet.slash(fleet.replicas[0], "request prod-db 1h INC-7", ALICE, "ask")
    answer = await fleet.slack.next_call("response_url:ask", timeout=10)
    assert "is waiting for approval" in answer.params["text"], answer.params
    request_id = answer.params["text"].split()[1]
    await fleet.slack.wait_until(
        lambda: len(_approval_cards(fleet.slack)) >= 2, timeout=10, what="approval DMs"
    )
    cards = _approval_cards(fleet.slack)

    async def click(i: int) -> int:
        (channel, ts), message = cards[i % len(cards)]
        user = BOB if channel == fleet.slack.dm_channel_id(BOB) else LEAD
        url = fleet.slack.response_url(f"click{i}", channel=channel, message_ts=ts, user=user)
        body, ctype = payloads.block_actions(
            APPROVE, request_id, block_id=DECISION_BLOCK, message=message, message_ts=ts,
            channel_id=channel, user_id=user, response_url=url,
        )  # fmt: skip
        replica = fleet.replicas[i % 2]
        reply = await send_signed(replica.url + EVENTS_PATH, body, ctype, secret=SIGNING_SECRET)
        return reply.status

    assert await asyncio.gather(*(click(i) for i in range(20))) == [200] * 20

    async def decided() -> list[Any]:
        return await fleet.rows(
            select(audit_events).where(
                audit_events.c.request_id == request_id,
                audit_events.c.event.in_(("request.approved", "access.granted")),
            )
        )

    await eventually(decided, within=10, what="the decision")
    for i in range(20):  # every click was answered, by whichever replica took it
        await fleet.slack.next_call(f"response_url:click{i}", timeout=10)
    events = [r.event for r in await decided()]
    assert events.count("request.approved") == 1
    assert events.count("access.granted") == 1
    [(status,)] = await fleet.rows(select(requests.c.status).where(requests.c.id == request_id))
    assert status == "active"


def _approval_cards(slack: FakeSlackApi) -> list[tuple[tuple[str, str], dict[str, Any]]]:
    return [(k, m) for k, m in slack.messages.items() if "Access request" in str(m.get("blocks"))]


async def test_a_killed_replica_gives_up_its_sync_and_grants_still_end_on_time(
    fleet: Fleet,
) -> None:
    await _connect_with_the_cli(fleet)
    fleet.pagerduty.latency = 1.0  # the next slot's sync takes several seconds

    async def held_sync() -> Any:
        now = datetime.now(UTC)
        rows = await fleet.rows(
            select(job_leases).where(
                job_leases.c.job.like("sync@%"), job_leases.c.lease_until > now
            )
        )
        return rows[0] if rows else None

    lease = await eventually(held_sync, within=2 * SLOT_SECONDS, what="a sync under way")
    victim = next(r for r in fleet.replicas if r.holder_pid in lease.holder)
    survivor = next(r for r in fleet.replicas if r is not victim)
    # A grant that ends while the victim is gone: alice is on call, grafana-admin is automatic.
    await fleet.slash(survivor, "request grafana-admin 3s", ALICE, "grant")
    answer = await fleet.slack.next_call("response_url:grant", timeout=10)
    assert "Approved" in answer.params["text"] or "granted" in answer.params["text"].lower()

    victim.process.send_signal(signal.SIGKILL)
    await victim.process.wait()
    killed_at = datetime.now(UTC)
    fleet.pagerduty.latency = 0.0

    async def taken_over() -> Any:
        rows = await fleet.rows(select(job_runs).where(job_runs.c.job == lease.job))
        return rows[0] if rows else None

    run = await eventually(taken_over, within=SLOT_SECONDS, what="the slot finished elsewhere")
    assert survivor.holder_pid in run.holder
    assert (run.finished_at - killed_at).total_seconds() <= 15, (run, killed_at)

    async def expired() -> Any:
        rows = await fleet.rows(
            select(requests.c.expires_at, requests.c.status).where(
                requests.c.resource == "grafana-admin", requests.c.status == "expired"
            )
        )
        return rows[0] if rows else None

    row = await eventually(expired, within=30, what="the grant expired")
    [(ended_at,)] = await fleet.rows(
        text("SELECT max(at) FROM audit_events WHERE event = 'access.expired'")
    )
    assert ended_at is not None
    assert (ended_at.replace(tzinfo=UTC) - row.expires_at).total_seconds() <= 20
    assert timedelta(0) <= ended_at.replace(tzinfo=UTC) - row.expires_at


async def test_a_replica_rides_out_a_database_outage_and_recovers_by_itself(
    cut_postgres: tuple[str, CuttableProxy],  # noqa: F811
    tmp_path: Path,
) -> None:
    url, proxy = cut_postgres
    async with _fleet(url, tmp_path, 1) as fleet:
        [replica] = fleet.replicas

        async def ready() -> int:
            async with aiohttp.ClientSession() as http, http.get(f"{replica.url}/readyz") as resp:
                return resp.status

        await eventually(lambda: _is(ready, 200), within=10, what="ready")
        await proxy.cut()
        await eventually(lambda: _is(ready, 503), within=10, what="not ready while cut")
        await fleet.slash(replica, "mine", ALICE, "during")
        during = await fleet.slack.next_call("response_url:during", timeout=15)
        assert during.params["text"] == DATABASE_UNAVAILABLE

        proxy.restore()
        await eventually(lambda: _is(ready, 200), within=15, what="ready again")
        await fleet.slash(replica, "request grafana-admin 30m", ALICE, "after")
        after = await fleet.slack.next_call("response_url:after", timeout=15)
        assert "grafana-admin is yours" in after.params["text"], after.params
        assert "Traceback" not in replica.log.read_text()


async def _is(probe: Callable[[], Awaitable[int]], status: int) -> bool:
    return await probe() == status
