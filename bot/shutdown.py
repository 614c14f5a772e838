"""Stopping a replica without losing work. On SIGTERM it stops taking new work at once
(`/readyz` answers 503, so the load balancer moves on; new chat requests are answered 503; the
scheduler claims nothing more), lets what is in flight finish (inbound requests, the answers and
grants they left to the background, the scheduled job under way) within
ONCALL_ACCESS_SHUTDOWN_SECONDS, cancels what is still running then, releases every job lease
it holds so another replica takes over at once, and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Iterable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

log = logging.getLogger(__name__)

PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
"""Answered while stopping: the orchestrator and the scrape watch the replica to the end."""


class Draining:
    """Whether this replica still takes new work, and the inbound requests it is handling."""

    def __init__(self) -> None:
        self.stopping = False
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def stop_taking_work(self) -> None:
        self.stopping = True

    def middleware(self) -> Middleware:
        """New requests are refused with 503 once stopping (probes aside); the ones in flight
        are counted until they are answered."""

        @web.middleware
        async def draining(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path in PROBES:
                return await handler(request)
            if self.stopping:
                return web.json_response(
                    {"error": "this replica is shutting down; try another"},
                    status=503,
                    headers={"Retry-After": "1", "Connection": "close"},
                )
            self._busy += 1
            self._idle.clear()
            try:
                return await handler(request)
            finally:
                self._busy -= 1
                if not self._busy:
                    self._idle.set()

        return draining

    async def idle(self) -> None:
        """Until no inbound request is being handled."""
        await self._idle.wait()


async def finish_within(
    seconds: float, work: Iterable[Awaitable[Any]], what: Iterable[str]
) -> list[str]:
    """Await every piece of `work` for at most `seconds` together; cancel what is left then.
    Returns the names (from `what`) of the pieces that did not finish in time."""
    tasks = {asyncio.ensure_future(w): name for w, name in zip(work, what, strict=True)}
    if not tasks:
        return []
    _, late = await asyncio.wait(tasks, timeout=seconds)
    for task in late:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task  # errors were the work's own to log; here only the end matters
    return sorted(tasks[t] for t in late)
