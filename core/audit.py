"""The audit trail: append-only events chained by SHA-256, so any edit, removal or reordering of a
stored event breaks the chain at a point `verify_chain` names.

hash = sha256(prev_hash + canonical JSON of the event's fields); the first event's prev_hash is
64 zeros. Canonical JSON: sorted keys, no spaces, UTF-8.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64

EXPORT_COLUMNS = (
    "seq",
    "at",
    "event",
    "request_id",
    "resource",
    "actor",
    "subject",
    "detail",
    "prev_hash",
    "hash",
)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """An event before it is chained: what happened, to what, on whose behalf, with evidence."""

    event: str
    at: datetime
    actor: str
    request_id: str | None = None
    resource: str | None = None
    subject: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: datetime
    event: str
    request_id: str | None
    resource: str | None
    actor: str
    subject: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def export(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": format_time(self.at),
            "event": self.event,
            "request_id": self.request_id,
            "resource": self.resource,
            "actor": self.actor,
            "subject": self.subject,
            "detail": self.detail,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def format_time(at: datetime) -> str:
    """ISO 8601 in UTC with microseconds, the one textual form hashed and exported."""
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def compute_hash(prev_hash: str, seq: int, event: AuditEvent) -> str:
    body = {
        "seq": seq,
        "at": format_time(event.at),
        "event": event.event,
        "request_id": event.request_id,
        "resource": event.resource,
        "actor": event.actor,
        "subject": event.subject,
        "detail": event.detail,
    }
    return hashlib.sha256(prev_hash.encode() + _canonical(body)).hexdigest()


def chain(prev: AuditRecord | None, event: AuditEvent) -> AuditRecord:
    """The record that follows `prev` (or starts the trail)."""
    seq = prev.seq + 1 if prev else 1
    prev_hash = prev.hash if prev else GENESIS
    return AuditRecord(
        seq=seq,
        at=event.at,
        event=event.event,
        request_id=event.request_id,
        resource=event.resource,
        actor=event.actor,
        subject=event.subject,
        detail=event.detail,
        prev_hash=prev_hash,
        hash=compute_hash(prev_hash, seq, event),
    )


@dataclass(frozen=True, slots=True)
class ChainBreak:
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"event {self.seq}: {self.problem}"


def verify_chain(
    records: Iterable[AuditRecord], head: tuple[int, str] | None = None
) -> ChainBreak | None:
    """The first place where the stored trail differs from an untouched one, or None.

    `head` is the (seq, hash) of the last event as separately recorded at append time, so that
    removing events from the end is detected too.
    """
    expected_seq = 1
    prev_hash = GENESIS
    for record in records:
        if record.seq != expected_seq:
            what = "missing" if record.seq > expected_seq else "out of order"
            return ChainBreak(
                expected_seq, f"{what} (found seq {record.seq} where {expected_seq} belongs)"
            )
        if record.prev_hash != prev_hash:
            return ChainBreak(
                record.seq, "prev_hash does not match the hash of the event before it"
            )
        as_event = AuditEvent(
            event=record.event,
            at=record.at,
            actor=record.actor,
            request_id=record.request_id,
            resource=record.resource,
            subject=record.subject,
            detail=record.detail,
        )
        if compute_hash(prev_hash, record.seq, as_event) != record.hash:
            return ChainBreak(record.seq, "its content was altered (hash mismatch)")
        prev_hash = record.hash
        expected_seq += 1
    if head is not None and head != (expected_seq - 1, prev_hash):
        if head[0] >= expected_seq:
            return ChainBreak(
                expected_seq,
                f"missing (the trail ended at seq {expected_seq - 1}, its head says {head[0]})",
            )
        return ChainBreak(head[0], "the recorded head does not match the trail")
    return None
