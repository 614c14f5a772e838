"""The live-connection lookup granters take (`client_for`), answering one fixed client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def returning(value: T) -> Callable[[], Awaitable[T]]:
    async def live() -> T:
        return value

    return live
