"""Audit checkpoints on a schedule: the trail's head, signed with the audit key, written to a
folder outside the database (`ONCALL_ACCESS_AUDIT_CHECKPOINT_DIR`, a separate volume or a
mounted bucket) at every slot of `ONCALL_ACCESS_AUDIT_CHECKPOINT_SCHEDULE`.

Someone who can write the database can drop the newest events together with the recorded head;
only copies of the head kept elsewhere show it, and they only help if someone keeps them without
being asked to. A slot runs once across the fleet (a job lease, marked finished); a trail that
does not verify is not checkpointed (that would vouch for it) and is logged instead.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

from croniter import croniter

from adapters.storage.audit import SqlAuditLog
from adapters.storage.leases import SqlJobLeases
from core.audit import AuditKeys, check_trail
from core.audit_checkpoint import make_checkpoint, render

log = logging.getLogger(__name__)


class ScheduledCheckpoints:
    def __init__(
        self,
        folder: Path,
        schedule: str,
        audit: SqlAuditLog,
        leases: SqlJobLeases,
        keys: AuditKeys,
    ) -> None:
        self._folder = folder
        self._schedule = schedule
        self._audit = audit
        self._leases = leases
        self._keys = keys
        self._next: datetime | None = None
        self._due: datetime | None = None

    def due_slot(self, now: datetime) -> datetime | None:
        """The slot to write now, if any: the newest one passed, kept until it is written."""
        if self._next is None:
            self._next = croniter(self._schedule, now).get_next(datetime)
        if now >= self._next:
            self._due = self._next
            self._next = croniter(self._schedule, now).get_next(datetime)
        return self._due

    async def write(self, slot: datetime, now: datetime, holder: str) -> Path | None:
        """Write the checkpoint of `slot` unless a replica already did; the file, or None."""
        job = f"checkpoint@{slot.isoformat()}"
        if await self._leases.finished(job):
            self._due = None
            return None
        check = check_trail(await self._audit.records(), await self._audit.head(), self._keys)
        if check.problem:
            log.error("no audit checkpoint written: the trail does not verify (%s)", check.problem)
            self._due = None  # said once per slot; the next slot checks again
            return None
        path = self._folder / f"audit-checkpoint-{slot.strftime('%Y%m%dT%H%M%SZ')}.json"
        temporary = path.with_suffix(".json.partial")
        temporary.write_text(render(make_checkpoint(check.head, now, self._keys)), "utf-8")
        os.replace(temporary, path)  # whole or absent, never half a file
        await self._leases.finish(job, holder, now)
        self._due = None
        log.info("audit checkpoint of event %d written to %s", check.head[0], path)
        return path
