"""Turns for the work that follows Slack's acknowledgements, acks first.

Slack gives an ack three seconds and shows the user an error past them; the answer that follows
on `response_url` has thirty minutes. On one event loop the two compete, so during a burst of
commands the work waits: a turn starts once no ack has been served for `quiet` seconds, and never
more than `patience` seconds after it was asked for, so a steady stream of acks delays answers
by at most that much instead of starving them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

QUIET = 0.02
PATIENCE = 1.0


class AckFirstTurns:
    """At most `limit` pieces of work at once, each starting when the front door is quiet."""

    def __init__(
        self,
        limit: int,
        *,
        quiet: float = QUIET,
        patience: float = PATIENCE,
        now: Callable[[], float] | None = None,
    ) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._quiet = quiet
        self._patience = patience
        self._now = now
        self._last_ack = float("-inf")

    def _time(self) -> float:
        return self._now() if self._now else asyncio.get_running_loop().time()

    def acked(self) -> None:
        """An ack was just served: work not yet started waits for the burst to pass."""
        self._last_ack = self._time()

    async def run(self, work: Awaitable[T]) -> T:
        asked = self._time()
        async with self._slots:
            await self._until_quiet(asked)
            return await work

    async def _until_quiet(self, asked: float) -> None:
        """A timed wait, not a wait for work: each ack served meanwhile pushes the start on."""
        while True:
            start = min(self._last_ack + self._quiet, asked + self._patience)
            now = self._time()
            if start <= now:
                return
            await asyncio.sleep(start - now)
