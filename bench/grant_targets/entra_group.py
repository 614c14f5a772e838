"""entra-group: the fake Entra ID and Microsoft Graph over real HTTP, with the latency asked for
and Graph's documented write quota for an application+tenant pair enforced on writes (3,000 per
2 minutes 30 seconds, answered 429 with Retry-After, as Graph does). Reads count against
Graph's resource-unit quota (3,500 to 8,000 units per 10 seconds by tenant size), which a grant
run does not reach, so the fake does not hold them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.entra import EntraGroupGranter, GraphClient
from bench.grant_targets.common import BenchTarget, MemoryNotes
from tests.fakes.graph import FakeGraph
from tests.fakes.live import returning

TENANT, CLIENT, SECRET = "6b9f1c0e-4a53-4c1e-9f7e-1d2c3b4a5f60", "bench-app", "bench-secret"
QUOTA, WINDOW = 3000, 150.0


@asynccontextmanager
async def target(count: int, latency: float) -> AsyncIterator[BenchTarget]:
    async with FakeGraph(latency=latency, rate_limit=(QUOTA, WINDOW), record_bodies=False) as graph:
        graph.add_app(TENANT, CLIENT, secret=SECRET)
        emails = [f"person{i}@bench.example.com" for i in range(count)]
        for email in emails:
            graph.add_user(email)
        group = graph.add_group("Bench")
        client = GraphClient(
            tenant=TENANT, client_id=CLIENT, client_secret=SECRET, graph_url=graph.url,
            login_url=graph.url, max_concurrency=16,
        )  # fmt: skip

        async def held() -> int:
            return len(group.members)

        try:
            yield BenchTarget(
                name="entra-group",
                granter=EntraGroupGranter(returning(client), MemoryNotes()),
                spec={"type": "entra-group", "group": group.id},
                emails=emails,
                calls=lambda: len(graph.requests),
                limited_calls=lambda: sum(
                    r.method in ("POST", "DELETE") and r.path.startswith("/v1.0/")
                    for r in graph.requests
                ),
                throttled=lambda: graph.throttled,
                held=held,
                rate_per_second=QUOTA / WINDOW,
                rate_source="Microsoft Graph identity and access write quota: 3,000 requests per "
                "2 min 30 s per application and tenant",
                fewest_grant_calls=2,  # find the user, add the member
                fewest_revoke_calls=1,  # remove the member
                fewest_limited_grant_calls=1,  # the add is the one write
                fewest_limited_revoke_calls=1,
            )
        finally:
            await client.aclose()
