"""Inbound deliveries already handled (a Slack request's signature, an Events API event id),
remembered in the database for a window, so a delivery replayed within it runs once whichever
replica receives it.

Checks are committed in groups: while one transaction is in flight, the keys asked about meanwhile
wait and go in the next one, together. A burst of commands then costs a few transactions instead
of one each, which on SQLite (one writer at a time) is the difference between the checks keeping
up and the work queueing behind them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.storage.tables import deliveries

WINDOW = timedelta(minutes=10)
"""Slack accepts a signature 5 minutes either side of its timestamp: ten cover both."""
GROUP_MAX = 500
"""Keys per transaction: a few kilobytes of statement, far below either database's limits."""
KEY_MAX = 200


class SqlDeliveries:
    def __init__(
        self, engine: AsyncEngine, now: Callable[[], datetime], window: timedelta = WINDOW
    ) -> None:
        self._engine = engine
        self._now = now
        self._window = window
        self._waiting: dict[str, list[asyncio.Future[bool]]] = {}
        self._writer: asyncio.Task[None] | None = None

    async def first(self, key: str) -> bool:
        """Record `key`; True the first time within the window, False for a repeat. One
        INSERT … ON CONFLICT DO NOTHING RETURNING per group: two replicas given the same delivery
        at once get one True between them, and so do two asks in one group."""
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key[:KEY_MAX], []).append(answer)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_groups())
        return await answer

    async def _write_groups(self) -> None:
        while self._waiting:
            keys = list(self._waiting)[:GROUP_MAX]
            group = {key: self._waiting.pop(key) for key in keys}
            try:
                new = await self._record(keys)
            except Exception as exc:
                for answers in group.values():
                    _settle(answers, exc)
                continue
            for key, answers in group.items():
                _settle(answers, key in new)

    async def _record(self, keys: list[str]) -> set[str]:
        now = self._now()
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(deliveries).values([{"key": k, "seen_at": now} for k in keys])
        async with self._engine.begin() as conn:
            await conn.execute(deliveries.delete().where(deliveries.c.seen_at < now - self._window))
            result = await conn.execute(
                insert.on_conflict_do_nothing(index_elements=["key"]).returning(deliveries.c.key)
            )
            return set(result.scalars())


def _settle(answers: list[asyncio.Future[bool]], outcome: bool | Exception) -> None:
    """The first ask of a key hears whether it is new; later asks in the same group are repeats."""
    for i, answer in enumerate(answers):
        if answer.done():
            continue
        if isinstance(outcome, Exception):
            answer.set_exception(outcome)
        else:
            answer.set_result(outcome and i == 0)
