"""A lookup's answer reused for a short while, so a burst of grants to one group reads it once.

Only for facts that change rarely and whose staleness is caught by the write that follows (a
group's id, name and kind: a group deleted or made dynamic meanwhile refuses the change itself).
Never for what a grant must read fresh (a person's current membership, whether they belong to
the organization). Failures are not kept: the next caller asks again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from adapters.providerhttp.limiter import MonotonicClock

V = TypeVar("V")

RECENT_SECONDS = 60.0


class Recent(Generic[V]):
    """Answers by key, each kept `ttl` seconds; callers asking for one key at once share a call."""

    def __init__(self, ttl: float = RECENT_SECONDS, *, clock: MonotonicClock = time.monotonic):
        self._ttl = ttl
        self._clock = clock
        self._kept: dict[Hashable, tuple[float, V]] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        """The kept answer for `key`, else `load()`'s (kept when it returns)."""
        found = self._fresh(key)
        if found is not None:
            return found[1]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            found = self._fresh(key)
            if found is not None:
                return found[1]
            value = await load()
            now = self._clock()
            for old in [k for k, (until, _) in self._kept.items() if until <= now]:
                del self._kept[old]  # the locks stay: one per group or team the policy names
            self._kept[key] = (now + self._ttl, value)
            return value

    def _fresh(self, key: Hashable) -> tuple[float, V] | None:
        found = self._kept.get(key)
        if found is not None and found[0] > self._clock():
            return found
        return None


__all__ = ["RECENT_SECONDS", "Recent"]
