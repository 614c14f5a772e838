"""When the roster is synced next: one object built with the bot, read by `status` and `why`
and moved on by the scheduler, so neither has to be patched into the other after construction."""

from __future__ import annotations

from datetime import datetime

from croniter import croniter

from core.ports import Clock


class SyncSchedule:
    def __init__(self, cron: str, clock: Clock) -> None:
        self._cron = cron
        self._clock = clock
        self._next: datetime | None = None

    def next_at(self) -> datetime:
        """The next slot of the cron schedule, from the first time anyone asked."""
        if self._next is None:
            self._next = croniter(self._cron, self._clock.now()).get_next(datetime)
        return self._next

    def move_past(self, now: datetime) -> None:
        """The slot due at `now` is taken; the next one follows it."""
        self._next = croniter(self._cron, now).get_next(datetime)
