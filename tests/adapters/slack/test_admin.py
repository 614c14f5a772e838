"""Admins connect and disconnect providers from Slack: a modal for the credentials (never shown
back), a confirm dialog before disconnecting; everyone else is refused."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.constants import CONNECT_PROVIDER, DISCONNECT
from core.connections import ConnectResult
from core.dispatcher import ADMINS_ONLY, CONNECT_ON_SERVER
from tests.adapters.slack.fake_admin import FakeProviderAdmin
from tests.adapters.slack.rig import ALICE, LEAD, SlackRig, start_rig, text_of
from tests.conftest import FakeClock
from tests.fakes.slack import FakeSlackApi, payloads

SECRET = "u+Secret-Key-0123456789"


@pytest.fixture
def admin() -> FakeProviderAdmin:
    return FakeProviderAdmin()


@pytest.fixture
async def admin_rig(
    fake_slack: FakeSlackApi,
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
    admin: FakeProviderAdmin,
) -> AsyncIterator[SlackRig]:
    fake_slack.add_user(ALICE, "alice@example.com")
    fake_slack.add_user(LEAD, "lead@example.com")
    async with start_rig(fake_slack, tmp_path, sqlite_url, clock, admin=admin) as rig:
        yield rig


async def _connect_form(rig: SlackRig, user: str = LEAD) -> dict[str, Any]:
    await rig.command("connect", user=user)
    await rig.fake.next_call("views.open")
    updated = await rig.fake.next_call("views.update")
    return rig.fake.views[updated.params["view_id"]]


def _values(**fields: str) -> dict[str, Any]:
    selects = {"provider", "region", "auth"}
    return {
        name: {
            "value": payloads.static_select(value)
            if name in selects
            else payloads.plain_text_input(value)
        }
        for name, value in fields.items()
    }


async def test_connect_form_is_refused_to_non_admins(admin_rig: SlackRig) -> None:
    view = await _connect_form(admin_rig, user=ALICE)

    assert view["callback_id"] == "access.notice"
    assert ADMINS_ONLY in text_of(view)


async def test_connect_without_provider_admin_says_it_is_not_available(rig: SlackRig) -> None:
    view = await _connect_form(rig)

    assert CONNECT_ON_SERVER in text_of(view)


async def test_connect_success_closes_and_posts_the_sync_summary(
    admin_rig: SlackRig, admin: FakeProviderAdmin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    view = await _connect_form(admin_rig)
    assert view["callback_id"] == "access.connect_form"

    reply = await admin_rig.send(
        payloads.view_submission(
            _values(provider="pagerduty", region="eu", auth="api_key", api_key=SECRET),
            view=view,
            user_id=LEAD,
        )
    )

    assert (reply.status, reply.text) == (200, "")
    ((form, actor),) = admin.connected
    assert (form.provider, form.region, form.auth, form.api_key, actor) == (
        "pagerduty",
        "eu",
        "api_key",
        SECRET,
        "lead@example.com",
    )
    await admin_rig.fake.wait_until(lambda: len(admin_rig.dm(LEAD)) >= 2, what="two DMs")
    shown = [text_of(m) for m in admin_rig.dm(LEAD)]
    connected = next(t for t in shown if "Connected PagerDuty (EU)" in t)
    assert "PagerDuty: synced 3 schedules, 12 people." not in connected
    assert any("PagerDuty: synced 3 schedules, 12 people." in t for t in shown)  # when synced
    _assert_never_echoed(admin_rig)
    assert SECRET not in caplog.text


async def test_connect_failure_shows_inline_on_the_field(
    admin_rig: SlackRig, admin: FakeProviderAdmin
) -> None:
    admin.result = ConnectResult(False, "PagerDuty refused this key (401).", field="api_key")
    view = await _connect_form(admin_rig)

    reply = await admin_rig.send(
        payloads.view_submission(
            _values(provider="pagerduty", region="us", auth="api_key", api_key=SECRET),
            view=view,
            user_id=LEAD,
        )
    )

    assert reply.json() == {
        "response_action": "errors",
        "errors": {"api_key": "PagerDuty refused this key (401)."},
    }
    _assert_never_echoed(admin_rig)


async def test_connect_form_checks_what_the_provider_needs(
    admin_rig: SlackRig, admin: FakeProviderAdmin
) -> None:
    view = await _connect_form(admin_rig)

    async def errors_for(**typed: str) -> set[str]:
        reply = await admin_rig.send(
            payloads.view_submission(_values(**typed), view=view, user_id=LEAD)
        )
        assert reply.json()["response_action"] == "errors"
        return set(reply.json()["errors"])

    assert await errors_for(provider="pagerduty", region="us", auth="oauth_client") == {
        "client_id",
        "client_secret",
        "subdomain",
    }
    assert await errors_for(provider="pagerduty", auth="oauth_user", client_id="c") == {
        "client_secret"
    }
    assert await errors_for(provider="opsgenie", region="eu") == {"api_key"}
    assert await errors_for(provider="jsm", api_token="t") == {"site", "email"}
    assert await errors_for(provider="nagios") == {"provider"}
    assert admin.connected == []


async def test_choosing_another_provider_redraws_the_form_with_its_fields(
    admin_rig: SlackRig,
) -> None:
    view = await _connect_form(admin_rig)
    assert _blocks_of(view) >= {"provider", "region", "auth", "api_key", "subdomain"}

    await admin_rig.send(
        payloads.block_actions(
            CONNECT_PROVIDER,
            block_id="provider",
            action_type="static_select",
            action={
                "selected_option": {"text": {"type": "plain_text", "text": "JSM"}, "value": "jsm"}
            },
            view=view,
            state_values=_values(provider="jsm"),
            user_id=LEAD,
        )
    )

    call = await admin_rig.fake.next_call("views.update")
    redrawn = call.params["view"]
    redrawn = json.loads(redrawn) if isinstance(redrawn, str) else redrawn
    assert _blocks_of(redrawn) == {"provider", "site", "email", "api_token", "org_id"}
    assert call.params["view_id"] == view["id"]
    assert redrawn["private_metadata"] == view["private_metadata"]


async def test_grant_targets_connect_from_the_same_modal(
    admin_rig: SlackRig, admin: FakeProviderAdmin
) -> None:
    view = await _connect_form(admin_rig)
    await admin_rig.send(
        payloads.block_actions(
            CONNECT_PROVIDER,
            block_id="provider",
            action_type="static_select",
            action={
                "selected_option": {
                    "text": {"type": "plain_text", "text": "GitHub"},
                    "value": "github",
                }
            },
            view=view,
            state_values=_values(provider="github"),
            user_id=LEAD,
        )
    )
    call = await admin_rig.fake.next_call("views.update")
    redrawn = call.params["view"]
    redrawn = json.loads(redrawn) if isinstance(redrawn, str) else redrawn
    assert _blocks_of(redrawn) == {"provider", "org", "api_token", "app_id", "private_key",
                                   "installation_id"}  # fmt: skip
    [key_block] = [b for b in redrawn["blocks"] if b.get("block_id") == "private_key"]
    assert key_block["element"]["multiline"] is True

    missing = await admin_rig.send(
        payloads.view_submission(_values(provider="github"), view=redrawn, user_id=LEAD)
    )
    assert missing.json()["response_action"] == "errors"
    assert set(missing.json()["errors"]) == {"org", "api_token"}

    key = "-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----"
    reply = await admin_rig.send(
        payloads.view_submission(
            _values(provider="github", org="acme", app_id="123456", private_key=key),
            view=redrawn,
            user_id=LEAD,
        )
    )
    assert (reply.status, reply.text) == (200, "")
    ((form, _),) = admin.connected
    assert (form.provider, form.org, form.app_id, form.private_key) == (
        "github", "acme", "123456", key,
    )  # fmt: skip
    for made in admin_rig.fake.calls():
        assert "MIIEv" not in json.dumps(made.params), made.method  # never shown back


def _blocks_of(view: dict[str, Any]) -> set[str]:
    return {b["block_id"] for b in view["blocks"] if b.get("type") == "input"}


async def test_connect_submitted_by_a_non_admin_is_refused(
    admin_rig: SlackRig, admin: FakeProviderAdmin
) -> None:
    view = await _connect_form(admin_rig)

    reply = await admin_rig.send(
        payloads.view_submission(
            _values(provider="opsgenie", region="us", auth="api_key", api_key=SECRET),
            view=view,
            user_id=ALICE,
        )
    )

    assert reply.json() == {"response_action": "errors", "errors": {"provider": ADMINS_ONLY}}
    assert admin.connected == []


async def test_disconnect_asks_for_confirmation_then_disconnects(
    admin_rig: SlackRig, admin: FakeProviderAdmin
) -> None:
    await admin_rig.command("disconnect pagerduty", user=LEAD)
    call = await admin_rig.fake.next_call("response_url:cmd")
    (button,) = [e for b in call.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert (button["action_id"], button["value"]) == (DISCONNECT, "pagerduty")
    assert button["confirm"]["confirm"]["text"] == "Disconnect"
    assert admin.disconnected == []

    await admin_rig.send(
        payloads.block_actions(
            DISCONNECT,
            "pagerduty",
            user_id=LEAD,
            response_url=admin_rig.fake.response_url("confirm"),
        )
    )

    answer = await admin_rig.fake.next_call("response_url:confirm")
    assert answer.params["text"] == "Disconnected pagerduty."
    assert answer.params["replace_original"] is True
    assert admin.disconnected == [("pagerduty", "lead@example.com")]


async def test_disconnect_is_refused_to_non_admins(
    admin_rig: SlackRig, admin: FakeProviderAdmin
) -> None:
    await admin_rig.command("disconnect pagerduty", user=ALICE)
    assert await admin_rig.answer() == ADMINS_ONLY

    await admin_rig.send(
        payloads.block_actions(
            DISCONNECT, "pagerduty", user_id=ALICE, response_url=admin_rig.fake.response_url("x")
        )
    )
    assert (await admin_rig.fake.next_call("response_url:x")).params["text"] == ADMINS_ONLY
    assert admin.disconnected == []


def _assert_never_echoed(rig: SlackRig) -> None:
    for call in rig.fake.calls():
        if call.method.startswith("views.") or call.method.startswith("chat."):
            assert SECRET not in json.dumps(call.params), call.method
