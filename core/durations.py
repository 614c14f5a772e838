"""Durations as people type them: `45s`, `30m`, `2h`, `1h30m`, `1d`."""

from __future__ import annotations

import re
from datetime import timedelta

from core.errors import CommandError

_PART = re.compile(r"(\d+)([dhms])")
_LONGEST_NUMBER = 9  # digits; more is past a year in any unit (and int() of 5,000 digits refuses)
_WHOLE = re.compile(r"^(?:\d+[dhms])+$")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_ORDER = "dhms"
LONGEST = timedelta(days=366)


def looks_like_duration(token: str) -> bool:
    """A token the user probably meant as a duration (so a bad one is an error, not a reason)."""
    return bool(re.match(r"^[-+]?\d+[a-zA-Z]", token.strip()))


def _quoted(text: str) -> str:
    """The text as typed, on one line and cut short: an error quotes it, whatever it holds."""
    text = "".join(ch if ch.isprintable() else " " for ch in text[:24])
    return text if len(text) <= 23 else text[:23] + "…"


def parse_duration(text: str) -> timedelta:
    """Parse a positive duration of at most a year; raise CommandError naming the bad text."""
    token = text.strip().lower()
    shown = _quoted(text)
    if not _WHOLE.match(token):
        raise CommandError(
            f"`{shown}` is not a duration; use a number with a unit, like 45s, 30m, 2h, 1h30m or 1d."
        )
    parts = _PART.findall(token)
    units = [unit for _, unit in parts]
    if len(set(units)) != len(units):
        raise CommandError(f"`{shown}` is not a duration; use each unit once, like 1h30m.")
    if units != sorted(units, key=_ORDER.index):
        raise CommandError(f"`{shown}` is not a duration; write units largest first, like 1h30m.")
    if any(len(n.lstrip("0")) > _LONGEST_NUMBER for n, _ in parts):
        raise CommandError(f"`{shown}` is too long; the longest duration is 366d.")
    seconds = sum(int(n.lstrip("0") or "0") * _UNIT_SECONDS[u] for n, u in parts)
    if seconds <= 0:
        raise CommandError(f"`{shown}` is not a positive duration.")
    if seconds > LONGEST.total_seconds():
        raise CommandError(f"`{shown}` is too long; the longest duration is 366d.")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest exact form, e.g. `1h30m`; negative or zero gives `0s`."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds == 0:
        return "0s"
    parts = []
    for unit in _ORDER:
        size = _UNIT_SECONDS[unit]
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)
