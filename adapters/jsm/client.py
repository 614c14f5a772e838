"""JSM operations REST client: Basic auth, the cloud-id lookup, `values`/`links.next` paging.

Two `ProviderHTTP` instances, one per host (see `site`), share the credentials but not their
rate budgets, since Atlassian counts the operations API and the site's Jira API separately.
Neither publishes a number we could verify for Basic-auth traffic, so each gets the same
conservative 300 requests a minute as the Opsgenie client; a 429's `Retry-After` is honoured
anyway by the HTTP layer.
"""

from __future__ import annotations

import asyncio
import re
import time
from base64 import b64encode
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx

from adapters.jsm.site import Hosts, ops_root
from adapters.providerhttp import (
    DEFAULT_TIMEOUT,
    BadResponse,
    NotFound,
    ProviderHTTP,
    RateLimit,
    RetryPolicy,
    StaticAuth,
)
from adapters.providerhttp.base import HTTPClientBase
from adapters.providerhttp.limiter import MonotonicClock, Sleep

API_NAME = "JSM operations"
JSM_LIMIT = RateLimit(300, 60.0)
PAGE_SIZE = 100  # a smaller cap on the site's side only means more `links.next` to follow
MAX_PAGES = 1000  # a paging loop that never ends is a provider bug, not a reason to hang
_CLOUD_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")

Params = list[tuple[str, Any]]
Obj = dict[str, Any]


def basic_auth(email: str, api_token: str) -> StaticAuth:
    """`Authorization: Basic base64(email:token)`, kept out of every repr and error."""
    return StaticAuth("Basic " + b64encode(f"{email}:{api_token}".encode()).decode("ascii"))


class JsmClient(HTTPClientBase):
    """Authenticated, rate-limited access to one site's JSM operations and Jira user data."""

    def __init__(
        self,
        *,
        site: str,
        email: str,
        api_token: str,
        base_url: str | None = None,
        site_url: str | None = None,
        cloud_id: str | None = None,
        rate_limit: RateLimit | None = JSM_LIMIT,
        max_concurrency: int = 4,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        clock: MonotonicClock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not email.strip() or not api_token:
            raise ValueError("JSM needs the Atlassian account email and an API token")
        if cloud_id is not None and not _CLOUD_ID.match(cloud_id):
            raise ValueError(f"`{cloud_id}` is not an Atlassian cloud id")
        self.hosts = Hosts.of(site, base_url, site_url)
        self.email = email.strip()
        auth = basic_auth(self.email, api_token)

        def http(name: str, url: str) -> ProviderHTTP:
            return ProviderHTTP(
                name,
                url,
                auth=auth,
                headers={"Accept": "application/json"},
                rate_limit=rate_limit,
                max_concurrency=max_concurrency,
                timeout=timeout,
                retry=retry,
                clock=clock,
                sleep=sleep,
                transport=transport,
            )

        self.api = http(API_NAME, self.hosts.api_url)
        self.site = http(f"Atlassian site {self.hosts.site}", self.hosts.site_url)
        self._cloud_id = cloud_id
        self._lookup = asyncio.Lock()

    def connections(self) -> tuple[ProviderHTTP, ProviderHTTP]:
        return (self.api, self.site)

    async def cloud_id(self) -> str:
        """The site's cloud id, from `/_edge/tenant_info` once (it never changes for a site).

        The endpoint is public, so no credentials are sent to it.
        """
        async with self._lookup:
            if self._cloud_id is None:
                try:
                    body = await self.site.request("GET", "/_edge/tenant_info", authorize=False)
                except NotFound:
                    raise NotFound(
                        f"No Atlassian site answers at {self.hosts.site_url} (tenant_info: "
                        "404); check the site name.",
                        provider=self.site.provider,
                        status=404,
                    ) from None
                found = body.get("cloudId") if isinstance(body, dict) else None
                if not isinstance(found, str) or not _CLOUD_ID.match(found):
                    raise BadResponse(
                        f"{self.site.provider} answered tenant_info without a cloud id.",
                        provider=self.site.provider,
                    )
                self._cloud_id = found
            return self._cloud_id

    async def ops_get(self, path: str, params: Params | None = None, **kw: Any) -> Any:
        """GET an operations path written as the API writes it (`/v1/schedules/...`)."""
        return await self.api.get(ops_root(await self.cloud_id()) + path, params or [], **kw)

    async def values(self, path: str, params: Params | None = None) -> list[Obj]:
        """Every item of a paged list, following `links.next` until it is absent.

        The API pages with `offset`/`size` and writes the next page as a path from the API
        root (`/v1/schedules?offset=50&size=25`), not from the host, so the link is followed
        under the site's root; the published sample's link drops `expand`, so parameters we
        asked for and the link lacks are carried over (else page two would come without
        rotations). A bare JSON array (some list endpoints answer one) is one page.
        """
        asked = list(params or [])
        body = await self.ops_get(path, [*asked, ("offset", 0), ("size", PAGE_SIZE)])
        items = _items(body, path)
        for _ in range(MAX_PAGES):
            link = (body.get("links") or {}).get("next") if isinstance(body, dict) else None
            if not isinstance(link, str) or not link or not _items(body, path):
                return items
            target, query = await self._follow(link, asked)
            body = await self.api.get(target, query)
            items.extend(_items(body, path))
        raise BadResponse(f"{API_NAME} kept paging {path} past {MAX_PAGES} pages.")

    async def follow(self, link: str, asked: Params) -> Any:
        """GET a `links.next` page, as `values` follows it (the parameters asked for first and
        missing from the link carried over)."""
        target, query = await self._follow(link, asked)
        return await self.api.get(target, query)

    async def _follow(self, link: str, asked: Params) -> tuple[str, Params]:
        parts = urlsplit(link)
        query: Params = list(parse_qsl(parts.query, keep_blank_values=True))
        have = {name for name, _ in query}
        query += [(name, value) for name, value in asked if name not in have]
        if parts.scheme:  # absolute: the HTTP layer refuses it unless it is the API's own host
            return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), query
        root = ops_root(await self.cloud_id())
        path = parts.path
        return (path if path.startswith(root + "/") else root + "/" + path.lstrip("/")), query


def _items(body: Any, path: str) -> list[Obj]:
    found = (
        body if isinstance(body, list) else body.get("values") if isinstance(body, dict) else None
    )
    if not isinstance(found, list):
        raise BadResponse(f"{API_NAME} answered {path} without a list of values.")
    return [item for item in found if isinstance(item, dict)]
