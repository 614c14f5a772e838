"""Times shown to people: stored in UTC, shown in the viewer's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.durations import format_duration


def zone(tz: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def show_time(at: datetime, tz: str | None = "UTC", now: datetime | None = None) -> str:
    """`18:00 CET` today, `Tue 24 Nov 18:00 CET` on another day."""
    local = at.astimezone(zone(tz))
    today = (now or datetime.now(UTC)).astimezone(zone(tz)).date()
    label = (
        local.strftime("%H:%M %Z") if local.date() == today else local.strftime("%a %d %b %H:%M %Z")
    )
    return label.strip()


def show_age(then: datetime, now: datetime) -> str:
    """`12m ago`, rounded to what a person cares about."""
    age = now - then
    if age < timedelta(minutes=1):
        return "just now"
    return f"{format_duration(timedelta(seconds=int(age.total_seconds()) // 60 * 60))} ago"
