"""Opsgenie REST API v2 client: hosts, GenieKey auth, the `data` envelope and paging links.

Opsgenie limits each request domain apart, per minute and per second over rolling windows
(docs.opsgenie.com/docs/api-rate-limiting): listing users counts against Search, current and next
on-calls against Schedule-oncalls, the other reads here against Configuration. The client keeps
one budget per domain, so a sync's many timeline reads never wait behind the user pages or the
on-call reads. The per-plan numbers are not published in a form we could verify, so each domain
gets a conservative 300 requests a minute by default (configurable); 429 answers and their
`X-RateLimit-Period-In-Sec` are honoured anyway, for that domain only.
"""

from __future__ import annotations

import asyncio
import time
from enum import StrEnum
from typing import Any

import httpx

from adapters.providerhttp import (
    DEFAULT_TIMEOUT,
    BadResponse,
    ProviderHTTP,
    RateLimit,
    RetryPolicy,
    StaticAuth,
)
from adapters.providerhttp.base import HTTPClientBase
from adapters.providerhttp.limiter import MonotonicClock, Sleep

PROVIDER_NAME = "Opsgenie"
OPSGENIE_LIMIT = RateLimit(300, 60.0)
PAGE_LIMIT = 100
MAX_PAGES = 1000  # a paging loop that never ends is a provider bug, not a reason to hang

Params = list[tuple[str, Any]]


class Region(StrEnum):
    US = "us"
    EU = "eu"


API_HOSTS = {Region.US: "https://api.opsgenie.com", Region.EU: "https://api.eu.opsgenie.com"}


def rate_domain(path: str) -> str:
    """The Opsgenie rate-limit domain a request to `path` counts against."""
    path = path.rstrip("/")
    if path == "/v2/users":
        return "search"
    if path.endswith("/on-calls") or path.endswith("/next-on-calls"):
        return "schedule-oncalls"
    return "configuration"


def api_url(region: Region | str = Region.US, base_url: str | None = None) -> str:
    return (base_url or API_HOSTS[Region(str(region).lower())]).rstrip("/")


class OpsgenieClient(HTTPClientBase):
    """Authenticated, rate-limited access to one Opsgenie account's REST API."""

    def __init__(
        self,
        *,
        api_key: str,
        region: Region | str = Region.US,
        base_url: str | None = None,
        rate_limit: RateLimit | None = OPSGENIE_LIMIT,
        max_concurrency: int = 4,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        clock: MonotonicClock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.region = Region(str(region).lower())
        self.base_url = api_url(self.region, base_url)
        self.http = ProviderHTTP(
            PROVIDER_NAME,
            self.base_url,
            auth=StaticAuth(f"GenieKey {api_key}"),
            headers={"Accept": "application/json"},
            rate_limit=rate_limit,
            max_concurrency=max_concurrency,
            timeout=timeout,
            retry=retry,
            clock=clock,
            sleep=sleep,
            transport=transport,
            domain_of=rate_domain,
        )

    def connections(self) -> tuple[ProviderHTTP]:
        return (self.http,)

    async def get(self, path: str, params: Params | None = None, **kw: Any) -> dict[str, Any]:
        """The whole JSON body (`data`, `paging`, `took`, …)."""
        body = await self.http.get(path, params or [], **kw)
        if not isinstance(body, dict) or "data" not in body:
            raise BadResponse(f"{PROVIDER_NAME} answered {path.split('?')[0]} without `data`.")
        return body

    async def data(self, path: str, params: Params | None = None, **kw: Any) -> Any:
        return (await self.get(path, params, **kw))["data"]

    async def list_followed(self, path: str, params: Params | None = None) -> list[Any]:
        """Every item of a paged list, following `paging.next` until it is absent."""
        body = await self.get(path, [*(params or []), ("limit", PAGE_LIMIT), ("offset", 0)])
        items = list(_items(body, path))
        for _ in range(MAX_PAGES):
            link = (body.get("paging") or {}).get("next")
            if not isinstance(link, str) or not link or not body["data"]:
                return items
            body = await self.get(link)
            items.extend(_items(body, path))
        raise BadResponse(f"{PROVIDER_NAME} kept paging {path} past {MAX_PAGES} pages.")


def _items(body: dict[str, Any], path: str) -> list[Any]:
    if not isinstance(body["data"], list):
        raise BadResponse(f"{PROVIDER_NAME} answered {path} without a list.")
    return body["data"]
