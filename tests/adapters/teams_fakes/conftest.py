"""A real ``CloudAdapter`` behind ``/api/messages``, wired to the fake identity provider/connector.

``no_outside_network`` (autouse) refuses any DNS lookup or connection that is not loopback, and
fails the test if something tried, so "nothing reached login.microsoftonline.com" is checked,
not assumed.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.typedefs import Handler
from botbuilder.core import Bot, CardFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import AdaptiveCardInvokeResponse, AdaptiveCardInvokeValue
from botbuilder.schema.teams import (
    TaskModuleContinueResponse,
    TaskModuleMessageResponse,
    TaskModuleRequest,
    TaskModuleResponse,
    TaskModuleTaskInfo,
)

from adapters.teams.auth import AppType, build_bot_framework_authentication
from adapters.teams.route import AuthMode, messages_route
from tests.fakes.teams.activities import DEFAULT_APP_ID
from tests.fakes.teams.connector import FakeConnector
from tests.fakes.teams.identity import FakeIdentityProvider

APP_ID = DEFAULT_APP_ID
APP_PASSWORD = "not-a-real-secret"
TENANT_ID = "5c3e2b8f-0d1a-4b6e-9f7a-2d4c6e8a0b1c"

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@pytest.fixture(autouse=True)
def no_outside_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    attempts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def host_of(value: object) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and host_of(host) not in _LOOPBACK:
            attempts.append(f"getaddrinfo {host_of(host)}")
            raise OSError(f"test blocked a DNS lookup of {host_of(host)}")
        return real_getaddrinfo(host, *args, **kwargs)

    def check(sock: socket.socket, address: Any) -> None:
        if (
            sock.family in (socket.AF_INET, socket.AF_INET6)
            and host_of(address[0]) not in _LOOPBACK
        ):
            attempts.append(f"connect {address!r}")
            raise OSError(f"test blocked a connection to {address!r}")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield attempts
    assert attempts == [], f"something tried to leave 127.0.0.1: {attempts}"


@pytest.fixture
async def identity(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeIdentityProvider]:
    async with FakeIdentityProvider(clients={APP_ID: APP_PASSWORD}) as idp:
        # MSAL fetches from it with `requests`, the channel's signing keys come through httpx:
        # both trust its CA for this test only.
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", idp.ca_bundle_path)
        monkeypatch.setenv("SSL_CERT_FILE", idp.ca_bundle_path)
        yield idp


@pytest.fixture
async def connector(identity: FakeIdentityProvider) -> AsyncIterator[FakeConnector]:
    async with FakeConnector(identity) as fake:
        yield fake


def _text_card(text: str) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": text}]}


class EchoBot(TeamsActivityHandler):
    """Echoes what it gets, so every inbound and outbound path is visible to a test."""

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if activity.value is not None and not activity.text:
            await turn_context.send_activity(f"submitted: {json.dumps(activity.value)}")
            return
        text = TurnContext.remove_recipient_mention(activity) or ""
        await turn_context.send_activity(f"echo: {text.strip()}")

    async def on_adaptive_card_invoke(
        self, turn_context: TurnContext, invoke_value: AdaptiveCardInvokeValue
    ) -> AdaptiveCardInvokeResponse:
        # The refreshed card replaces the one clicked, as an approval card would after a decision.
        return AdaptiveCardInvokeResponse(
            status_code=200,
            type="application/vnd.microsoft.card.adaptive",
            value=_text_card(f"echo: {invoke_value.action['verb']}"),
        )

    async def on_teams_task_module_fetch(
        self, turn_context: TurnContext, task_module_request: TaskModuleRequest
    ) -> TaskModuleResponse:
        card = CardFactory.adaptive_card(_text_card(json.dumps(task_module_request.data)))
        info = TaskModuleTaskInfo(title="Echo", height="medium", width="medium", card=card)
        return TaskModuleResponse(task=TaskModuleContinueResponse(value=info))

    async def on_teams_task_module_submit(
        self, turn_context: TurnContext, task_module_request: TaskModuleRequest
    ) -> TaskModuleResponse:
        message = f"submitted: {json.dumps(task_module_request.data)}"
        return TaskModuleResponse(task=TaskModuleMessageResponse(value=message))


@dataclass
class BotUnderTest:
    """The HTTP client for ``/api/messages`` plus what tests need to mint matching tokens."""

    client: TestClient[web.Request, web.Application]
    adapter: CloudAdapter
    identity: FakeIdentityProvider
    connector: FakeConnector

    async def post(
        self, activity: dict[str, Any], *, authorization: str | None = None
    ) -> tuple[int, Any]:
        """POST ``activity``; without ``authorization`` a valid channel token is attached."""
        if authorization is None:
            token = self.identity.mint_channel_token(APP_ID, activity["serviceUrl"])
            authorization = f"Bearer {token}"
        headers = {"Authorization": authorization} if authorization else {}
        async with self.client.post("/api/messages", json=activity, headers=headers) as response:
            body = await response.json() if response.content_type == "application/json" else None
            return response.status, body


Route = Literal["fixed", "stock"]


def api_messages(adapter: CloudAdapter, bot: Bot) -> Handler:
    """``POST /api/messages`` exactly as the product mounts it (``adapters.teams.route``), which
    fixes botbuilder 4.17.1's invoke answers (see ``test_stock_process_fails_invoke_bodies``)."""
    return messages_route(adapter, bot, AuthMode.VERIFY)


def stock_api_messages(adapter: CloudAdapter, bot: Bot) -> Handler:
    """``CloudAdapter.process`` as botbuilder's samples mount it."""

    async def handle(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse = await adapter.process(request, bot)
        return response

    return handle


@asynccontextmanager
async def running_bot(
    identity: FakeIdentityProvider,
    connector: FakeConnector,
    *,
    app_type: AppType = AppType.MULTI_TENANT,
    tenant_id: str | None = None,
    app_password: str = APP_PASSWORD,
    route: Route = "fixed",
) -> AsyncIterator[BotUnderTest]:
    """``EchoBot`` on a real ``CloudAdapter`` at ``/api/messages``, trusting ``identity``."""
    auth = build_bot_framework_authentication(
        APP_ID,
        app_password,
        app_type,
        tenant_id,
        openid_metadata_url=identity.openid_metadata_url,
        token_issuer=identity.token_issuer,
        login_url=identity.login_url,
    )
    adapter = CloudAdapter(auth)
    mount = api_messages if route == "fixed" else stock_api_messages
    app = web.Application()
    app.router.add_post("/api/messages", mount(adapter, EchoBot()))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield BotUnderTest(client, adapter, identity, connector)


@pytest.fixture
async def bot(
    identity: FakeIdentityProvider, connector: FakeConnector
) -> AsyncIterator[BotUnderTest]:
    async with running_bot(identity, connector) as under_test:
        yield under_test


@pytest.fixture(params=["fixed", "stock"])
async def bot_on_any_route(
    request: pytest.FixtureRequest, identity: FakeIdentityProvider, connector: FakeConnector
) -> AsyncIterator[BotUnderTest]:
    """The bot behind ``api_messages`` and behind botbuilder's own ``CloudAdapter.process``."""
    async with running_bot(identity, connector, route=request.param) as under_test:
        yield under_test
