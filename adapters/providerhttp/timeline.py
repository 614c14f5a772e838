"""Schedule timelines as Opsgenie and its successor, JSM operations, both serve them: who-is-on-call
gives no shift end, so ends come from the schedule's `finalTimeline` periods."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.providerhttp.builder import parse_time
from core.roster import Shift

Obj = dict[str, Any]
Period = tuple[str | None, datetime, datetime]  # (recipient e-mail or None, start, end)
RawPeriod = tuple[Obj, datetime, datetime]  # (recipient object, start, end)


def raw_periods(timeline: Obj) -> list[RawPeriod]:
    """Every final-timeline period with its recipient object (empty when there is none)."""
    final = _obj(timeline.get("finalTimeline"))
    found: list[RawPeriod] = []
    for rotation in _list(final.get("rotations")):
        for period in _list(rotation.get("periods")):
            start, end = _time(period.get("startDate")), _time(period.get("endDate"))
            if start is None or end is None:
                continue
            recipient = _obj(period.get("recipient"))
            found.append((recipient, start, end))
    return found


def user_id(recipient: Obj) -> str | None:
    return str(recipient["id"]) if recipient.get("type") == "user" and recipient.get("id") else None


def shift_for(
    email: str, periods: list[Period], now: datetime, window_end: datetime | None
) -> Shift:
    """The recipient's period covering now; failing that, a conservative window (until the
    first change of any covering period), never an open end the timeline did not state."""
    mine = [p for p in periods if p[0] == email and p[1] <= now < p[2]]
    if mine:
        best = max(mine, key=lambda p: p[2])
        return Shift(email, best[1], best[2])
    covering = [p for p in periods if p[1] <= now < p[2]]
    if covering:
        return Shift(email, max(p[1] for p in covering), min(p[2] for p in covering))
    return Shift(email, now, window_end or now)


def _time(value: object) -> datetime | None:
    try:
        return parse_time(value)
    except ValueError:
        return None


def _obj(value: object) -> Obj:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Obj]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
