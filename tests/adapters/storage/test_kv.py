"""The bot's small shared store: writers of one new key at the same moment (two replicas, two
approval messages in one DM) both succeed, and the last value is kept."""

from __future__ import annotations

import asyncio

from adapters.storage.engine import make_engine
from adapters.storage.kv import SqlKeyValues
from adapters.storage.migrate import upgrade


async def test_concurrent_writers_of_a_new_key_never_collide(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        store = SqlKeyValues(engine)
        await asyncio.gather(*(store.put("slack:tz:D123", f"Zone/{i}") for i in range(20)))
        assert (await store.get("slack:tz:D123")).startswith("Zone/")
        await store.put("slack:tz:D123", "UTC")
        assert await store.get("slack:tz:D123") == "UTC"
    finally:
        await engine.dispose()
