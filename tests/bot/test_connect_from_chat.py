"""Connecting PagerDuty with OAuth from the chat forms, end to end: the Slack modal and the Teams
dialog, submitted as Slack and Teams send them to the app `serve` composes, verified against the
fake PagerDuty (its token endpoint and REST API) and, for signing in as oneself, finished at
`GET /oauth/pagerduty/callback` as the admin's browser would.

Nothing leaves the machine (`no_outside_network`): a token asked of identity.pagerduty.com
instead of the configured identity URL fails the test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from adapters.pagerduty.form import FORM as PAGERDUTY
from adapters.slack import modals
from adapters.slack.constants import EVENTS_PATH
from adapters.storage.crypto import new_key
from bot.chat_config import chat_from
from bot.http import make_app
from bot.settings import Settings
from bot.slack_wiring import mount_slack
from bot.teams_wiring import mount_teams
from bot.wiring import Bot, build
from core.groups import Provider
from core.policy import Policy
from tests.adapters.pagerduty.conftest import NOW, seed_small
from tests.adapters.teams.conftest import LEAD as TEAMS_LEAD
from tests.adapters.teams.conftest import TENANT
from tests.adapters.teams_fakes import conftest as teams_fakes
from tests.adapters.teams_fakes.conftest import APP_ID, APP_PASSWORD
from tests.conftest import FakeClock
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlackApi, HttpReply, payloads, send_signed, serve
from tests.fakes.slack.constants import SIGNING_SECRET
from tests.fakes.slack.fixtures import fake_slack  # noqa: F401
from tests.fakes.teams import activities
from tests.fakes.teams.connector import FakeConnector, card_validator
from tests.fakes.teams.identity import FakeIdentityProvider

no_outside_network = teams_fakes.no_outside_network
identity = teams_fakes.identity
connector = teams_fakes.connector

SLACK_LEAD = "ULEAD00001"
SELECTS = {"provider", "region", "auth"}


@pytest.fixture
async def pagerduty() -> AsyncIterator[FakePagerDuty]:
    async with FakePagerDuty(api_keys={"good-key"}, now=lambda: NOW) as fake:
        seed_small(fake)
        fake.register_app("cid", "csecret", "acme", region="us")
        yield fake


@dataclass
class Served:
    root: str
    bot: Bot
    slack: FakeSlackApi
    teams_url: str

    async def slack_send(self, built: tuple[bytes, str]) -> HttpReply:
        body, content_type = built
        return await send_signed(
            f"{self.root}{EVENTS_PATH}", body, content_type, secret=SIGNING_SECRET
        )

    async def browser(self, query: dict[str, str]) -> tuple[int, str]:
        """The admin's browser, sent back by PagerDuty to the callback."""
        url = f"{self.root}/oauth/pagerduty/callback?{urlencode(query)}"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status, await response.text()


@asynccontextmanager
async def serving(
    tmp_path: Path,
    pd: FakePagerDuty,
    slack: FakeSlackApi,
    identity: FakeIdentityProvider,
    connector: FakeConnector,
) -> AsyncIterator[Served]:
    settings = Settings(
        ONCALL_ACCESS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        ONCALL_ACCESS_SECRET_KEY=new_key(),
        ONCALL_ACCESS_ADMINS="lead@example.com",
        ONCALL_ACCESS_PUBLIC_URL="https://bot.example",
        PAGERDUTY_API_URL=pd.url,
        PAGERDUTY_IDENTITY_URL=pd.url,
        SLACK_BOT_TOKEN=slack.token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.base_url,
        MICROSOFT_APP_ID=APP_ID,
        MICROSOFT_APP_PASSWORD=APP_PASSWORD,
        MICROSOFT_APP_TENANT_ID=TENANT,
        MICROSOFT_OPENID_METADATA_URL=identity.openid_metadata_url,
        MICROSOFT_TOKEN_ISSUER=identity.token_issuer,
        MICROSOFT_LOGIN_URL=identity.login_url,
        _env_file=None,  # type: ignore[call-arg]
    )
    slack.add_user(SLACK_LEAD, "lead@example.com", name="lead")
    connector.add_member(TEAMS_LEAD.member)
    bot = await build(
        settings, policy=Policy(version=1), clock=FakeClock(NOW), chat=chat_from(settings)
    )
    try:
        app = make_app(bot)
        mount_slack(bot, app)
        mount_teams(app, bot)
        assert bot.oauth is not None and bot.admin is not None
        app.router.add_routes([bot.oauth.route(bot.admin.complete_user_flow)])
        async with serve(app) as root:
            await slack.next_call("auth.test")
            yield Served(root, bot, slack, f"{root}/api/messages")
    finally:
        await bot.close()


# --- Slack --------------------------------------------------------------------------------------


async def _slack_form(served: Served) -> dict[str, Any]:
    url = served.slack.response_url("cmd", channel="C0FAKECHN1", user=SLACK_LEAD)
    await served.slack_send(payloads.slash_command("connect", user_id=SLACK_LEAD, response_url=url))
    await served.slack.next_call("views.open")
    updated = await served.slack.next_call("views.update")
    view: dict[str, Any] = served.slack.views[updated.params["view_id"]]
    return view


def _typed(**fields: str) -> dict[str, Any]:
    return {
        name: {
            modals.VALUE: payloads.static_select(value)
            if name in SELECTS
            else payloads.plain_text_input(value)
        }
        for name, value in fields.items()
    }


def _blocks(view: dict[str, Any]) -> set[str]:
    return {b["block_id"] for b in view["blocks"] if b.get("block_id")}


async def test_slack_connect_form_signs_in_as_the_admin_without_a_subdomain(
    tmp_path: Path,
    pagerduty: FakePagerDuty,
    fake_slack: FakeSlackApi,  # noqa: F811
    identity: FakeIdentityProvider,
    connector: FakeConnector,
) -> None:
    async with serving(tmp_path, pagerduty, fake_slack, identity, connector) as served:
        view = await _slack_form(served)
        # Every field an error can name is one the form shows.
        assert {f.name for f in PAGERDUTY.fields} <= _blocks(view)

        reply = await served.slack_send(
            payloads.view_submission(
                _typed(
                    provider="pagerduty",
                    auth="oauth_user",
                    client_id="cid",
                    client_secret="csecret",
                ),
                view=view,
                user_id=SLACK_LEAD,
            )
        )
        assert (reply.status, reply.text) == (200, "")
        answer = await served.slack.next_call("chat.postMessage")
        [link] = [
            e for b in answer.params["blocks"] if b["type"] == "actions" for e in b["elements"]
        ]
        assert "authorize" in answer.params["text"]
        assert "csecret" not in str(answer.params)

        status, page = await served.browser(pagerduty.approve(link["url"]))

        assert status == 200, page
        assert "PagerDuty connected" in page
        assert await served.bot.admin.store.providers() == ["pagerduty"]  # type: ignore[union-attr]
        assert Provider.PAGERDUTY in (await served.bot.service.roster.current()).snapshots


async def test_slack_connect_form_connects_an_oauth_app_for_the_account(
    tmp_path: Path,
    pagerduty: FakePagerDuty,
    fake_slack: FakeSlackApi,  # noqa: F811
    identity: FakeIdentityProvider,
    connector: FakeConnector,
) -> None:
    async with serving(tmp_path, pagerduty, fake_slack, identity, connector) as served:
        view = await _slack_form(served)
        oauth_app = {
            "provider": "pagerduty",
            "auth": "oauth_client",
            "client_id": "cid",
            "client_secret": "csecret",
        }

        missing = await served.slack_send(
            payloads.view_submission(_typed(**oauth_app), view=view, user_id=SLACK_LEAD)
        )
        errors = missing.json()["errors"]
        assert list(errors) == ["subdomain"] and "subdomain" in _blocks(view)

        done = await served.slack_send(
            payloads.view_submission(
                _typed(**oauth_app, subdomain="https://acme.pagerduty.com/"),
                view=view,
                user_id=SLACK_LEAD,
            )
        )
        assert (done.status, done.text) == (200, "")
        answer = await served.slack.next_call("chat.postMessage")
        assert answer.params["text"].startswith("Connected PagerDuty"), answer.params["text"]
        assert "I will tell you when it is done" in answer.params["text"]
        assert await served.bot.admin.store.providers() == ["pagerduty"]  # type: ignore[union-attr]
        synced = await served.slack.next_call("chat.postMessage")
        assert synced.params["text"].startswith("First sync of PagerDuty done."), synced.params
        assert Provider.PAGERDUTY in (await served.bot.service.roster.current()).snapshots


# --- Teams --------------------------------------------------------------------------------------


async def _teams_invoke(
    served: Served, identity: FakeIdentityProvider, activity: dict[str, Any]
) -> dict[str, Any]:
    token = identity.mint_channel_token(APP_ID, activity["serviceUrl"])
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            served.teams_url, json=activity, headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        assert response.status == 200, await response.text()
        task: dict[str, Any] = (await response.json())["task"]
    if task["type"] == "continue":  # the dialog's card, as Teams would render it
        content = task["value"]["card"]["content"]
        assert [e.message for e in card_validator().iter_errors(content)] == []
    return task


def _inputs(task: dict[str, Any]) -> dict[str, dict[str, Any]]:
    content = task["value"]["card"]["content"]
    return {e["id"]: e for e in content["body"] if e["type"].startswith("Input.")}


async def test_teams_connect_dialog_signs_in_as_the_admin(
    tmp_path: Path,
    pagerduty: FakePagerDuty,
    fake_slack: FakeSlackApi,  # noqa: F811
    identity: FakeIdentityProvider,
    connector: FakeConnector,
) -> None:
    async with serving(tmp_path, pagerduty, fake_slack, identity, connector) as served:
        envelope = TEAMS_LEAD.envelope(connector.service_url)
        launch = {"msteams": {"type": "task/fetch"}, "form": "connect", "provider": "pagerduty"}
        form = await _teams_invoke(served, identity, activities.task_fetch(launch, **envelope))
        kinds = [c["value"] for c in _inputs(form)["auth"]["choices"]]
        assert kinds == ["api_key", "oauth_client", "oauth_user"]

        submitted = {
            **launch,
            "auth": "oauth_user",
            "client_id": "cid",
            "client_secret": "csecret",
        }
        del submitted["msteams"]
        task = await _teams_invoke(served, identity, activities.task_submit(submitted, **envelope))

        content = task["value"]["card"]["content"]
        [open_url] = content["actions"]
        assert open_url["type"] == "Action.OpenUrl"
        assert "csecret" not in str(task)
        status, page = await served.browser(pagerduty.approve(open_url["url"]))
        assert status == 200 and "PagerDuty connected" in page
        assert await served.bot.admin.store.providers() == ["pagerduty"]  # type: ignore[union-attr]


async def test_teams_connect_dialog_connects_an_oauth_app_and_names_only_its_own_fields(
    tmp_path: Path,
    pagerduty: FakePagerDuty,
    fake_slack: FakeSlackApi,  # noqa: F811
    identity: FakeIdentityProvider,
    connector: FakeConnector,
) -> None:
    async with serving(tmp_path, pagerduty, fake_slack, identity, connector) as served:
        envelope = TEAMS_LEAD.envelope(connector.service_url)
        oauth_app = {
            "form": "connect",
            "provider": "pagerduty",
            "auth": "oauth_client",
            "client_id": "cid",
            "client_secret": "csecret",
        }
        missing = await _teams_invoke(
            served, identity, activities.task_submit(oauth_app, **envelope)
        )
        body = missing["value"]["card"]["content"]["body"]
        at = next(i for i, e in enumerate(body) if e.get("id") == "subdomain")
        assert "subdomain" in str(body[at + 1]).lower()  # the error sits under its field

        task = await _teams_invoke(
            served, identity, activities.task_submit({**oauth_app, "subdomain": "acme"}, **envelope)
        )
        assert task["type"] == "message" and task["value"].startswith("Connected PagerDuty")
        assert await served.bot.admin.store.providers() == ["pagerduty"]  # type: ignore[union-attr]
