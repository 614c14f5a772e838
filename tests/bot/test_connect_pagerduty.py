"""Connecting PagerDuty through the bot: live verification, sealed credentials, the first sync,
disconnecting, and the OAuth user flow through `GET /oauth/pagerduty/callback`."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.storage.crypto import new_key
from bot.http import make_app
from bot.settings import Settings
from bot.wiring import Bot, build
from core.connections import ConnectForm
from core.groups import Provider
from core.policy import Policy
from tests.adapters.pagerduty.conftest import NOW, seed_small
from tests.conftest import FakeClock
from tests.fakes.pagerduty import FakePagerDuty


@pytest.fixture
async def pagerduty() -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty(api_keys={"good-key"}, now=lambda: NOW) as fake:
        seed_small(fake)
        fake.register_app("cid", "csecret", "acme", region="us")
        yield fake


async def bot_for(tmp_path: Path, pd: FakePagerDuty, *, secret_key: str | None = "generate") -> Bot:
    settings = Settings(
        ONCALL_ACCESS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        ONCALL_ACCESS_SECRET_KEY=new_key() if secret_key == "generate" else secret_key,
        PAGERDUTY_API_URL=pd.url,
        PAGERDUTY_IDENTITY_URL=pd.url,
        ONCALL_ACCESS_PUBLIC_URL="https://bot.example",
        ONCALL_ACCESS_ADMINS="admin@example.com",
        _env_file=None,  # type: ignore[call-arg]
    )
    return await build(settings, policy=Policy(version=1), clock=FakeClock(NOW))


async def test_connecting_verifies_stores_sealed_and_syncs(
    tmp_path: Path, pagerduty: FakePagerDuty
) -> None:
    bot = await bot_for(tmp_path, pagerduty)
    try:
        assert bot.admin is not None
        result = await bot.admin.connect(
            ConnectForm("pagerduty", api_key="good-key"), "admin@example.com"
        )
        assert result.ok, result.message
        assert "Connected PagerDuty" in result.message
        assert "synced" in result.sync_summary and "groups" in result.sync_summary
        roster = await bot.service.roster.current()
        assert Provider.PAGERDUTY in roster.snapshots
        with sqlite3.connect(tmp_path / "bot.db") as db:
            [(sealed,)] = db.execute("SELECT secret FROM provider_connections").fetchall()
        assert "good-key" not in sealed  # encrypted at rest
        events = [r.event for r in await bot.audit.records()]
        assert "provider.connected" in events and "roster.synced" in events
        assert all("good-key" not in str(r.detail) for r in await bot.audit.records())

        message = await bot.admin.disconnect("pagerduty", "admin@example.com")
        assert message.startswith("Disconnected PagerDuty")
        assert Provider.PAGERDUTY not in (await bot.service.roster.current()).snapshots
        with sqlite3.connect(tmp_path / "bot.db") as db:
            assert db.execute("SELECT count(*) FROM provider_connections").fetchone() == (0,)
    finally:
        await bot.close()


async def test_a_refused_key_is_reported_on_the_key_field_and_nothing_is_stored(
    tmp_path: Path, pagerduty: FakePagerDuty
) -> None:
    bot = await bot_for(tmp_path, pagerduty)
    try:
        assert bot.admin is not None
        result = await bot.admin.connect(
            ConnectForm("pagerduty", api_key="wrong-key"), "admin@example.com"
        )
        assert not result.ok and result.field == "api_key"
        assert "401" in result.message or "refused" in result.message.lower()
        assert "wrong-key" not in result.message
        assert await bot.admin.store.providers() == []
    finally:
        await bot.close()


async def test_without_a_secret_key_nothing_is_stored_and_the_admin_is_told_how(
    tmp_path: Path, pagerduty: FakePagerDuty
) -> None:
    bot = await bot_for(tmp_path, pagerduty, secret_key=None)
    try:
        assert bot.admin is not None
        result = await bot.admin.connect(
            ConnectForm("pagerduty", api_key="good-key"), "admin@example.com"
        )
        assert not result.ok and "oncall-access secret-key" in result.message
    finally:
        await bot.close()


async def test_oauth_user_flow_completes_at_the_callback_once(
    tmp_path: Path, pagerduty: FakePagerDuty
) -> None:
    bot = await bot_for(tmp_path, pagerduty)
    app = make_app(bot)
    assert bot.oauth is not None and bot.admin is not None
    app.router.add_routes([bot.oauth.route(bot.admin.complete_user_flow)])
    try:
        assert bot.admin is not None
        form = ConnectForm(
            "pagerduty",
            auth="oauth_user",
            client_id="cid",
            client_secret="csecret",
            subdomain="acme",
        )
        started = await bot.admin.connect(form, "admin@example.com")
        assert started.ok and started.authorize_url is not None
        answer = pagerduty.approve(started.authorize_url)
        async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
            forged = await client.get(
                "/oauth/pagerduty/callback?" + urlencode({**answer, "state": "forged"})
            )
            assert forged.status == 400
            # Someone else's answer with this state but an error, or no code, spends nothing.
            declined = {"state": answer["state"], "error": "access_denied"}
            refused = await client.get("/oauth/pagerduty/callback?" + urlencode(declined))
            assert refused.status == 400 and "declined" in await refused.text()
            no_code = await client.get(
                "/oauth/pagerduty/callback?" + urlencode({"state": answer["state"]})
            )
            assert no_code.status == 400 and "no code" in await no_code.text()
            done = await client.get("/oauth/pagerduty/callback?" + urlencode(answer))
            assert done.status == 200, await done.text()
            assert "PagerDuty connected" in await done.text()
            again = await client.get("/oauth/pagerduty/callback?" + urlencode(answer))
            assert again.status == 400 and "already used" in await again.text()
        assert await bot.admin.store.providers() == ["pagerduty"]
        assert Provider.PAGERDUTY in (await bot.service.roster.current()).snapshots
    finally:
        await bot.close()
