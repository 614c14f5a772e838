"""github-team: the fake GitHub over real HTTP, with the latency asked for and GitHub's documented
secondary limit on content-creating requests enforced (80 a minute, counting the PUT and DELETE
of memberships, not reads; answered with x-ratelimit-remaining 0 and x-ratelimit-reset, which
the client waits out). Not enforced: GitHub's further 500 content-creating requests an hour,
which would make 1,000 grants and revokes take four hours however they are paced, and the
primary limit (5,000 requests an hour for a token), which this run's reads approach."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.github import GitHubClient, GitHubTeamGranter
from bench.grant_targets.common import BenchTarget, MemoryNotes
from tests.fakes.github import FakeGitHub
from tests.fakes.live import returning

LIMIT, WINDOW = 80, 60.0


@asynccontextmanager
async def target(count: int, latency: float) -> AsyncIterator[BenchTarget]:
    async with FakeGitHub(latency=latency, rate_limit=(LIMIT, WINDOW), record_bodies=False) as gh:
        emails = [f"person{i}@bench.example.com" for i in range(count)]
        logins = {email: f"person{i}" for i, email in enumerate(emails)}
        for login in logins.values():
            gh.add_account(login, org="bench")
        team = gh.add_team("bench", "bench-team")
        client = GitHubClient(token=gh.add_token(), api_url=gh.url, max_concurrency=16)

        async def login_of(email: str) -> str | None:
            return logins.get(email)

        async def held() -> int:
            return len(team.members)

        try:
            yield BenchTarget(
                name="github-team",
                granter=GitHubTeamGranter(returning(client), MemoryNotes(), login_of),
                spec={"type": "github-team", "org": "bench", "team": "bench-team"},
                emails=emails,
                calls=lambda: len(gh.requests),
                limited_calls=lambda: sum(r.method != "GET" for r in gh.requests),
                throttled=lambda: gh.throttled,
                held=held,
                rate_per_second=LIMIT / WINDOW,
                rate_source="GitHub secondary rate limit: 80 content-creating requests a minute",
                fewest_grant_calls=1,  # put the membership (the login is mapped)
                fewest_revoke_calls=1,  # delete the membership
                fewest_limited_grant_calls=1,
                fewest_limited_revoke_calls=1,
            )
        finally:
            await client.aclose()
