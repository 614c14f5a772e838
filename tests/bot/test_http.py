"""The operator's HTTP endpoints of `serve`: liveness, readiness (database and roster age) and
Prometheus metrics, served by the real aiohttp app over a real socket on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.http import make_app
from bot.wiring import Bot
from tests.builders import make_bot
from tests.conftest import FakeClock


@pytest.fixture
async def bot(tmp_path: Path, sqlite_url: str, clock: FakeClock) -> AsyncIterator[Bot]:
    built = await make_bot(tmp_path, sqlite_url, clock)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def client(bot: Bot) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_app(bot), port=0)) as http:
        yield http


async def test_readyz_checks_the_database_it_is_given(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    built = await make_bot(tmp_path, database_url, clock)
    try:
        async with TestClient(TestServer(make_app(built), port=0)) as http:
            response = await http.get("/readyz")
            assert response.status == 200
            assert (await response.json())["checks"]["database"] == "ok"
    finally:
        await built.close()


async def test_healthz_answers_ok(client: TestClient) -> None:
    response = await client.get("/healthz")

    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_is_ready_with_the_database_up_and_a_fresh_roster(
    client: TestClient, clock: FakeClock
) -> None:
    clock.advance(timedelta(minutes=45))

    response = await client.get("/readyz")

    assert response.status == 200
    assert await response.json() == {
        "ready": True,
        "checks": {"database": "ok", "roster:file": "ok"},
    }


async def test_readyz_is_not_ready_when_the_roster_is_too_old(
    client: TestClient, clock: FakeClock
) -> None:
    clock.advance(timedelta(minutes=46))

    response = await client.get("/readyz")

    assert response.status == 503
    body = await response.json()
    assert body["ready"] is False
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["roster:file"].startswith("stale (taken 2026-11-23T12:00:00")


async def test_readyz_recovers_after_a_sync(client: TestClient, bot: Bot, clock: FakeClock) -> None:
    clock.advance(timedelta(hours=2))
    assert (await client.get("/readyz")).status == 503

    outcome = await bot.syncer.sync(bot.providers[0])

    assert outcome.ok, outcome.error
    assert (await client.get("/readyz")).status == 200


async def test_metrics_need_the_bearer_token_when_one_is_set(bot: Bot) -> None:
    guarded = replace(bot, settings=bot.settings.model_copy(update={"metrics_token": "m3trics"}))
    async with TestClient(TestServer(make_app(guarded), port=0)) as http:
        anonymous = await http.get("/metrics")
        assert anonymous.status == 401 and anonymous.headers["WWW-Authenticate"] == "Bearer"
        assert "oncall_access_" not in await anonymous.text()
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        right = await http.get("/metrics", headers={"Authorization": "Bearer m3trics"})
        assert right.status == 200 and "oncall_access_roster_age_seconds" in await right.text()
        assert (await http.get("/healthz")).status == 200  # probes stay open


async def test_unknown_paths_are_404(client: TestClient) -> None:
    assert (await client.get("/nope")).status == 404
