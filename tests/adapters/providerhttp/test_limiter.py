"""The token bucket keeps every window of `period` seconds within the provider's budget."""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from datetime import UTC, datetime

import pytest

from adapters.providerhttp import PAGERDUTY_LIMIT, RateLimit, TokenBucket
from adapters.providerhttp.retry import retry_after
from adapters.providerhttp.virtualtime import VirtualTime


def max_in_any_window(stamps: list[float], period: float) -> int:
    stamps = sorted(stamps)
    return max(i - bisect_left(stamps, t - period + 1e-9) + 1 for i, t in enumerate(stamps))


async def test_bucket_never_exceeds_960_per_rolling_minute() -> None:
    vt = VirtualTime()
    bucket = TokenBucket(PAGERDUTY_LIMIT, clock=vt.monotonic, sleep=vt.sleep)
    stamps = []

    async def worker(n: int) -> None:
        for _ in range(n):
            await bucket.acquire()
            stamps.append(vt.monotonic())

    await asyncio.gather(*(worker(500) for _ in range(6)))  # 3,000 requests
    assert max_in_any_window(stamps, 60.0) <= 960
    # and it is not needlessly slow: burst, then the steady rate
    expected = (3000 - PAGERDUTY_LIMIT.burst) / PAGERDUTY_LIMIT.refill_per_second
    assert vt.elapsed == pytest.approx(expected, rel=0.01)


async def test_max_wait_refuses_without_taking_a_token() -> None:
    vt = VirtualTime()
    bucket = TokenBucket(RateLimit(4, 60.0, 0.25), clock=vt.monotonic, sleep=vt.sleep)
    assert await bucket.acquire()
    assert not await bucket.acquire(max_wait=1.0)  # next token in 20 s
    assert vt.elapsed == 0
    assert await bucket.acquire(max_wait=30.0)


async def test_pause_holds_callers() -> None:
    vt = VirtualTime()
    bucket = TokenBucket(PAGERDUTY_LIMIT, clock=vt.monotonic, sleep=vt.sleep)
    bucket.pause(20.0)
    await bucket.acquire()
    assert vt.elapsed == pytest.approx(20.0)


def test_rate_limit_validation() -> None:
    with pytest.raises(ValueError):
        RateLimit(0)
    with pytest.raises(ValueError):
        RateLimit(10, burst_fraction=1.0)


def test_retry_after_headers() -> None:
    assert retry_after({"ratelimit-reset": "20"}) == 20.0
    assert retry_after({"x-ratelimit-period-in-sec": "60"}) == 60.0
    assert retry_after({"retry-after": "3"}) == 3.0
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert retry_after({"retry-after": "Tue, 01 Jan 2030 00:00:30 GMT"}, now) == 30.0
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None
