"""Client-side rate limiting: a token bucket that keeps us inside a provider's request budget.

Providers count requests per key over a rolling period (PagerDuty: 960 per minute). A bucket of
capacity `burst` refilled at `(requests - burst) / period` per second can never send more than
`burst + (requests - burst) = requests` in any window of `period` seconds, so we stay under the
budget however the provider aligns its window. A 429 pauses the whole bucket (every concurrent
caller), because the provider's counter is per key, not per coroutine.

Time is injected (`clock`, `sleep`) so tests and benchmarks can run on virtual time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

MonotonicClock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A provider budget: `requests` per `period` seconds; `burst` of them may go at once."""

    requests: int
    period: float = 60.0
    burst_fraction: float = 0.5

    def __post_init__(self) -> None:
        if self.requests <= 0 or self.period <= 0:
            raise ValueError("a rate limit needs a positive number of requests and period")
        if not 0 < self.burst_fraction < 1:
            raise ValueError("burst_fraction must be between 0 and 1")

    @property
    def burst(self) -> float:
        return max(1.0, self.requests * self.burst_fraction)

    @property
    def refill_per_second(self) -> float:
        return (self.requests - self.burst) / self.period


PAGERDUTY_LIMIT = RateLimit(960, 60.0)


class TokenBucket:
    """FIFO token bucket; `acquire()` waits (on the injected sleep) until a token is free."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: MonotonicClock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._sleep = sleep
        self._tokens = limit.burst
        self._stamp = clock()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self.waited = 0.0

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(self.limit.burst, self._tokens + elapsed * self.limit.refill_per_second)
        self._stamp = now

    def delay(self) -> float:
        """Seconds until a token would be free (0 when one is free now)."""
        self._refill()
        pause = self._paused_until - self._clock()
        pause = pause if pause > 1e-9 else 0.0
        short = 1.0 - self._tokens
        if short <= 1e-9:  # float dust must not turn into an endless string of tiny sleeps
            return pause
        return max(pause, short / self.limit.refill_per_second)

    async def acquire(self, *, max_wait: float | None = None) -> bool:
        """Take one token; False (and nothing taken) when that would mean waiting past max_wait."""
        async with self._lock:
            while True:
                wait = self.delay()
                if wait <= 0:
                    self._tokens = max(0.0, self._tokens - 1.0)
                    return True
                if max_wait is not None and wait > max_wait:
                    return False
                self.waited += wait
                await self._sleep(wait)
                if max_wait is not None:
                    max_wait -= wait

    def pause(self, seconds: float) -> None:
        """The provider said 'wait': hold every caller for `seconds`, and spend the burst."""
        self._refill()
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        self._tokens = min(self._tokens, 0.0)
