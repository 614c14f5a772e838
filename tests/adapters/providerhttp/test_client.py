"""The shared HTTP layer: status mapping, retries, 429 hints, limits, timeouts, no leaks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from adapters.providerhttp import (
    BadResponse,
    Forbidden,
    NotFound,
    ProviderError,
    ProviderHTTP,
    ProviderUnavailable,
    RateLimit,
    RateLimited,
    RequestRejected,
    RetryPolicy,
    StaticAuth,
    Unauthorized,
)
from adapters.providerhttp.virtualtime import VirtualTime

SECRET = "s3cr3tKEY"


def make(
    handler: Callable[[httpx.Request], httpx.Response],
    vt: VirtualTime,
    **kw: object,
) -> ProviderHTTP:
    return ProviderHTTP(
        "PagerDuty",
        "https://api.example.test",
        auth=StaticAuth(f"Token token={SECRET}"),
        transport=httpx.MockTransport(handler),
        clock=vt.monotonic,
        sleep=vt.sleep,
        retry=kw.pop("retry", RetryPolicy(attempts=4, base=0.5, cap=8.0, random=lambda: 1.0)),
        **kw,  # type: ignore[arg-type]
    )


def script(*statuses: int, headers: dict[str, str] | None = None) -> Callable[..., httpx.Response]:
    """A handler answering the given statuses in turn (then 200 forever)."""
    answers = list(statuses)

    def handler(request: httpx.Request) -> httpx.Response:
        status = answers.pop(0) if answers else 200
        body = {"ok": True} if status == 200 else {"error": {"message": "x", "code": 2000}}
        return httpx.Response(status, json=body, headers=headers if status == 429 else None)

    return handler


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, RequestRejected),
        (401, Unauthorized),
        (402, RequestRejected),
        (403, Forbidden),
        (404, NotFound),
        (422, RequestRejected),
    ],
)
async def test_other_4xx_are_not_retried(status: int, error: type[ProviderError]) -> None:
    vt = VirtualTime()
    async with make(script(status), vt) as http:
        with pytest.raises(error) as raised:
            await http.get("/users")
        assert http.calls == 1
        assert raised.value.status == status
        assert vt.slept == 0


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
async def test_5xx_and_408_are_retried_with_backoff(status: int) -> None:
    vt = VirtualTime()
    async with make(script(status, status), vt) as http:
        assert await http.get("/users") == {"ok": True}
        assert http.calls == 3
        assert http.stats.retries == 2
        assert vt.slept == pytest.approx(0.5 + 1.0)  # full jitter at its top: base * 2**n


async def test_gives_up_after_the_allowed_attempts() -> None:
    vt = VirtualTime()
    async with make(script(500, 500, 500, 500, 500), vt) as http:
        with pytest.raises(ProviderUnavailable) as raised:
            await http.get("/users")
        assert http.calls == 4
        assert raised.value.status == 500


def test_full_jitter_stays_within_the_exponential_cap() -> None:
    import random

    policy = RetryPolicy(base=0.5, cap=4.0, random=random.Random(7).random)
    for retry in range(10):
        delay = policy.backoff(retry)
        assert 0 <= delay <= min(4.0, 0.5 * 2**retry)


@pytest.mark.parametrize(
    "headers",
    [{"ratelimit-reset": "20"}, {"X-RateLimit-Period-In-Sec": "20"}, {"Retry-After": "20"}],
)
async def test_429_waits_as_long_as_the_provider_says(headers: dict[str, str]) -> None:
    vt = VirtualTime()
    async with make(script(429, headers=headers), vt, rate_limit=RateLimit(960)) as http:
        assert await http.get("/oncalls") == {"ok": True}
        assert http.calls == 2
        assert http.stats.throttled == 1
        assert vt.elapsed == pytest.approx(20.0)


async def test_429_pauses_every_concurrent_caller() -> None:
    vt = VirtualTime()
    sent: list[float] = []
    answers = [429]

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(vt.monotonic())
        if answers:
            answers.pop()
            return httpx.Response(429, headers={"ratelimit-reset": "10"})
        return httpx.Response(200, json={})

    async with make(handler, vt, rate_limit=RateLimit(960), max_concurrency=1) as http:
        await asyncio.gather(*(http.get(f"/x/{i}") for i in range(4)))
    assert sent[0] == 0
    assert all(t >= 10 for t in sent[1:])  # nobody else went while the key was throttled


async def test_429_without_hints_backs_off_and_finally_raises_rate_limited() -> None:
    vt = VirtualTime()
    async with make(script(429, 429, 429, 429), vt) as http:
        with pytest.raises(RateLimited):
            await http.get("/oncalls")
        assert http.calls == 4
        assert vt.slept == pytest.approx(0.5 + 1.0 + 2.0)


async def test_timeouts_and_connection_errors_are_retried_then_unavailable() -> None:
    vt = VirtualTime()
    failures = [httpx.ReadTimeout("slow"), httpx.ConnectError("refused")]

    def handler(request: httpx.Request) -> httpx.Response:
        if failures:
            raise failures.pop(0)
        return httpx.Response(200, json=[1])

    async with make(handler, vt) as http:
        assert await http.get("/users") == [1]
        assert http.calls == 3

    def always(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("no route")

    async with make(always, vt) as http:
        with pytest.raises(ProviderUnavailable):
            await http.get("/users")


async def test_errors_never_carry_the_secret() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/boom":
            raise httpx.ConnectError(f"failed with {request.headers['Authorization']}")
        return httpx.Response(401, json={"error": {"message": f"bad key {SECRET}", "code": 2006}})

    vt = VirtualTime()
    async with make(handler, vt, retry=RetryPolicy(attempts=1)) as http:
        for path in ("/users", "/boom"):
            with pytest.raises(ProviderError) as raised:
                await http.get(path)
            error = raised.value
            assert SECRET not in str(error) and SECRET not in repr(error)
            assert error.__cause__ is None and SECRET not in repr(error.__context__)
            assert str(error).endswith(".") and "PagerDuty" in str(error)
        assert SECRET not in repr(http.auth)


async def test_not_json_is_a_bad_response() -> None:
    vt = VirtualTime()
    async with make(lambda r: httpx.Response(200, text="<html>"), vt) as http:
        with pytest.raises(BadResponse):
            await http.get("/users")


async def test_never_sends_credentials_to_another_host() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={})

    async with make(handler, VirtualTime()) as http:
        await http.get("https://api.example.test/v2/users?offset=100")
        with pytest.raises(BadResponse):
            await http.get("https://evil.example/v2/users?offset=100")
    assert seen == ["https://api.example.test/v2/users?offset=100"]


async def test_concurrency_is_bounded() -> None:
    in_flight = peak = 0
    full, release = asyncio.Event(), asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight == 3:
            full.set()
        await release.wait()  # every answer is held until the test has looked
        in_flight -= 1
        return httpx.Response(200, json={})

    async with ProviderHTTP(
        "Opsgenie", "https://x.test", auth=StaticAuth("GenieKey k"),
        transport=httpx.MockTransport(handler), max_concurrency=3,
    ) as http:  # fmt: skip
        calls = asyncio.gather(*(http.get(f"/p/{i}") for i in range(20)))
        await asyncio.wait_for(full.wait(), 2)
        for _ in range(20):
            await asyncio.sleep(0)  # give a fourth request every chance to slip in
        assert peak == 3
        release.set()
        await calls
        assert http.calls == 20
    assert peak == 3


async def test_deadline_bounds_waits_and_retries() -> None:
    vt = VirtualTime()
    async with make(
        script(503, 503, 503), vt, retry=RetryPolicy(attempts=5, base=1.0, random=lambda: 1.0)
    ) as http:
        with pytest.raises(ProviderUnavailable):
            await http.get("/oncalls", deadline=1.5)
        assert vt.elapsed < 1.5
    async with make(script(429, headers={"ratelimit-reset": "30"}), vt) as http:
        with pytest.raises(RateLimited):
            await http.get("/oncalls", deadline=1.5)  # waiting 30 s would miss the deadline
        assert http.calls == 1


async def test_explicit_timeout_reaches_the_transport() -> None:
    seen: list[dict[str, float | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={})

    async with make(handler, VirtualTime(), timeout=httpx.Timeout(7.0, connect=2.0)) as http:
        await http.get("/a")
        await http.get("/b", deadline=1.5)
    assert seen[0]["read"] == 7.0 and seen[0]["connect"] == 2.0
    assert seen[1]["read"] is not None and seen[1]["read"] <= 1.5


class RenewingAuth:
    def __init__(self) -> None:
        self.token, self.renewals = "old", 0

    async def authorization(self) -> str:
        return f"Bearer {self.token}"

    def invalidate(self) -> bool:
        self.token, self.renewals = "new", self.renewals + 1
        return True


async def test_401_with_renewable_credentials_is_retried_once() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        ok = request.headers["Authorization"] == "Bearer new"
        return httpx.Response(200 if ok else 401, json={})

    auth = RenewingAuth()
    async with ProviderHTTP(
        "PagerDuty", "https://x.test", auth=auth, transport=httpx.MockTransport(handler)
    ) as http:
        assert await http.get("/users") == {}
        assert auth.renewals == 1 and http.calls == 2
