"""Retention: dropping old requests and the start of the audit trail without making the trail
unverifiable.

A cut removes the oldest events up to some event S and the finished requests those events alone
describe. The trail then starts from a recorded base (S and its hash) instead of from nothing,
and an `audit.pruned` event, chained after the head like any other, vouches for that base and
carries what the removed events had established (the state of requests, identity mappings and
settings that are kept), so `audit verify` replays the rest on top of it. Removing events without
such an event, or moving the base, shows as tampering; a cut is never silent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.audit import AuditEvent, AuditRecord, format_time
from core.audit_state import TrailState, replay
from core.identity import SYSTEM

PRUNED = "audit.pruned"
_RETENTION = re.compile(r"^([1-9]\d{0,4})([dy])$")


def parse_retention(text: str) -> timedelta:
    """`400d` or `7y` (a year is 365 days): retention periods run to years, unlike request
    durations. Raises ValueError with a sentence naming the bad text."""
    match = _RETENTION.match(text.strip().lower())
    if not match:
        shown = "".join(ch if ch.isprintable() else " " for ch in text[:24])
        raise ValueError(f"`{shown}` is not a retention period; use days or years, like 400d or 7y")
    days = int(match.group(1)) * (365 if match.group(2) == "y" else 1)
    return timedelta(days=days)


@dataclass(frozen=True, slots=True)
class Base:
    """Where a pruned trail starts: the last removed event's seq and hash."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class Cut:
    """What one retention run removes, and the event that records it."""

    through: Base
    events: int
    requests: tuple[str, ...]
    carried: TrailState

    def event(self, at: datetime, before: datetime, retention: str) -> AuditEvent:
        return AuditEvent(
            PRUNED,
            at,
            SYSTEM,
            detail={
                "through_seq": self.through.seq,
                "through_hash": self.through.hash,
                "events": self.events,
                "requests": len(self.requests),
                "before": format_time(before),
                "retention": retention,
                "carried": self.carried.to_json(),
            },
        )


def carried_at(records: Sequence[AuditRecord], base: Base | None) -> TrailState | None:
    """The state the removed events had established, from the `audit.pruned` event that records
    the cut at `base`; None when there is no cut, or no event vouches for it."""
    if base is None:
        return None
    for record in reversed(records):
        detail = record.detail
        if (
            record.event == PRUNED
            and detail.get("through_seq") == base.seq
            and detail.get("through_hash") == base.hash
            and isinstance(detail.get("carried"), dict)
        ):
            return TrailState.from_json(detail["carried"])
    return None


def unvouched(records: Sequence[AuditRecord], base: Base | None) -> str | None:
    """Why the trail's recorded start is not backed by an `audit.pruned` event, or None."""
    if base is None or carried_at(records, base) is not None:
        return None
    return (
        f"events up to {base.seq} are missing and no audit.pruned event records their removal "
        "at that event"
    )


def plan_cut(
    records: Sequence[AuditRecord],
    base: Base | None,
    requests: Mapping[str, bool],
    before: datetime,
) -> Cut | None:
    """The cut that removes every event older than `before` (the oldest ones, without gaps) and
    the requests that only those events mention and that are over (`requests` maps a stored
    request's id to whether it is finished and needs nothing more). None: nothing to remove."""
    prefix: list[AuditRecord] = []
    for record in records:
        if record.at >= before:
            break
        prefix.append(record)
    if not prefix:
        return None
    through = len(prefix)
    mentioned_later = {r.request_id for r in records[through:] if r.request_id}
    # A request the database no longer holds stays in the carried state, so `audit verify` keeps
    # reporting it missing: a cut never hides a difference.
    removed = tuple(
        sorted(
            rid
            for rid in {r.request_id for r in prefix if r.request_id} - mentioned_later
            if requests.get(rid) is True
        )
    )
    state = replay(prefix, carried_at(records, base))
    for request_id in removed:
        state.requests.pop(request_id, None)
        state.partial.discard(request_id)
    last = prefix[-1]
    return Cut(Base(last.seq, last.hash), len(prefix), removed, state)


def describe(base: Base | None, records: Sequence[AuditRecord]) -> str | None:
    """One sentence about the latest cut, for `audit verify`."""
    if base is None:
        return None
    for record in reversed(records):
        if record.event == PRUNED and record.detail.get("through_seq") == base.seq:
            return (
                f"Events 1-{base.seq} were removed by retention at {format_time(record.at)} "
                f"(older than {record.detail.get('before')}); event {record.seq} records the cut "
                "and carries what they established."
            )
    return None
