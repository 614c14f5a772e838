"""aws-sso: moto's IAM Identity Center over real HTTP, behind the proxy of the tests, which adds
the latency and throttles at the documented rate (20 requests per second for all IAM Identity
Center APIs together), answering create and delete IN_PROGRESS as AWS does."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import requests

from adapters.aws.granter import AwsSsoGranter
from bench.grant_targets.common import BenchTarget, MemoryNotes
from tests.fakes.aws.identity_center import (
    ACCOUNT,
    REGION,
    IdentityCenterWorld,
    identity_center_proxy,
    moto_server,
)

RATE = 20.0


@asynccontextmanager
async def target(count: int, latency: float) -> AsyncIterator[BenchTarget]:
    async with moto_server() as moto_url:
        await asyncio.to_thread(requests.post, f"{moto_url}/moto-api/reset", timeout=10)
        world = IdentityCenterWorld(moto_url)
        await asyncio.to_thread(world.setup)
        permission_set = await asyncio.to_thread(world.permission_set, "BenchAccess")
        emails = [f"person{i}@bench.example.com" for i in range(count)]
        await asyncio.to_thread(lambda: [world.user(e) for e in emails])
        async with identity_center_proxy(moto_url) as (proxy, url):
            proxy.latency, proxy.rate, proxy.in_progress = latency, RATE, True
            os.environ.update(
                AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench"
            )
            spec: dict[str, Any] = {
                "type": "aws-sso",
                "instance_arn": world.instance_arn,
                "permission_set_arn": permission_set,
                "account_id": ACCOUNT,
                "region": REGION,
            }

            async def held() -> int:
                return len(await asyncio.to_thread(world.assignments, permission_set))

            yield BenchTarget(
                name="aws-sso",
                granter=AwsSsoGranter(MemoryNotes()),
                spec=spec,
                emails=emails,
                calls=proxy.total,
                throttled=lambda: proxy.throttled,
                held=held,
                rate_per_second=RATE,
                rate_source="IAM Identity Center quotas: 20 requests/s for its APIs together",
                fewest_grant_calls=3,  # GetUserId, CreateAccountAssignment, one status read
                fewest_revoke_calls=2,  # DeleteAccountAssignment, one status read
            )
