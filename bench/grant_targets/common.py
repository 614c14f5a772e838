"""What a grant target gives the benchmark."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from core.ports import Granter


@dataclass
class BenchTarget:
    name: str
    granter: Granter
    spec: dict[str, Any]  # the policy's `grant:` mapping
    emails: list[str]  # the people the target knows, one per grant
    calls: Callable[[], int]  # requests the fake target has received so far, throttled included
    throttled: Callable[[], int]
    held: Callable[[], Awaitable[int]]  # how many people hold the access now, read in the target
    rate_per_second: float  # the target's documented rate limit
    rate_source: str
    fewest_grant_calls: int  # the fewest requests the API allows for one grant
    fewest_revoke_calls: int
    # The requests the rate limit counts, when it counts only some (GitHub: content-creating
    # ones), and the fewest of those a grant and a revoke need; else every request counts.
    limited_calls: Callable[[], int] | None = field(default=None)
    fewest_limited_grant_calls: int | None = None
    fewest_limited_revoke_calls: int | None = None


class MemoryNotes:
    """The bot's key-value store in memory: the benchmark measures the target, not the database."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    async def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    async def put(self, key: str, value: Any) -> None:
        self._values[key] = value

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)
