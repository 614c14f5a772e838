"""Job leases: scheduled work is claimed through the database, so N replicas never run the same
job at once. A lease expires by itself, so a crashed holder never blocks the job for long."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.storage.tables import job_leases


class SqlJobLeases:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim(self, job: str, holder: str, now: datetime, ttl_seconds: float) -> bool:
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

    async def release(self, job: str, holder: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                job_leases.delete().where(
                    and_(job_leases.c.job == job, job_leases.c.holder == holder)
                )
            )
