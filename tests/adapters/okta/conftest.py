from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.okta import OktaClient, OktaGroupGranter
from adapters.providerhttp import RetryPolicy
from adapters.providerhttp.virtualtime import VirtualTime
from adapters.storage.engine import make_engine
from adapters.storage.kv import SqlKeyValues
from adapters.storage.migrate import upgrade
from core.ports import Grant
from tests.fakes.live import returning
from tests.fakes.okta import FakeOkta, Group, User

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime(NOW)


@pytest.fixture
async def okta(vt: VirtualTime) -> AsyncIterator[FakeOkta]:
    async with FakeOkta(clock=vt.monotonic, page_max=2) as fake:
        yield fake


@pytest.fixture
def token(okta: FakeOkta) -> str:
    return okta.add_token("GROUP_MEMBERSHIP_ADMIN")


@pytest.fixture
async def client_for(
    okta: FakeOkta, vt: VirtualTime, token: str
) -> AsyncIterator[Callable[..., OktaClient]]:
    made: list[OktaClient] = []

    def make(**kw: Any) -> OktaClient:
        if "client_id" not in kw:
            kw.setdefault("api_token", token)
        made.append(
            OktaClient(
                org=okta.url,
                retry=RetryPolicy(random=lambda: 0.5),
                clock=vt.monotonic,
                sleep=vt.sleep,
                **kw,
            )
        )
        return made[-1]

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
async def notes(sqlite_url: str) -> AsyncIterator[SqlKeyValues]:
    engine = make_engine(sqlite_url)
    await upgrade(engine)
    try:
        yield SqlKeyValues(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def granter(client_for: Callable[..., OktaClient], notes: SqlKeyValues) -> OktaGroupGranter:
    client = client_for()
    return OktaGroupGranter(returning(client), notes)


@pytest.fixture
def bob(okta: FakeOkta) -> User:
    for i in range(5):  # so that finding Bob by email takes more than one page
        okta.add_user(f"someone{i}@example.com")
    bob = okta.add_user("bob.user@example.com", email="bob@example.com")
    okta.add_group("Everyone", [bob])
    return bob


@pytest.fixture
def sre(okta: FakeOkta) -> Group:
    return okta.add_group("SRE On-call")


def access(group: str, request_id: str = "r1", email: str = "bob@example.com") -> Grant:
    return Grant(
        request_id=request_id,
        resource="okta-admin",
        email=email,
        start=NOW,
        end=NOW + timedelta(hours=1),
        approvers=("lead@example.com",),
        reason="INC-1",
        spec={"type": "okta-group", "group": group},
    )
