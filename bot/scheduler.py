"""Scheduled work: roster syncs on the cron schedule (and at start when the roster is missing or
too old), and every few seconds expiring grants and timing out pending requests.

Each run is claimed through the database (job leases), so N replicas never run the same job
twice: a sync slot is claimed by name, the lifecycle tick by a short lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from datetime import datetime

from croniter import croniter

from bot.wiring import Bot
from core.sync import SyncOutcome

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._next_sync: datetime | None = None

    def next_sync_at(self) -> datetime:
        if self._next_sync is None:
            self._next_sync = croniter(
                self._bot.settings.sync_schedule, self._bot.clock.now()
            ).get_next(datetime)
        return self._next_sync

    async def sync_if_stale(self) -> list[SyncOutcome]:
        """At start: sync providers whose snapshot is missing or older than the allowed age."""
        versions = await self._bot.rosters.versions()
        now, max_age = self._bot.clock.now(), self._bot.settings.roster_max_age
        outcomes = []
        for provider in self._bot.providers:
            taken = versions.get(provider.provider)
            stale = taken is None or now - taken > max_age
            job = f"sync:{provider.provider.value}:start"
            if stale and await self._bot.leases.claim(job, self.holder, now, 60):
                outcomes.append(await self._bot.syncer.sync(provider))
        return outcomes

    async def sync_if_due(self) -> list[SyncOutcome]:
        now = self._bot.clock.now()
        slot = self.next_sync_at()
        if now < slot:
            return []
        self._next_sync = croniter(self._bot.settings.sync_schedule, now).get_next(datetime)
        if not await self._bot.leases.claim(f"sync@{slot.isoformat()}", self.holder, now, 86400):
            return []  # another replica runs this slot
        outcomes = await self._bot.syncer.sync_all()
        for o in outcomes:
            (log.info if o.ok else log.warning)("%s", o.summary())
        return outcomes

    async def run_lifecycle(self) -> tuple[int, int]:
        """Expire grants past their end and time out undecided requests; (expired, timed out)."""
        now = self._bot.clock.now()
        if not await self._bot.leases.claim("lifecycle", self.holder, now, 30):
            return (0, 0)
        try:
            return (
                await self._bot.service.expire_due_grants(),
                await self._bot.service.time_out_pending(),
            )
        finally:
            await self._bot.leases.release("lifecycle", self.holder)

    async def tick(self) -> None:
        await self.run_lifecycle()
        await self.sync_if_due()

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until `stop` is set; one failing tick is logged and the next one runs."""
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("scheduled work failed; retrying at the next tick")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._bot.settings.tick_seconds)
