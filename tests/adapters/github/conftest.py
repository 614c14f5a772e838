from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.github import GitHubClient, GitHubTeamGranter
from adapters.providerhttp import RetryPolicy
from adapters.providerhttp.virtualtime import VirtualTime
from adapters.storage.engine import make_engine
from adapters.storage.kv import SqlKeyValues
from adapters.storage.migrate import upgrade
from core.ports import Grant
from tests.fakes.github import Account, FakeGitHub, Team
from tests.fakes.live import returning

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
ORG = "acme"


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime(NOW)


@pytest.fixture
async def gh(vt: VirtualTime) -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub(clock=vt.monotonic) as fake:
        yield fake


@pytest.fixture
def token(gh: FakeGitHub) -> str:
    return gh.add_token("write")


@pytest.fixture
async def client_for(
    gh: FakeGitHub, vt: VirtualTime, token: str
) -> AsyncIterator[Callable[..., GitHubClient]]:
    made: list[GitHubClient] = []

    def make(**kw: Any) -> GitHubClient:
        if "app_id" not in kw:
            kw.setdefault("token", token)
        made.append(
            GitHubClient(
                api_url=gh.url,
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
def mapped() -> dict[str, str]:
    """email -> GitHub login, as admins mapped them (`identity map github:LOGIN EMAIL`)."""
    return {"bob@example.com": "bob-gh"}


@pytest.fixture
def granter(
    client_for: Callable[..., GitHubClient], notes: SqlKeyValues, mapped: dict[str, str]
) -> GitHubTeamGranter:
    client = client_for()

    async def logins(email: str) -> str | None:
        return mapped.get(email)

    return GitHubTeamGranter(returning(client), notes, logins)


@pytest.fixture
def bob(gh: FakeGitHub) -> Account:
    return gh.add_account("bob-gh", org=ORG)


@pytest.fixture
def sre(gh: FakeGitHub) -> Team:
    return gh.add_team(ORG, "sre-oncall", "SRE on-call")


def access(
    team: str = "sre-oncall", request_id: str = "r1", email: str = "bob@example.com", **spec: Any
) -> Grant:
    return Grant(
        request_id=request_id,
        resource="prod-repos",
        email=email,
        start=NOW,
        end=NOW + timedelta(hours=1),
        approvers=("lead@example.com",),
        reason="INC-1",
        spec={"type": "github-team", "org": ORG, "team": team, **spec},
    )
