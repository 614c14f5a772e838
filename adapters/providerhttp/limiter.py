"""Client-side rate limiting: the provider's whole documented budget, and never more.

Providers count requests per key over a rolling period (PagerDuty: 960 a minute; Opsgenie also
per second). `SlidingWindow` keeps the time of every request sent in the last `period` and lets
the next one go while fewer than `requests` are in it, so the whole budget may go at once (the
burst) and then one request per request that ages out (the sustained rate): the most any
window of `period` seconds can hold, however the provider aligns its own. An optional
`per_second` cap does the same over one second.

The provider's own count wins over ours: `observe()` reads the remaining budget and reset time
it reports on each answer (another client on the same key, an operation's own lower limit), and
a 429 pauses every caller, because the provider counts per key, not per coroutine.

Time is injected (`clock`, `sleep`) so tests and benchmarks can run on virtual time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

MonotonicClock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Slack for the provider counting a request a little after we send it (the network, its queue):
# a slot we free exactly `period` after a send could otherwise still be taken on its side.
MARGIN = 0.02


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A provider budget: `requests` per `period` seconds, at most `per_second` in any second."""

    requests: int
    period: float = 60.0
    per_second: int | None = None

    def __post_init__(self) -> None:
        if self.requests <= 0 or self.period <= 0:
            raise ValueError("a rate limit needs a positive number of requests and period")
        if self.per_second is not None and self.per_second <= 0:
            raise ValueError("per_second must be positive")

    @property
    def burst(self) -> int:
        """How many may go at once."""
        return min(self.requests, self.per_second or self.requests)

    @property
    def sustained(self) -> float:
        """Requests per second over the long run."""
        return self.requests / self.period


PAGERDUTY_LIMIT = RateLimit(960, 60.0)


class SlidingWindow:
    """FIFO admission within `RateLimit`; `acquire()` waits (on the injected sleep) for a slot."""

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
        self._period = limit.period * (1 + MARGIN)
        self._sent: deque[float] = deque()
        self._second: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self.waited = 0.0
        self.pauses = 0

    def delay(self) -> float:
        """Seconds until a request may go (0 when one may go now)."""
        now = self._clock()
        while self._sent and self._sent[0] <= now - self._period:
            self._sent.popleft()
        while self._second and self._second[0] <= now - 1.0 - MARGIN:
            self._second.popleft()
        wait = self._paused_until - now
        if len(self._sent) >= self.limit.requests:
            wait = max(wait, self._sent[len(self._sent) - self.limit.requests] + self._period - now)
        per_second = self.limit.per_second
        if per_second is not None and len(self._second) >= per_second:
            wait = max(wait, self._second[len(self._second) - per_second] + 1.0 + MARGIN - now)
        return wait if wait > 1e-9 else 0.0

    async def acquire(self, *, max_wait: float | None = None) -> bool:
        """Take a slot; False (and nothing taken) when that would mean waiting past max_wait."""
        async with self._lock:
            while True:
                wait = self.delay()
                if wait <= 0:
                    now = self._clock()
                    self._sent.append(now)
                    if self.limit.per_second is not None:
                        self._second.append(now)
                    return True
                if max_wait is not None and wait > max_wait:
                    return False
                self.waited += wait
                await self._sleep(wait)
                if max_wait is not None:
                    max_wait -= wait

    def pause(self, seconds: float) -> None:
        """The provider said 'wait': hold every caller for `seconds`."""
        self.pauses += 1
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def observe(self, remaining: int | None, reset: float | None) -> None:
        """The provider's count after one of our requests: take the lower of its and ours.

        Requests it reports beyond ours (another client on the key, a lower per-operation
        limit) are booked as if sent so as to age out at its reset (now, without one); an
        exhausted budget holds everyone until that reset.
        """
        if remaining is None:
            return
        self.delay()  # drop what aged out
        ours = self.limit.requests - len(self._sent)
        if remaining < ours:
            now = self._clock()
            stamp = now if reset is None else now + min(reset, self.limit.period) - self._period
            extra = min(ours - remaining, self.limit.requests)
            self._sent = deque(sorted([*self._sent, *([stamp] * extra)]))
        if remaining <= 0 and reset is not None and reset > 0:
            self.pause(reset)
