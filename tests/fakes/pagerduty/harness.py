"""What every fake provider server shares: an aiohttp app on an ephemeral 127.0.0.1 port that
records each request, adds latency, enforces a rolling-window rate limit (per rate-limit domain
where the provider counts some endpoints apart, optionally also per second) and injects one-shot
faults ("the 3rd request to /oncalls answers 429"). Provider fakes add routes and the
provider-specific error bodies and headers.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import time
from abc import ABC, abstractmethod
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    status: int = 0
    body: Any = None
    form: dict[str, str] = field(default_factory=dict)
    sent: Any = None  # the JSON request body of a write, for checking it against the spec

    def params(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]

    def param(self, name: str) -> str | None:
        values = self.params(name)
        return values[0] if values else None


@dataclass
class Fault:
    pattern: str
    status: int
    at: int | None
    headers: dict[str, str]
    body: Any
    delay: float = 0.0


class FakeServer(ABC):
    """Base fake: subclasses implement `routes`, `authenticate` and the error bodies."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        rate_limit: tuple[int, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        record_bodies: bool = True,
        per_second: int | None = None,
    ) -> None:
        self.latency = latency
        self.rate_limit = rate_limit
        self.per_second = per_second
        self.clock = clock
        self.sleep = sleep
        self.record_bodies = record_bodies
        self.requests: list[RecordedRequest] = []
        self.counts: Counter[str] = Counter()
        self.throttled = 0
        self.max_in_window = 0
        self.max_in_second = 0
        self.throttled_by: Counter[str] = Counter()
        self.throttled_period = 60.0
        self._windows: dict[str, deque[float]] = {}
        self._seconds: dict[str, deque[float]] = {}
        self._faults: list[Fault] = []
        self._lost: list[tuple[str, str]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- to implement -----------------------------------------------------------------------
    @abstractmethod
    def routes(self, app: web.Application) -> None:
        """Add the provider's endpoints to the app."""

    def authenticate(self, request: web.Request) -> web.Response | None:
        """None when the request may proceed, else the error response (401/403)."""
        return None

    def error(self, status: int, message: str) -> web.Response:
        return web.json_response({"message": message}, status=status)

    def throttle_headers(self, reset: float) -> dict[str, str]:
        """Headers of a 429 (`throttled_period`: the window that was full, minute or second)."""
        return {"Retry-After": str(max(1, round(reset)))}

    def domain(self, request: web.Request) -> str:
        """The rate-limit domain a request counts against (one for every request by default)."""
        return ""

    def limited(self, request: web.Request) -> bool:
        """Whether the request counts against `rate_limit` (every one, unless the provider
        documents a limit on some requests only)."""
        return True

    def budget_headers(self, remaining: int, reset: float) -> dict[str, str]:
        """Headers telling the client its budget on an answer that was not throttled."""
        return {}

    # -- control ----------------------------------------------------------------------------
    def fail(
        self,
        pattern: str,
        status: int,
        *,
        at: int | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        delay: float = 0.0,
    ) -> None:
        """One-shot fault on requests whose path matches `pattern` (fnmatch): the `at`-th such
        request since the server started (1-based), or the next one when `at` is None."""
        self._faults.append(Fault(pattern, status, at, dict(headers or {}), body, delay))

    def lose_answer(self, method: str, pattern: str) -> None:
        """The next `method` request whose path matches `pattern` is acted on, but its answer is
        lost on the way back (the client sees a 502): what a retried write must survive."""
        self._lost.append((method.upper(), pattern))

    def requests_to(self, pattern: str) -> list[RecordedRequest]:
        return [r for r in self.requests if fnmatch.fnmatchcase(r.path, pattern)]

    # -- lifecycle --------------------------------------------------------------------------
    async def __aenter__(self) -> FakeServer:
        app = web.Application(middlewares=[self._middleware])
        self.routes(app)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- machinery --------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        record = RecordedRequest(
            request.method,
            request.path,
            list(request.query.items()),
            dict(request.headers),
        )
        if request.method == "POST" and request.content_type.endswith("urlencoded"):
            record.form = dict((await request.post()).items())  # type: ignore[arg-type]
        elif request.body_exists and request.content_type == "application/json":
            try:
                record.sent = await request.json()  # aiohttp keeps the body for the handler
            except ValueError:
                record.sent = None
        self.requests.append(record)
        self.counts[request.path] += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        domain = self.domain(request)
        throttled = self._throttle(domain) if self.limited(request) else None
        response = throttled or await self._fault(request)
        if response is None:
            response = self.authenticate(request)
        if response is None:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = self.error(exc.status, exc.reason)
            for method, pattern in self._lost:
                if method == request.method and fnmatch.fnmatchcase(request.path, pattern):
                    if response.status < 400:
                        self._lost.remove((method, pattern))
                        response = self.error(502, "Bad Gateway")
                    break
        if self.rate_limit is not None and response.status != 429:
            response.headers.update(self.budget_headers(*self._window_budget_after(domain)))
        record.status = response.status
        if self.record_bodies and isinstance(response, web.Response) and response.body:
            try:
                record.body = json.loads(response.body)  # type: ignore[arg-type]
            except ValueError:
                record.body = None
        return response

    def _window_budget_after(self, domain: str = "") -> tuple[int, float]:
        """What is left of the rolling window after this request, and when its oldest ages out."""
        assert self.rate_limit is not None
        limit, period = self.rate_limit
        now = self.clock()
        window = self._windows.get(domain) or deque()
        reset = window[0] + period - now if window else period
        return max(0, limit - len(window)), max(0.0, reset)

    def _throttle(self, domain: str = "") -> web.Response | None:
        if self.rate_limit is None:
            return None
        limit, period = self.rate_limit
        now = self.clock()
        window = self._windows.setdefault(domain, deque())
        second = self._seconds.setdefault(domain, deque())
        while window and window[0] <= now - period:
            window.popleft()
        while second and second[0] <= now - 1.0:
            second.popleft()
        full: tuple[float, float] | None = None
        if len(window) >= limit:
            full = (window[0] + period - now, period)
        elif self.per_second is not None and len(second) >= self.per_second:
            full = (second[0] + 1.0 - now, 1.0)
        if full is not None:
            self.throttled += 1
            self.throttled_by[domain] += 1
            response = self.error(429, "Rate Limit Exceeded")
            self.throttled_period = full[1]
            response.headers.update(self.throttle_headers(full[0]))
            return response
        window.append(now)
        self.max_in_window = max(self.max_in_window, len(window))
        if self.per_second is not None:
            second.append(now)
            self.max_in_second = max(self.max_in_second, len(second))
        return None

    async def _fault(self, request: web.Request) -> web.Response | None:
        for fault in self._faults:
            if not fnmatch.fnmatchcase(request.path, fault.pattern):
                continue
            matched = sum(
                self.counts[p] for p in self.counts if fnmatch.fnmatchcase(p, fault.pattern)
            )
            if fault.at is not None and fault.at != matched:
                continue
            self._faults.remove(fault)
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.body is not None:
                response = web.json_response(fault.body, status=fault.status)
            else:
                response = self.error(fault.status, "Injected fault")
            if fault.status == 429 and not fault.headers:
                response.headers.update(self.throttle_headers(1.0))
            response.headers.update(fault.headers)
            return response
        return None
