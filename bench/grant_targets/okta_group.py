"""okta-group: the fake Okta over real HTTP, with the latency asked for and Okta's documented
per-minute limit for most management API actions enforced (600 a minute on One App and
Enterprise orgs; 429 with X-Rate-Limit-Reset, as Okta answers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.okta import OktaClient, OktaGroupGranter
from bench.grant_targets.common import BenchTarget, MemoryNotes
from tests.fakes.live import returning
from tests.fakes.okta import FakeOkta

LIMIT, WINDOW = 600, 60.0


@asynccontextmanager
async def target(count: int, latency: float) -> AsyncIterator[BenchTarget]:
    async with FakeOkta(latency=latency, rate_limit=(LIMIT, WINDOW), record_bodies=False) as okta:
        emails = [f"person{i}@bench.example.com" for i in range(count)]
        for email in emails:
            okta.add_user(email)
        group = okta.add_group("Bench")
        client = OktaClient(org=okta.url, api_token=okta.add_token(), max_concurrency=16)

        async def held() -> int:
            return len(group.members)

        try:
            yield BenchTarget(
                name="okta-group",
                granter=OktaGroupGranter(returning(client), MemoryNotes()),
                spec={"type": "okta-group", "group": group.id},
                emails=emails,
                calls=lambda: len(okta.requests),
                throttled=lambda: okta.throttled,
                held=held,
                rate_per_second=LIMIT / WINDOW,
                rate_source="Okta management rate limits: 600 requests a minute for most /api/v1 "
                "actions (One App, Enterprise)",
                fewest_grant_calls=2,  # find the user by login, assign
                fewest_revoke_calls=1,  # unassign
            )
        finally:
            await client.aclose()
