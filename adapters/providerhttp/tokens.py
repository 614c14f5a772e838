"""A bearer token that is fetched when needed, kept until shortly before it expires, and fetched
again when the target says 401: the `Auth` for every client-credentials style login (Microsoft
Entra ID, an Okta service app, a GitHub App installation)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from adapters.providerhttp.limiter import MonotonicClock

EARLY = 60.0  # renew this long before the token's end, so no call carries one that dies mid-way


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    expires_in: float  # seconds from when it was issued


class BearerTokenAuth:
    """`Authorization: {scheme} {token}` with a cached token from `fetch`; kept out of repr."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Token]],
        *,
        scheme: str = "Bearer",
        clock: MonotonicClock = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._scheme = scheme
        self._clock = clock
        self._token: str | None = None
        self._until = 0.0
        self._lock = asyncio.Lock()
        self.fetched = 0

    async def token(self) -> str:
        async with self._lock:  # many concurrent calls, one login
            if self._token is None or self._clock() >= self._until:
                got = await self._fetch()
                self.fetched += 1
                self._token = got.value
                self._until = self._clock() + max(0.0, got.expires_in - EARLY)
            return self._token

    async def authorization(self) -> str:
        return f"{self._scheme} {await self.token()}"

    def invalidate(self) -> bool:
        self._token = None
        return True

    def __repr__(self) -> str:
        return "BearerTokenAuth(***)"
