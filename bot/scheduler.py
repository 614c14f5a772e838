"""Scheduled work: roster syncs on the cron schedule (and at start when the roster is missing or
too old), and every few seconds expiring grants and timing out pending requests.

Each run is claimed through the database (job leases), so N replicas never run the same job
twice. Leases are short (`LEASE_SECONDS`) and renewed while the work runs, so the work of a replica
killed mid-run passes to another within seconds; a sync slot is also marked finished, so it runs
exactly once across the fleet even when the replica that began it died. Every tick starts by
picking up provider connections changed on another replica or with the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from bot.checkpoints import ScheduledCheckpoints
from bot.wiring import Bot
from core.birthright import reconcile_birthright
from core.errors import DomainError, Unavailable
from core.lifecycle import Lifecycle
from core.sync import SyncOutcome

log = logging.getLogger(__name__)

LEASE_SECONDS = 10.0
"""How long a replica may go silent before its job passes to another one."""
RENEW_SECONDS = LEASE_SECONDS / 3
PRUNE_EVERY = timedelta(hours=1)
KEEP_FINISHED = timedelta(days=2)


class Scheduler:
    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._policy_mtime: int | None = None
        self.policy_error: str | None = None
        self._reloading: asyncio.Task[bool] | None = None
        self._due_slot: datetime | None = None
        self._pruned_at: datetime | None = None
        self._outage = False
        folder = bot.settings.audit_checkpoint_dir
        self._checkpoints = (
            ScheduledCheckpoints(
                folder,
                bot.settings.audit_checkpoint_schedule,
                bot.audit,
                bot.leases,
                bot.settings.audit_keys,
            )
            if folder is not None
            else None
        )

        self.stopping = False  # set on SIGTERM: the job under way finishes, no new one starts

    def next_sync_at(self) -> datetime:
        return self._bot.sync_schedule.next_at()

    async def sync_if_stale(self) -> list[SyncOutcome]:
        """At start: sync providers whose snapshot is missing or older than the allowed age."""
        versions = await self._bot.rosters.versions()
        now, max_age = self._bot.clock.now(), self._bot.settings.roster_max_age
        outcomes = []
        for provider in list(self._bot.providers):
            taken = versions.get(provider.provider)
            if taken is not None and now - taken <= max_age:
                continue
            async with self.held(f"sync:{provider.provider.value}:stale") as mine:
                if mine:  # re-read: another replica may have synced it while we asked
                    taken = (await self._bot.rosters.versions()).get(provider.provider)
                    if taken is None or self._bot.clock.now() - taken > max_age:
                        outcomes.append(await self._bot.syncer.sync(provider))
        return outcomes

    async def sync_if_due(self) -> list[SyncOutcome]:
        """Run the due sync slot, once across the fleet: a slot stays this replica's concern
        until some replica finished it, so a slot whose runner died is taken over."""
        now = self._bot.clock.now()
        slot = self.next_sync_at()
        if now >= slot:
            self._bot.sync_schedule.move_past(now)
            self._due_slot = slot  # a newer slot supersedes one never finished
        if self._due_slot is None:
            return []
        job = f"sync@{self._due_slot.isoformat()}"
        async with self.held(job) as mine:
            if not mine:
                return []  # another replica runs it now; asked again next tick
            if await self._bot.leases.finished(job):
                self._due_slot = None
                return []
            outcomes = await self._bot.syncer.sync_all()
            await self._bot.leases.finish(job, self.holder, self._bot.clock.now())
            self._due_slot = None
        for o in outcomes:
            (log.info if o.ok else log.warning)("%s", o.summary())
        return outcomes

    async def checkpoint_if_due(self) -> None:
        """Write the audit checkpoint of the due slot, once across the fleet."""
        if self._checkpoints is None:
            return
        slot = self._checkpoints.due_slot(self._bot.clock.now())
        if slot is None:
            return
        async with self.held(f"checkpoint@{slot.isoformat()}") as mine:
            if mine:
                try:
                    await self._checkpoints.write(slot, self._bot.clock.now(), self.holder)
                except OSError as exc:  # a full or unmounted volume: said, retried next tick
                    log.error("could not write the audit checkpoint: %s", exc.strerror or exc)

    async def run_lifecycle(self) -> dict[str, int]:
        """Birthright, expiry, grant retries, reminders, escalations, timeouts, reviews."""
        async with self.held("lifecycle") as mine:
            if not mine:
                return {}
            counts = {
                f"birthright_{k}": v
                for k, v in (await reconcile_birthright(self._bot.service)).items()
            }
            counts.update(await Lifecycle(self._bot.service).run_all())
            return counts

    async def poll_incidents(self) -> int:
        """Incidents behind active grants, asked about by one replica: access whose incident
        resolved or moved on ends, also where no webhook came."""
        async with self.held("incidents") as mine:
            if not mine:
                return 0
            return await self._bot.service.incidents.poll()

    @contextlib.asynccontextmanager
    async def held(self, job: str) -> AsyncIterator[bool]:
        """Claim `job` for a short lease, renewed in the background while the caller works and
        released after; yields whether this replica holds it."""
        leases, clock = self._bot.leases, self._bot.clock
        if self.stopping or not await leases.claim(job, self.holder, clock.now(), LEASE_SECONDS):
            yield False
            return

        async def renew() -> None:
            while True:
                await asyncio.sleep(RENEW_SECONDS)
                try:
                    if not await leases.renew(job, self.holder, clock.now(), LEASE_SECONDS):
                        log.warning("lost the lease on %s: another replica may take it over", job)
                except Unavailable as exc:
                    log.warning("could not renew the lease on %s (%s); retrying", job, exc.detail)
                except Exception:
                    log.warning("could not renew the lease on %s; retrying", job, exc_info=True)

        renewing = asyncio.create_task(renew())
        try:
            yield True
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            with contextlib.suppress(Exception):  # an unreleased lease still expires by itself
                await leases.release(job, self.holder)

    async def pick_up_changes(self) -> None:
        """Connections changed on another replica or with the CLI take effect here; a provider
        newly seen with a missing or stale roster is synced (by one replica)."""
        if self._bot.admin is None:
            return
        changed, problems = await self._bot.admin.refresh()
        for problem in problems:
            log.warning("%s", problem)
        if changed:
            log.info("provider connections changed: %s", ", ".join(p.value for p in changed))
            await self.sync_if_stale()

    async def prune_if_due(self) -> None:
        now = self._bot.clock.now()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        await self._bot.leases.prune(now - KEEP_FINISHED)

    async def reload_policy_if_changed(self) -> bool:
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
        return await self.reload_policy()

    async def reload_policy(self) -> bool:
        """Read the policy file again, off the event loop; whatever goes wrong, the previous
        policy stays in force and the reason is one logged sentence."""
        try:
            policy = await self._bot.policy.reload_off_loop()
        except DomainError as exc:
            log.error(
                "the new policy file was refused; the previous policy stays in force: %s",
                exc.message,
            )
            self.policy_error = exc.message
            return False
        except Exception:  # a fault of ours, not of the file: its traceback is for us
            log.exception("reloading the policy failed; the previous policy stays in force")
            self.policy_error = "the policy file could not be reloaded; see the server log"
            return False
        self.policy_error = None
        log.info("policy reloaded: %d resources", len(policy.resources))
        await self._tell_if_reconnect_needed()
        return True

    async def _tell_if_reconnect_needed(self) -> None:
        """A policy that now grants PagerDuty roles needs scopes an OAuth connection may lack."""
        if self._bot.admin is None:
            return
        try:
            gap = await self._bot.admin.scope_gap()
            if gap:
                log.warning("the new policy needs a PagerDuty reconnect: %s", gap)
                await self._bot.notifier.alert_admins(f"The policy changed. {gap}")
        except Exception:
            log.exception("could not check the PagerDuty connection against the new policy")

    def reload_policy_soon(self) -> None:
        """For SIGHUP: reload in a task of the running loop (a signal handler cannot await)."""
        if self._reloading is None or self._reloading.done():
            self._reloading = asyncio.get_running_loop().create_task(self.reload_policy())

    async def tick(self) -> None:
        await self.reload_policy_if_changed()
        await self.pick_up_changes()
        await self.run_lifecycle()
        await self.poll_incidents()
        if await self.sync_if_due():
            await self.run_lifecycle()  # reconcile birthright with the new roster at once
        await self.checkpoint_if_due()
        await self.prune_if_due()

    async def tick_safely(self) -> None:
        """One tick whose failure is logged, never raised: an outage once, not at every tick."""
        try:
            await self.tick()
            self._outage = False
        except Unavailable as exc:
            if not self._outage:
                log.warning("scheduled work paused: %s (%s)", exc.message, exc.detail)
            self._outage = True
        except Exception:
            log.exception("scheduled work failed; retrying at the next tick")

    async def release_leases(self) -> int:
        """Give up whatever this replica still holds, so another one takes over now."""
        return await self._bot.leases.release_all(self.holder)

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until `stop` is set; one failing tick is logged and the next one runs."""
        while not stop.is_set() and not self.stopping:
            await self.tick_safely()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._bot.settings.tick_seconds)
