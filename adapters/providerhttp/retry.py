"""When to try again and how long to wait: exponential backoff with full jitter, and 429 hints.

Full jitter (sleep a uniform random time in [0, min(cap, base * 2**attempt)]) spreads retries of
many clients so they do not hit a recovering provider in lockstep. A 429 that says how long to
wait is honoured instead, because guessing shorter only earns another 429.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` tries in all (1 = no retry); backoff base and cap in seconds."""

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 120.0
    random: Callable[[], float] = field(default=random.random, compare=False)

    def backoff(self, retry: int) -> float:
        """Full-jitter delay before retry number `retry` (0 for the first retry)."""
        return self.random() * min(self.cap, self.base * (2**retry))


NO_RETRY = RetryPolicy(attempts=1)

# Header names, lower-case; httpx header lookups are case-insensitive anyway.
_SECONDS_HEADERS = (
    "ratelimit-reset",  # PagerDuty: seconds until the window resets
    "retry-after",  # RFC 9110: seconds or an HTTP date
    "x-ratelimit-period-in-sec",  # Opsgenie: the throttle period in seconds
)


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds the provider asked us to wait, from the first header that says so; None if none."""
    for name in _SECONDS_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        seconds = _seconds(value.strip(), now)
        if seconds is not None:
            return seconds
    return None


def budget_left(headers: Mapping[str, str]) -> tuple[int | None, float | None]:
    """The remaining requests and seconds to the reset a provider reports on an answer.

    PagerDuty sends `ratelimit-remaining` / `ratelimit-reset` on every request it evaluated;
    Atlassian sends `X-RateLimit-Remaining`. (None, None) when the answer says nothing.
    """
    raw = headers.get("ratelimit-remaining") or headers.get("x-ratelimit-remaining")
    try:
        remaining = int(raw.strip()) if raw is not None else None
    except ValueError:
        remaining = None
    reset = headers.get("ratelimit-reset")
    return remaining, _seconds(reset.strip(), None) if reset is not None else None


def _seconds(value: str, now: datetime | None) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
