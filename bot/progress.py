"""Progress of long CLI work (a 50,000-person sync, a long audit trail) on a terminal.

On a terminal, rich draws one live line: what is being done, how many so far (and of how many,
when known), the rate, the time spent and, with a total, the time left. Anywhere else (a pipe,
a log file, cron) it draws nothing, so each command's own one-line summary is all that is
written there.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, TextIO, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from core.ports import ReportsProgress, SyncProgress

if TYPE_CHECKING:
    from bot.wiring import Bot

T = TypeVar("T")
POLL_SECONDS = 0.2


class Meter:
    """One counted piece of work; a no-op when `stream` is not a terminal."""

    def __init__(
        self, what: str, unit: str, total: int | None = None, stream: TextIO | None = None
    ) -> None:
        console = Console(file=stream or sys.stderr)
        self.live = console.is_terminal
        self.what = what
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit),
            TaskProgressColumn(show_speed=True),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not self.live,
        )
        self._task: TaskID = self._progress.add_task(what, total=total)

    def __enter__(self) -> Meter:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def advance(self, amount: int = 1) -> None:
        self._progress.advance(self._task, amount)

    def show(self, completed: int, total: int | None = None, what: str | None = None) -> None:
        self._progress.update(
            self._task, completed=completed, total=total, description=what or self.what
        )


async def watch_sync(
    work: Awaitable[T], readings: Callable[[], list[SyncProgress]], stream: TextIO | None = None
) -> T:
    """Run a roster sync, showing the providers' calls so far (and expected, once their lists'
    totals are known) until it is done."""
    task = asyncio.ensure_future(work)
    with Meter("Syncing rosters", "API calls", stream=stream) as meter:
        while meter.live and not task.done():
            seen = readings()
            calls = sum(r.calls for r in seen)
            expected = [r.expected_calls for r in seen]
            total = sum(e for e in expected if e) if expected and all(expected) else None
            items = sum(r.items for r in seen)
            meter.show(calls, total, f"Syncing rosters ({items:,} records read)")
            await asyncio.wait([task], timeout=POLL_SECONDS)
        return await task


def readings(bot: Bot) -> list[SyncProgress]:
    """How far each live provider's fetch is (those that can tell)."""
    return [p.progress() for p in bot.providers if isinstance(p, ReportsProgress)]
