"""Job leases: scheduled work is claimed through the database, so N replicas never run the same
job at once. A lease is short and renewed while its work runs, so the work of a replica that died
passes to another within seconds; a run that must happen once (a sync slot) is marked finished.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.storage.tables import job_leases, job_runs


class SqlJobLeases:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim(self, job: str, holder: str, now: datetime, ttl_seconds: float) -> bool:
        """Take `job` until `now + ttl`, if nobody else holds it; the holder may renew."""
        until = now + timedelta(seconds=ttl_seconds)
        async with self._engine.begin() as conn:
            # Row lock on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers.
            taken = await conn.execute(
                job_leases.update()
                .where(
                    and_(
                        job_leases.c.job == job,
                        or_(job_leases.c.lease_until <= now, job_leases.c.holder == holder),
                    )
                )
                .values(holder=holder, lease_until=until)
            )
            if taken.rowcount == 1:
                return True
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    job_leases.insert().values(job=job, holder=holder, lease_until=until)
                )
            return True
        except IntegrityError:
            return False  # someone else holds it

    async def renew(self, job: str, holder: str, now: datetime, ttl_seconds: float) -> bool:
        """Extend a lease this holder still has; False when it was lost (expired and taken)."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                job_leases.update()
                .where(and_(job_leases.c.job == job, job_leases.c.holder == holder))
                .values(lease_until=now + timedelta(seconds=ttl_seconds))
            )
        return result.rowcount == 1

    async def release(self, job: str, holder: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                job_leases.delete().where(
                    and_(job_leases.c.job == job, job_leases.c.holder == holder)
                )
            )

    async def release_all(self, holder: str) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(job_leases.delete().where(job_leases.c.holder == holder))
        return int(result.rowcount or 0)

    async def finished(self, job: str) -> bool:
        """Whether a run of `job` that must happen once has already completed somewhere."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(job_runs.c.job).where(job_runs.c.job == job))).first()
        return row is not None

    async def finish(self, job: str, holder: str, now: datetime) -> None:
        """Mark a once-only run done (before its lease is released, so nobody runs it again)."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    job_runs.insert().values(job=job, holder=holder, finished_at=now)
                )
        except IntegrityError:
            pass  # already marked: the mark, not who wrote it, is what counts

    async def prune(self, before: datetime) -> None:
        """Forget finished runs and dead leases older than `before` (the tables stay small)."""
        async with self._engine.begin() as conn:
            await conn.execute(job_runs.delete().where(job_runs.c.finished_at < before))
            await conn.execute(job_leases.delete().where(job_leases.c.lease_until < before))
