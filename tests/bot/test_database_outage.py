"""The bot through a PostgreSQL outage, played by cutting a TCP proxy between the bot and a real
server: readiness says so in time, a person gets one clear sentence instead of an error id, the
bot recovers by itself when the database is back, and nothing acknowledged is lost."""

from __future__ import annotations

import io
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.console.repl import run_console
from bot.http import READY_TIMEOUT, make_app
from bot.scheduler import Scheduler
from bot.wiring import Bot
from core.errors import DATABASE_UNAVAILABLE, OUTCOME_UNKNOWN
from core.granting import GRANT_GRACE
from core.identity import Actor
from core.lifecycle import Lifecycle
from core.requests import Status
from tests.bot.clirun import fresh_directory, run, write_policy_and_roster
from tests.builders import make_bot
from tests.conftest import FakeClock
from tests.tcpproxy import CuttableProxy, cut_postgres  # noqa: F401

ALICE, BOB = Actor("alice@example.com"), Actor("bob@example.com")
REQUEST = 'request prod-db 1h "INC-1"'


@pytest.fixture
async def bot(
    tmp_path: Path,
    clock: FakeClock,
    cut_postgres: tuple[str, CuttableProxy],  # noqa: F811
) -> AsyncIterator[Bot]:
    url, _ = cut_postgres
    built = await make_bot(tmp_path, url, clock)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
def proxy(cut_postgres: tuple[str, CuttableProxy]) -> CuttableProxy:  # noqa: F811
    return cut_postgres[1]


@pytest.fixture
async def http(bot: Bot) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with TestClient(TestServer(make_app(bot), port=0)) as client:
        yield client


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logged = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert logged == [], [r.getMessage() for r in logged]


async def test_readyz_is_not_ready_while_the_database_is_cut_and_ready_once_it_is_back(
    http: TestClient,  # type: ignore[type-arg]
    proxy: CuttableProxy,
) -> None:
    assert (await http.get("/readyz")).status == 200

    await proxy.cut()
    response = await http.get("/readyz")

    assert response.status == 503
    body = await response.json()
    assert body["ready"] is False
    assert list(body["checks"]) == ["database"]
    assert body["checks"]["database"].startswith("unreachable (")

    proxy.restore()
    response = await http.get("/readyz")
    assert response.status == 200
    assert (await response.json())["checks"]["database"] == "ok"


async def test_readyz_answers_in_time_when_the_database_stops_answering(
    http: TestClient,  # type: ignore[type-arg]
    proxy: CuttableProxy,
) -> None:
    await proxy.cut(hang=True)
    started = time.monotonic()

    response = await http.get("/readyz")

    assert response.status == 503
    assert (await response.json())["checks"] == {
        "database": f"unreachable (no answer within {READY_TIMEOUT:g} s)"
    }
    assert time.monotonic() - started < READY_TIMEOUT + 1.0

    proxy.restore()
    assert (await http.get("/readyz")).status == 200


async def test_metrics_scrape_fails_plainly_while_the_database_is_cut(
    http: TestClient,  # type: ignore[type-arg]
    proxy: CuttableProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await proxy.cut()

    response = await http.get("/metrics")

    assert (response.status, await response.text()) == (503, "database unavailable\n")
    no_tracebacks(caplog)


def _steps(*steps: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """A console hook that takes the next step before each command."""
    pending = iter(steps)

    async def before_each() -> None:
        await next(pending)()

    return before_each


async def test_console_command_during_an_outage_gets_one_sentence_and_works_once_it_is_back(
    bot: Bot, proxy: CuttableProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)

    async def restore() -> None:
        proxy.restore()

    transcript: list[str] = []
    refusals = await run_console(
        bot.dispatcher,
        ALICE,
        stdin=io.StringIO(f"{REQUEST}\n{REQUEST}\n"),
        write=transcript.append,
        before_each=_steps(proxy.cut, restore),
    )

    assert refusals == 1
    assert transcript[:2] == [f"alice@example.com> {REQUEST}", DATABASE_UNAVAILABLE]
    assert transcript[3].endswith("for prod-db (1h) is waiting for approval.")
    assert len(await bot.requests.by_requester("alice@example.com")) == 1
    no_tracebacks(caplog)
    [warning] = [r for r in caplog.records if r.name == "core.dispatcher"]
    assert warning.levelno == logging.WARNING
    assert "database unavailable for alice@example.com" in warning.getMessage()


async def test_an_approval_acknowledged_before_the_cut_is_there_after_it(
    bot: Bot, proxy: CuttableProxy
) -> None:
    asked = await bot.dispatcher.handle(ALICE, REQUEST)
    assert asked.request is not None
    approved = await bot.dispatcher.handle(BOB, f"approve {asked.request.id}")
    assert approved.text.startswith(f"Approved {asked.request.id}")

    await proxy.cut()
    assert (await bot.dispatcher.handle(ALICE, "mine")).text == DATABASE_UNAVAILABLE
    proxy.restore()

    mine = await bot.dispatcher.handle(ALICE, "mine")
    assert mine.ok
    assert any(line.startswith(asked.request.id) and "active" in line for line in mine.lines)
    events = [r.event for r in await bot.audit.records() if r.request_id == asked.request.id]
    assert events == ["request.created", "request.approved", "access.granted"]


async def test_a_decision_whose_commit_went_unanswered_is_not_reported_as_done(
    bot: Bot, proxy: CuttableProxy
) -> None:
    asked = await bot.dispatcher.handle(ALICE, REQUEST)
    assert asked.request is not None
    proxy.cut_on(b"COMMIT")

    reply = await bot.dispatcher.handle(BOB, f"deny {asked.request.id} not now")

    assert proxy.tripped.is_set()
    assert (reply.ok, reply.text) == (False, OUTCOME_UNKNOWN)
    proxy.restore()
    found = await bot.requests.get(asked.request.id)
    assert found is not None and found.status == Status.PENDING  # the COMMIT never arrived
    again = await bot.dispatcher.handle(BOB, f"deny {asked.request.id} not now")
    assert again.text.startswith(f"Denied {asked.request.id}")


async def test_an_approval_whose_grant_was_not_recorded_is_granted_once_the_database_is_back(
    bot: Bot, proxy: CuttableProxy, clock: FakeClock
) -> None:
    asked = await bot.dispatcher.handle(ALICE, REQUEST)
    assert asked.request is not None
    rid = asked.request.id
    proxy.cut_on(b"granted_at=$")  # the UPDATE that records the grant, after the approval's commit

    reply = await bot.dispatcher.handle(BOB, f"approve {rid}")

    assert proxy.tripped.is_set()
    assert (reply.ok, reply.text) == (
        False,
        f"{rid} is approved, but the access database went away before the access was recorded; "
        "it is granted by itself once the database is back.",
    )
    proxy.restore()
    assert (await bot.service.get(rid)).status == Status.APPROVED
    assert await Lifecycle(bot.service).retry_grants() == 0  # an approval in flight is left alone

    clock.advance(GRANT_GRACE)
    assert await Lifecycle(bot.service).retry_grants() == 1

    granted = await bot.service.get(rid)
    assert (granted.status, granted.decided_by) == (Status.ACTIVE, "bob@example.com")
    events = [r.event for r in await bot.audit.records() if r.request_id == rid]
    assert events == ["request.created", "request.approved", "access.granted"]


def test_cli_says_the_database_cannot_be_reached_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh_directory(monkeypatch, tmp_path)
    write_policy_and_roster(monkeypatch, tmp_path)
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("ONCALL_ACCESS_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{port}/x")

    ran = run(capsys, "status")

    assert ran.code == 1
    assert ran.err.startswith(f"oncall-access: {DATABASE_UNAVAILABLE} (ConnectionRefusedError")
    assert "Traceback" not in ran.text


async def test_scheduled_work_logs_an_outage_once_and_carries_on_when_it_ends(
    bot: Bot, proxy: CuttableProxy, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = Scheduler(bot)
    await proxy.cut()
    with caplog.at_level(logging.WARNING, logger="bot.scheduler"):
        for _ in range(3):
            await scheduler.tick_safely()
    paused = [r for r in caplog.records if "scheduled work paused" in r.getMessage()]
    assert len(paused) == 1
    no_tracebacks(caplog)

    proxy.restore()
    caplog.clear()
    await scheduler.tick_safely()
    assert await scheduler.run_lifecycle() != {}  # the database answers again
    await proxy.cut()
    await scheduler.tick_safely()
    assert [r for r in caplog.records if "scheduled work paused" in r.getMessage()] != []
