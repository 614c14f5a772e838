"""Virtual time for dry runs, tests and benchmarks: sleeping moves a clock instead of waiting.

Inject `VirtualTime.monotonic` and `VirtualTime.sleep` into the HTTP layer (and the same object
into a fake provider) and rate-limit waits and backoff cost nothing in real time, while both sides
still agree on how much time has "passed". A sleeper moves the clock to its own wake-up time (never
backwards), so concurrent sleepers overlap instead of adding up; a token bucket on this clock still
never exceeds its budget within any window, which is the property that matters.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


class VirtualTime:
    def __init__(self, start: datetime | None = None) -> None:
        self.epoch = start or datetime(2030, 1, 1, tzinfo=UTC)
        self.elapsed = 0.0
        self.slept = 0.0

    def monotonic(self) -> float:
        return self.elapsed

    def now(self) -> datetime:
        """Wall time on the same clock, for code that needs a datetime."""
        return self.epoch + timedelta(seconds=self.elapsed)

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.slept += seconds
        wake = self.elapsed + seconds
        await asyncio.sleep(0)  # sleepers that start together also wake together
        self.elapsed = max(self.elapsed, wake)

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds
