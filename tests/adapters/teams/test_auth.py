"""``POST /api/messages`` of the product route: who gets in, and the HTTP contract."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.adapters.teams.conftest import (
    ALICE,
    APP_ID,
    TeamsUnderTest,
    card_of,
    card_text,
    running_teams,
)
from tests.conftest import FakeClock
from tests.fakes.teams import activities
from tests.fakes.teams.connector import FakeConnector
from tests.fakes.teams.identity import FakeIdentityProvider


def _unsigned(teams: TeamsUnderTest) -> str:
    return ""


def _forged(teams: TeamsUnderTest) -> str:
    return "Bearer " + teams.identity.mint_forged_token(APP_ID, teams.service_url)


def _expired(teams: TeamsUnderTest) -> str:
    return "Bearer " + teams.identity.mint_channel_token(APP_ID, teams.service_url, expired=True)


def _other_bot(teams: TeamsUnderTest) -> str:
    token = teams.identity.mint_channel_token(APP_ID, teams.service_url, audience="another-bot")
    return "Bearer " + token


@pytest.mark.parametrize(
    "authorization",
    [_unsigned, _forged, _expired, _other_bot],
    ids=lambda f: f.__name__.strip("_"),
)
async def test_unauthenticated_activities_get_401_and_do_nothing(
    teams: TeamsUnderTest, authorization: Callable[[TeamsUnderTest], str]
) -> None:
    activity = activities.personal_message(
        "request grafana-admin 30m", **ALICE.envelope(teams.service_url)
    )

    status, _ = await teams.post(activity, authorization=authorization(teams))

    assert status == 401
    assert teams.connector.calls == []
    assert await teams.bot.requests.by_requester(ALICE.email) == []


async def test_signed_activity_is_accepted_with_201(teams: TeamsUnderTest) -> None:
    status, _ = await teams.post(
        activities.personal_message(
            "request grafana-admin 30m", **ALICE.envelope(teams.service_url)
        )
    )

    assert status == 201
    sent = [await teams.next_in(ALICE), await teams.next_in(ALICE)]
    [reply] = [card_text(card_of(s)) for s in sent if s.attachments]
    assert reply.startswith("Approved at once (you are on call): grafana-admin is yours until")


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", b"hello", 415),
        ("application/json", b"{not json", 400),
        ("application/json", b"[1, 2]", 400),
        ("application/json", b'{"text": "no type"}', 400),
    ],
)
async def test_malformed_requests_are_refused(
    teams: TeamsUnderTest, content_type: str, body: bytes, status: int
) -> None:
    token = teams.identity.mint_channel_token(APP_ID, teams.service_url)
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {token}"}

    async with teams.client.post("/api/messages", data=body, headers=headers) as response:
        assert response.status == status


async def test_without_an_app_id_everything_gets_401(
    identity: FakeIdentityProvider,
    connector: FakeConnector,
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
) -> None:
    async with running_teams(
        identity, connector, tmp_path, sqlite_url, clock, microsoft_app_id=None
    ) as teams:
        activity = activities.personal_message("help", **ALICE.envelope(teams.service_url))
        signed, _ = await teams.post(activity)
        unsigned, _ = await teams.post(activity, authorization="")

        assert (signed, unsigned) == (401, 401)
        assert teams.connector.calls == []
        assert all(n.surface != "teams" for n in teams.bot.notifier.notifiers)


async def test_dev_no_auth_mode_accepts_unsigned_activities(
    identity: FakeIdentityProvider,
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The Bot Framework Emulator: no tokens either way, senders named by their email.
    async with (
        FakeConnector(identity, accept_anonymous=True) as emulator,
        running_teams(
            identity,
            emulator,
            tmp_path,
            sqlite_url,
            clock,
            microsoft_app_id=None,
            teams_dev_no_auth=True,
        ) as teams,
    ):
        activity = activities.personal_message(
            "mine",
            **{**ALICE.envelope(teams.service_url), "user_name": "alice@example.com"},
        )
        status, _ = await teams.post(activity, authorization="")

        assert status == 201
        reply = await teams.next_in(ALICE)
    assert reply.text == "You have no requests. `list` shows what you may request."
    assert not [c for c in emulator.calls if "/members/" in c.path]
    assert any("WITHOUT checking who sent them" in r.message for r in caplog.records)


async def test_incomplete_teams_settings_stop_the_wiring_naming_the_setting(
    identity: FakeIdentityProvider,
    connector: FakeConnector,
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
) -> None:
    with pytest.raises(ValueError, match="MICROSOFT_APP_TENANT_ID"):
        async with running_teams(
            identity,
            connector,
            tmp_path,
            sqlite_url,
            clock,
            microsoft_app_type="SingleTenant",
            microsoft_app_tenant_id=None,
        ):
            pass
