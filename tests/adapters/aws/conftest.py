"""moto over real HTTP behind the steering proxy, with the bot's AWS chain pointed at the proxy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import requests

from tests.fakes.aws.identity_center import (
    IdentityCenterProxy,
    IdentityCenterWorld,
    identity_center_proxy,
    moto_server,
)


@dataclass
class Aws:
    world: IdentityCenterWorld
    proxy: IdentityCenterProxy
    url: str


@pytest.fixture
async def aws(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Aws]:
    async with moto_server() as moto_url:
        # moto keeps its state per process, not per server: start every test from nothing
        reset = await asyncio.to_thread(requests.post, f"{moto_url}/moto-api/reset", timeout=10)
        reset.raise_for_status()
        world = IdentityCenterWorld(moto_url)
        await asyncio.to_thread(world.setup)
        async with identity_center_proxy(moto_url) as (proxy, url):
            monkeypatch.setenv("AWS_ENDPOINT_URL", url)
            monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
            monkeypatch.delenv("AWS_PROFILE", raising=False)
            monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
            monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
            yield Aws(world, proxy, url)
