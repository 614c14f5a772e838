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
from core.birthright import reconcile_birthright
from core.errors import DomainError
from core.lifecycle import Lifecycle
from core.sync import SyncOutcome

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._next_sync: datetime | None = None
        self._policy_mtime: int | None = None
        self.policy_error: str | None = None

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

    async def run_lifecycle(self) -> dict[str, int]:
        """Birthright, expiry, grant retries, reminders, escalations, timeouts, reviews."""
        now = self._bot.clock.now()
        if not await self._bot.leases.claim("lifecycle", self.holder, now, 60):
            return {}
        try:
            counts = {
                f"birthright_{k}": v
                for k, v in (await reconcile_birthright(self._bot.service)).items()
            }
            counts.update(await Lifecycle(self._bot.service).run_all())
            return counts
        finally:
            await self._bot.leases.release("lifecycle", self.holder)

    def reload_policy_if_changed(self) -> bool:
        """Re-read the policy file when it changed on disk; an invalid file keeps the old policy."""
        source = self._bot.policy
        if source.path is None:
            return False
        try:
            mtime = source.path.stat().st_mtime_ns
        except OSError:
            return False
        if self._policy_mtime is None:
            self._policy_mtime = mtime
            return False
        if mtime == self._policy_mtime:
            return False
        self._policy_mtime = mtime
        return self.reload_policy()

    def reload_policy(self) -> bool:
        try:
            policy = self._bot.policy.reload()
        except DomainError as exc:
            log.error(
                "the new policy file was refused; the previous policy stays in force: %s",
                exc.message,
            )
            self.policy_error = exc.message
            return False
        self.policy_error = None
        log.info("policy reloaded: %d resources", len(policy.resources))
        return True

    async def tick(self) -> None:
        self.reload_policy_if_changed()
        await self.run_lifecycle()
        if await self.sync_if_due():
            await self.run_lifecycle()  # reconcile birthright with the new roster at once

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until `stop` is set; one failing tick is logged and the next one runs."""
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("scheduled work failed; retrying at the next tick")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._bot.settings.tick_seconds)
