"""The sliding window keeps every window of `period` seconds within the provider's budget, spends
the whole of it, and takes the provider's own count when it is lower."""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from datetime import UTC, datetime

import pytest

from adapters.providerhttp import PAGERDUTY_LIMIT, RateLimit, SlidingWindow
from adapters.providerhttp.retry import budget_left, retry_after
from adapters.providerhttp.virtualtime import VirtualTime


def max_in_any_window(stamps: list[float], period: float) -> int:
    stamps = sorted(stamps)
    return max(i - bisect_left(stamps, t - period + 1e-9) + 1 for i, t in enumerate(stamps))


async def test_window_never_exceeds_960_per_rolling_minute_and_spends_all_of_it() -> None:
    vt = VirtualTime()
    bucket = SlidingWindow(PAGERDUTY_LIMIT, clock=vt.monotonic, sleep=vt.sleep)
    stamps = []

    async def worker(n: int) -> None:
        for _ in range(n):
            await bucket.acquire()
            stamps.append(vt.monotonic())

    await asyncio.gather(*(worker(500) for _ in range(6)))  # 3,000 requests
    assert max_in_any_window(stamps, 60.0) <= 960
    # and it is not needlessly slow: 960 at once, then 960 more as each minute passes
    assert sum(1 for t in stamps if t == 0) == 960
    assert vt.elapsed == pytest.approx(3 * 60.0, rel=0.03)


async def test_per_second_cap_spreads_a_burst() -> None:
    vt = VirtualTime()
    window = SlidingWindow(RateLimit(100, 60.0, per_second=10), clock=vt.monotonic, sleep=vt.sleep)
    stamps = []
    for _ in range(100):
        await window.acquire()
        stamps.append(vt.monotonic())
    assert max_in_any_window(stamps, 1.0) <= 10
    assert max_in_any_window(stamps, 60.0) <= 100
    assert vt.elapsed == pytest.approx(9.0, rel=0.05)


async def test_the_providers_lower_count_wins_and_an_empty_budget_waits_for_its_reset() -> None:
    vt = VirtualTime()
    window = SlidingWindow(RateLimit(100, 60.0), clock=vt.monotonic, sleep=vt.sleep)
    await window.acquire()
    window.observe(*budget_left({"ratelimit-remaining": "2", "ratelimit-reset": "40"}))
    await window.acquire()
    await window.acquire()  # the two the provider said were left
    assert vt.elapsed == 0
    window.observe(*budget_left({"ratelimit-remaining": "0", "ratelimit-reset": "40"}))
    await window.acquire()
    assert vt.elapsed == pytest.approx(40.0)
    window.observe(*budget_left({"ratelimit-remaining": "99"}))  # a higher count changes nothing
    window.observe(*budget_left({"x-ratelimit-remaining": "lots"}))


async def test_max_wait_refuses_without_taking_a_token() -> None:
    vt = VirtualTime()
    bucket = SlidingWindow(RateLimit(1, 60.0), clock=vt.monotonic, sleep=vt.sleep)
    assert await bucket.acquire()
    assert not await bucket.acquire(max_wait=1.0)  # the next slot in 60 s
    assert vt.elapsed == 0
    assert await bucket.acquire(max_wait=70.0)


async def test_pause_holds_callers() -> None:
    vt = VirtualTime()
    bucket = SlidingWindow(PAGERDUTY_LIMIT, clock=vt.monotonic, sleep=vt.sleep)
    bucket.pause(20.0)
    await bucket.acquire()
    assert vt.elapsed == pytest.approx(20.0)


def test_rate_limit_validation() -> None:
    with pytest.raises(ValueError):
        RateLimit(0)
    with pytest.raises(ValueError):
        RateLimit(10, per_second=0)
    assert (RateLimit(960).burst, RateLimit(960).sustained) == (960, 16.0)
    assert RateLimit(600, per_second=30).burst == 30


def test_retry_after_headers() -> None:
    assert retry_after({"ratelimit-reset": "20"}) == 20.0
    assert retry_after({"x-ratelimit-period-in-sec": "60"}) == 60.0
    assert retry_after({"retry-after": "3"}) == 3.0
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert retry_after({"retry-after": "Tue, 01 Jan 2030 00:00:30 GMT"}, now) == 30.0
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None
