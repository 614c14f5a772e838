"""Inbound deliveries already handled (a Slack request's signature, an Events API event id),
remembered in the database for a window, so a delivery replayed within it runs once whichever
replica receives it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.storage.tables import deliveries

WINDOW = timedelta(minutes=10)
"""Slack accepts a signature 5 minutes either side of its timestamp: ten cover both."""


class SqlDeliveries:
    def __init__(
        self, engine: AsyncEngine, now: Callable[[], datetime], window: timedelta = WINDOW
    ) -> None:
        self._engine = engine
        self._now = now
        self._window = window

    async def first(self, key: str) -> bool:
        """Record `key`; True the first time within the window, False for a repeat. One
        INSERT … ON CONFLICT DO NOTHING: two replicas given the same delivery at once get one
        True between them."""
        now = self._now()
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(deliveries).values(key=key[:200], seen_at=now)
        async with self._engine.begin() as conn:
            await conn.execute(deliveries.delete().where(deliveries.c.seen_at < now - self._window))
            result = await conn.execute(insert.on_conflict_do_nothing(index_elements=["key"]))
        return bool(result.rowcount == 1)
