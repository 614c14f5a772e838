"""Deliveries are remembered across replicas (engines on one database) for their window."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from adapters.storage.deliveries import WINDOW, SqlDeliveries
from adapters.storage.engine import make_engine
from adapters.storage.migrate import upgrade


async def test_a_delivery_is_new_once_across_replicas_until_its_window_ends(
    database_url: str,
) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    engines = [make_engine(database_url) for _ in range(3)]
    try:
        await upgrade(engines[0])
        replicas = [SqlDeliveries(e, lambda: now) for e in engines]

        firsts = await asyncio.gather(*(r.first("slack:signed:abc") for r in replicas))

        assert sorted(firsts) == [False, False, True]
        assert await replicas[1].first("slack:signed:other")
        now += WINDOW + timedelta(seconds=1)
        assert await replicas[2].first("slack:signed:abc")  # long stale: its signature is refused
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_burst_of_deliveries_is_answered_together_and_each_key_is_new_once(
    database_url: str,
) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        seen = SqlDeliveries(engine, lambda: now)
        keys = [f"slack:signed:{i}" for i in range(300)] + ["slack:signed:7", "slack:signed:42"]

        firsts = await asyncio.gather(*(seen.first(k) for k in keys))

        by_key: dict[str, list[bool]] = {}
        for key, first in zip(keys, firsts, strict=True):
            by_key.setdefault(key, []).append(first)
        assert all(sorted(answers)[-1] for answers in by_key.values())
        assert sorted(by_key["slack:signed:7"]) == [False, True]
        assert sorted(by_key["slack:signed:42"]) == [False, True]
        assert not await seen.first("slack:signed:299")  # remembered after the burst
    finally:
        await engine.dispose()
