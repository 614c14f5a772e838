"""PagerDuty REST API v2 client: hosts, headers, auth and classic offset pagination.

Reads only. Every request carries `Accept: application/vnd.pagerduty+json;version=2` (pins the
API version whatever the key's default) and the `Content-Type` the spec lists as required.
Lists page with `limit=100`: the first page asks `total=true`, so the remaining pages can be
fetched concurrently instead of one round trip at a time; without a total we walk `more`.
PagerDuty refuses `offset + limit > 10000`, which callers must handle by narrowing the query.
"""

from __future__ import annotations

import asyncio
import time
from enum import StrEnum
from typing import Any

import httpx

from adapters.providerhttp import (
    DEFAULT_TIMEOUT,
    PAGERDUTY_LIMIT,
    Auth,
    BadResponse,
    ProviderHTTP,
    RateLimit,
    RetryPolicy,
    StaticAuth,
)
from adapters.providerhttp.base import HTTPClientBase
from adapters.providerhttp.limiter import MonotonicClock, Sleep
from adapters.providerhttp.tasks import gather_or_cancel
from core.ports import SyncProgress

PROVIDER_NAME = "PagerDuty"
ACCEPT = "application/vnd.pagerduty+json;version=2"
PAGE_LIMIT = 100
OFFSET_CAP = 10_000

Params = list[tuple[str, Any]]


class Region(StrEnum):
    US = "us"
    EU = "eu"


API_HOSTS = {Region.US: "https://api.pagerduty.com", Region.EU: "https://api.eu.pagerduty.com"}


def api_url(region: Region | str = Region.US, base_url: str | None = None) -> str:
    """The REST host for a service region; an explicit base URL (proxy, fake) wins."""
    return (base_url or API_HOSTS[Region(str(region).lower())]).rstrip("/")


def api_key_auth(api_key: str) -> StaticAuth:
    return StaticAuth(f"Token token={api_key}")


def bearer_auth(access_token: str) -> StaticAuth:
    """A fixed OAuth access token; use `oauth.ClientCredentialsAuth` to have it renewed."""
    return StaticAuth(f"Bearer {access_token}")


class OffsetCapReached(Exception):
    """The list is longer than offset pagination can reach; narrow the query with filters."""

    def __init__(self, items: list[dict[str, Any]], total: int | None) -> None:
        super().__init__(f"more than {OFFSET_CAP} results")
        self.items = items
        self.total = total


class PagerDutyClient(HTTPClientBase):
    """Authenticated, rate-limited access to one PagerDuty account's REST API."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        auth: Auth | None = None,
        region: Region | str = Region.US,
        base_url: str | None = None,
        rate_limit: RateLimit | None = PAGERDUTY_LIMIT,
        max_concurrency: int = 8,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        clock: MonotonicClock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if (api_key is None) == (auth is None):
            raise ValueError("give exactly one of api_key or auth")
        self.region = Region(str(region).lower())
        self.base_url = api_url(self.region, base_url)
        self.http = ProviderHTTP(
            PROVIDER_NAME,
            self.base_url,
            auth=auth or api_key_auth(api_key or ""),
            headers={"Accept": ACCEPT, "Content-Type": "application/json"},
            rate_limit=rate_limit,
            max_concurrency=max_concurrency,
            timeout=timeout,
            retry=retry,
            clock=clock,
            sleep=sleep,
            transport=transport,
        )
        self.items = 0  # list items read, for progress
        self.pending = 0  # pages a list's total announced that are not fetched yet

    @property
    def progress(self) -> SyncProgress:
        """Calls so far, items read, and calls expected: those made plus pages known to come."""
        calls = self.http.calls
        return SyncProgress(calls, self.items, calls + self.pending)

    def connections(self) -> tuple[ProviderHTTP]:
        return (self.http,)

    async def get(self, path: str, params: Params | None = None, **kw: Any) -> dict[str, Any]:
        body = await self.http.get(path, params or [], **kw)
        if not isinstance(body, dict):
            raise BadResponse(f"{PROVIDER_NAME} answered {path} with an unexpected shape.")
        return body

    async def list_all(
        self, path: str, key: str, params: Params | None = None, *, page: int = PAGE_LIMIT
    ) -> list[Any]:
        """Every item of a classic paginated list; raises OffsetCapReached past 10,000.

        `page` is the page size: 100 for the v2 lists, up to 1,000 for `/v3/schedules`.
        """
        base = list(params or [])
        first = await self._page(path, key, base, 0, total=True, limit=page)
        items = list(first[key])
        if not first.get("more"):
            return items
        total = first.get("total")
        if isinstance(total, int) and total > len(items):
            reachable = min(total, OFFSET_CAP)
            offsets = range(page, reachable, page)
            self.pending += len(offsets)
            pages = await gather_or_cancel(
                *(self._page(path, key, base, o, limit=page, announced=True) for o in offsets)
            )
            for body in pages:
                items.extend(body[key])
            last = pages[-1] if pages else first
            if total > OFFSET_CAP and last.get("more"):
                raise OffsetCapReached(items, total)
            offset = (offsets[-1] if offsets else 0) + page
            if not last.get("more"):
                return items
        else:
            offset = page
        while True:  # no total, or the list grew while we read it: walk `more`
            if offset + page > OFFSET_CAP:
                raise OffsetCapReached(items, total if isinstance(total, int) else None)
            body = await self._page(path, key, base, offset, limit=page)
            items.extend(body[key])
            if not body.get("more") or not body[key]:
                return items
            offset += page

    async def _page(
        self,
        path: str,
        key: str,
        params: Params,
        offset: int,
        *,
        total: bool = False,
        limit: int = PAGE_LIMIT,
        announced: bool = False,
    ) -> dict[str, Any]:
        query = [*params, ("limit", limit), ("offset", offset)]
        if total:
            query.append(("total", "true"))
        try:
            body = await self.get(path, query)
        finally:
            self.pending -= announced
        if not isinstance(body.get(key), list):
            raise BadResponse(f"{PROVIDER_NAME} answered {path} without a `{key}` list.")
        self.items += len(body[key])
        return body
