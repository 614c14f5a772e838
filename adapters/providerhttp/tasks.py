"""Running provider calls side by side without leaving orphans behind.

`asyncio.gather` keeps the other calls running after one fails, and they then hit a closed
client; a TaskGroup cancels them, but raises an ExceptionGroup the callers would have to unpack.
`gather_or_cancel` gives the TaskGroup's behaviour with gather's interface: results in order, and
the first failure raised as itself (a ProviderError stays a ProviderError).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


async def gather_or_cancel(*coros: Coroutine[Any, Any, Any] | Awaitable[Any]) -> list[Any]:
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_wrap(c)) for c in coros]
    except BaseExceptionGroup as failed:
        raise _first(failed) from None
    return [task.result() for task in tasks]


async def _wrap(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _first(group: BaseExceptionGroup) -> BaseException:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
