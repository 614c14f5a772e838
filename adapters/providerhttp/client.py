"""The one HTTP layer every provider adapter uses, on httpx.AsyncClient.

It owns what each adapter would otherwise get subtly wrong on its own: credentials in a header
that never leaks into an error, a client-side sliding window within the provider's budget (and its reported count), bounded
concurrency, retries with full-jitter backoff for 5xx / 429 / timeouts (never for other 4xx),
429 wait hints honoured for every concurrent caller, explicit timeouts, optional per-call
deadlines, and a count of the calls made (the cost figure `FetchResult.api_calls` reports).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from adapters.providerhttp.errors import (
    BadResponse,
    ProviderError,
    ProviderUnavailable,
    error_for_status,
)
from adapters.providerhttp.limiter import MonotonicClock, RateLimit, Sleep, SlidingWindow
from adapters.providerhttp.retry import RetryPolicy, budget_left, retry_after

# What httpx accepts as query parameters: a mapping, or a list or tuple of (name, value) pairs.
QueryParams = Mapping[str, Any] | list[tuple[str, Any]] | tuple[tuple[str, Any], ...]

# A target's own reading of a refused answer: seconds to wait when it is a rate limit that is not
# a plain 429 (GitHub answers 403 with `x-ratelimit-remaining: 0`), else None.
ThrottleHint = Callable[[httpx.Response], float | None]
# A target's own facts from a refused answer (its error code, the permission it names), kept on
# the ProviderError so the adapter can say exactly what is missing. Only what is safe to show.
ErrorFacts = Callable[[httpx.Response], dict[str, str]]

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class Auth(Protocol):
    """Supplies the Authorization header; may renew a token when the provider says 401."""

    async def authorization(self) -> str: ...

    def invalidate(self) -> bool:
        """Forget a cached token; True when a fresh one can be had (so a 401 is worth a retry)."""
        ...


class StaticAuth:
    """A fixed header value, e.g. `Token token=…` or `GenieKey …`; kept out of repr."""

    def __init__(self, value: str) -> None:
        self._value = value

    async def authorization(self) -> str:
        return self._value

    def invalidate(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "StaticAuth(***)"


@dataclass(slots=True)
class CallStats:
    calls: int = 0
    retries: int = 0
    throttled: int = 0
    failures: int = 0


class ProviderHTTP:
    """JSON over HTTP to one provider host; every call goes through limits, retries and mapping."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        auth: Auth,
        headers: Mapping[str, str] | None = None,
        rate_limit: RateLimit | None = None,
        write_limit: SlidingWindow | None = None,
        max_concurrency: int = 4,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        clock: MonotonicClock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        throttle_hint: ThrottleHint | None = None,
        error_facts: ErrorFacts | None = None,
        domain_of: Callable[[str], str] | None = None,
    ) -> None:
        self.provider = provider
        self._throttle_hint = throttle_hint
        self._error_facts = error_facts
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.stats = CallStats()
        self.auth = auth
        self._auth = auth
        self.clock = clock
        self._clock = clock
        self._sleep = sleep
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._max_concurrency = max_concurrency
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        # One budget per rate-limit domain of the provider (Opsgenie counts its search,
        # configuration and on-call reads apart); one for everything without `domain_of`.
        self._rate_limit = rate_limit
        self._domain_of = domain_of
        self._buckets: dict[str, SlidingWindow] = {}
        # A budget only writes spend (GitHub's content-creating requests), shared by the clients
        # given the same window, since the provider counts it per credential.
        self.write_bucket = write_limit
        self._origin = _origin(self.base_url)
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=dict(headers or {}),
            timeout=self._timeout,
            transport=transport,
            follow_redirects=False,
            # each rate-limit domain has its own concurrency, so one waiting for its budget
            # never holds up another's requests
            limits=httpx.Limits(max_connections=max_concurrency * (4 if domain_of else 1)),
        )

    def _domain(self, path: str) -> str:
        return self._domain_of(urlsplit(path).path) if self._domain_of else ""

    def _semaphore(self, path: str) -> asyncio.Semaphore:
        domain = self._domain(path)
        found = self._semaphores.get(domain)
        if found is None:
            found = self._semaphores[domain] = asyncio.Semaphore(self._max_concurrency)
        return found

    def bucket(self, path: str = "") -> SlidingWindow | None:
        """The budget that a request to `path` spends (None without a rate limit)."""
        if self._rate_limit is None:
            return None
        domain = self._domain(path)
        found = self._buckets.get(domain)
        if found is None:
            found = SlidingWindow(self._rate_limit, clock=self._clock, sleep=self._sleep)
            self._buckets[domain] = found
        return found

    @property
    def calls(self) -> int:
        """HTTP requests actually sent, retries included."""
        return self.stats.calls

    async def __aenter__(self) -> ProviderHTTP:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(
        self,
        path: str,
        params: QueryParams | None = None,
        *,
        deadline: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> Any:
        """GET `path` (relative to the base URL, or a same-origin absolute URL) as JSON."""
        return await self.request("GET", path, params=params, deadline=deadline, retry=retry)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | None = None,
        authorize: bool = True,
    ) -> Any:
        """One logical call: retried as the policy allows, raising a ProviderError on failure.

        `deadline` (seconds from now) bounds the whole call, waits and retries included.
        """
        response = await self.response(
            method,
            path,
            params=params,
            data=data,
            json=json,
            headers=headers,
            deadline=deadline,
            retry=retry,
            authorize=authorize,
        )
        return self._json(response)

    async def page(self, path: str, params: QueryParams | None = None) -> tuple[Any, str | None]:
        """GET one page of a listing paged with `Link: <url>; rel="next"` (Okta, GitHub): its
        JSON and the next page's URL (None on the last page)."""
        response = await self.response("GET", path, params=params)
        link = response.links.get("next", {}).get("url")
        return self._json(response), str(link) if link else None

    async def response(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | None = None,
        authorize: bool = True,
    ) -> httpx.Response:
        """`request`, answering with the successful response itself (for its headers)."""
        self._check_origin(path)
        policy = retry or self.retry
        bucket = self.bucket(path)
        end = None if deadline is None else self._clock() + deadline
        attempt = 0
        renewed = False
        while True:
            remaining = None if end is None else end - self._clock()
            if remaining is not None and remaining <= 0:
                raise self._late()
            response, error = await self._send(
                method, path, params, data, end, authorize, json=json, extra=headers, bucket=bucket
            )
            hint: float | None = None
            if response is not None:
                if bucket is not None and response.status_code != 429:
                    bucket.observe(*budget_left(response.headers))
                if response.is_success:
                    return response
                status = response.status_code
                if status == 401 and authorize and not renewed and self._auth.invalidate():
                    renewed = True
                    continue
                own_hint = self._throttle_hint(response) if self._throttle_hint else None
                if own_hint is not None:
                    status = 429  # a rate limit by another name: waited for and retried as one
                if status == 429:
                    self.stats.throttled += 1
                    hint = own_hint if own_hint is not None else retry_after(response.headers)
                    if hint is not None and bucket is not None:
                        bucket.pause(hint)
                    if hint is not None and self.write_bucket is not None and _writes(method):
                        self.write_bucket.pause(hint)
                error = error_for_status(
                    status,
                    self.provider,
                    code=_error_code(response),
                    retry_after=hint,
                )
                if self._error_facts is not None:
                    error.facts = self._error_facts(response)
            assert error is not None
            attempt += 1
            delay = hint if hint is not None else policy.backoff(attempt - 1)
            if (
                not error.retryable
                or attempt >= policy.attempts
                or delay > policy.max_retry_after
                or (end is not None and self._clock() + delay >= end)
            ):
                self.stats.failures += 1
                raise error
            self.stats.retries += 1
            if hint is None or bucket is None:  # a paused bucket already holds us
                await self._sleep(delay)

    async def _send(
        self,
        method: str,
        path: str,
        params: QueryParams | None,
        data: Mapping[str, str] | None,
        end: float | None,
        authorize: bool,
        *,
        json: Any = None,
        extra: Mapping[str, str] | None = None,
        bucket: SlidingWindow | None = None,
    ) -> tuple[httpx.Response | None, ProviderError | None]:
        async with self._semaphore(path):
            if bucket is not None:
                max_wait = None if end is None else end - self._clock()
                if not await bucket.acquire(max_wait=max_wait):
                    raise self._late()
            if self.write_bucket is not None and _writes(method):
                max_wait = None if end is None else end - self._clock()
                if not await self.write_bucket.acquire(max_wait=max_wait):
                    raise self._late()
            headers = {"Authorization": await self._auth.authorization()} if authorize else {}
            headers.update(extra or {})
            timeout = self._timeout
            if end is not None:
                remaining = end - self._clock()
                if remaining <= 0:
                    raise self._late()
                timeout = httpx.Timeout(min(remaining, self._timeout.read or remaining))
            self.stats.calls += 1
            try:
                response = await self._client.request(
                    method,
                    path,
                    params=params or None,
                    data=data,
                    json=json,
                    headers=headers,
                    timeout=timeout,
                )
            except httpx.TimeoutException:
                return None, ProviderUnavailable(
                    f"{self.provider} did not answer in time.", provider=self.provider
                )
            except httpx.TransportError:
                return None, ProviderUnavailable(
                    f"{self.provider} could not be reached (connection failed).",
                    provider=self.provider,
                )
            return response, None

    def _json(self, response: httpx.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None  # a write answered with no body
        try:
            return response.json()
        except ValueError:
            raise BadResponse(
                f"{self.provider} answered {response.status_code} with a body that is not JSON.",
                provider=self.provider,
                status=response.status_code,
            ) from None

    def _late(self) -> ProviderUnavailable:
        return ProviderUnavailable(
            f"{self.provider} did not answer within the time allowed.", provider=self.provider
        )

    def _check_origin(self, path: str) -> None:
        """Never send credentials to another host, e.g. via a paging link the provider returned."""
        if "://" in path and _origin(path) != self._origin:
            raise BadResponse(
                f"{self.provider} pointed us to a URL outside its API; not following it.",
                provider=self.provider,
            )


def _writes(method: str) -> bool:
    return method.upper() not in ("GET", "HEAD", "OPTIONS")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def _error_code(response: httpx.Response) -> int | None:
    """The provider's numeric error code, if the body has one (PagerDuty nests it)."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    code = body.get("error", {}).get("code") if isinstance(body.get("error"), dict) else None
    code = body.get("code") if code is None else code
    return code if isinstance(code, int) else None
