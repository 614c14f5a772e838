"""The audit trail: append-only events chained by hash, so any edit, removal or reordering of a
stored event breaks the chain at a point `check_trail` names.

Unkeyed: hash = sha256(prev_hash + canonical JSON of the event's fields). Keyed: hash =
HMAC-SHA256(audit key, prev_hash + canonical JSON of the fields and `key_id`), so whoever can
write the database but does not hold the key cannot recompute the chain after an edit. The first
event's prev_hash is 64 zeros. Canonical JSON: sorted keys, no spaces, UTF-8.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
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
    "key_id",
)


@dataclass(frozen=True, slots=True)
class AuditKey:
    """One audit key. Its id, derived from the key, is recorded in each event it chains, so
    events keep verifying with an older key after a rotation."""

    id: str
    secret: bytes = field(repr=False)

    @classmethod
    def of(cls, secret: str) -> AuditKey:
        raw = secret.encode()
        key_id = hmac.new(raw, b"oncall-access audit key id", hashlib.sha256).hexdigest()[:12]
        return cls(key_id, raw)

    def sign(self, message: bytes) -> str:
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditKeys:
    """The configured keys, newest first: the first chains new events, all of them verify."""

    keys: tuple[AuditKey, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> AuditKeys:
        """`new,old,...` as in the setting; blanks ignored."""
        return cls.of([k.strip() for k in (text or "").split(",") if k.strip()])

    @classmethod
    def of(cls, secrets: Sequence[str]) -> AuditKeys:
        return cls(tuple(AuditKey.of(s) for s in secrets))

    @property
    def signing(self) -> AuditKey | None:
        return self.keys[0] if self.keys else None

    def find(self, key_id: str) -> AuditKey | None:
        return next((k for k in self.keys if hmac.compare_digest(k.id, key_id)), None)

    def __bool__(self) -> bool:
        return bool(self.keys)


UNKEYED = AuditKeys()


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
    key_id: str | None = None  # None: chained with plain SHA-256

    def as_event(self) -> AuditEvent:
        return AuditEvent(
            event=self.event,
            at=self.at,
            actor=self.actor,
            request_id=self.request_id,
            resource=self.resource,
            subject=self.subject,
            detail=self.detail,
        )

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
            "key_id": self.key_id,
        }


def format_time(at: datetime) -> str:
    """ISO 8601 in UTC with microseconds, the one textual form hashed and exported."""
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def compute_hash(prev_hash: str, seq: int, event: AuditEvent, key: AuditKey | None = None) -> str:
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
    if key is None:
        return hashlib.sha256(prev_hash.encode() + canonical(body)).hexdigest()
    return key.sign(prev_hash.encode() + canonical({**body, "key_id": key.id}))


def chain(prev: AuditRecord | None, event: AuditEvent, key: AuditKey | None = None) -> AuditRecord:
    """The record that follows `prev` (or starts the trail), keyed when `key` is given."""
    return follow((prev.seq, prev.hash) if prev else None, event, key)


def follow(
    head: tuple[int, str] | None, event: AuditEvent, key: AuditKey | None = None
) -> AuditRecord:
    """The record that follows the trail's head (seq, hash), or starts the trail."""
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS)
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
        hash=compute_hash(prev_hash, seq, event, key),
        key_id=key.id if key else None,
    )


@dataclass(frozen=True, slots=True)
class ChainBreak:
    seq: int
    problem: str
    unverifiable: bool = False  # keyed with a key that is not configured: not proof of tampering

    def __str__(self) -> str:
        return f"event {self.seq}: {self.problem}"


@dataclass(frozen=True, slots=True)
class TrailCheck:
    """What replaying the chain found: its length and head, the first break, and how much of it
    a key protects."""

    events: int
    head: tuple[int, str]
    problem: ChainBreak | None
    keyed: int  # events chained with a key
    first_keyed: int | None
    key_ids: tuple[str, ...]  # the key ids seen, in order of first use

    @property
    def unkeyed(self) -> int:
        return self.events - self.keyed


def check_trail(
    records: Iterable[AuditRecord],
    head: tuple[int, str] | None = None,
    keys: AuditKeys = UNKEYED,
    start: tuple[int, str] | None = None,
) -> TrailCheck:
    """Replay the chain: the first place where the stored trail differs from an untouched one.

    `head` is the (seq, hash) of the last event as separately recorded at append time, so that
    removing events from the end is detected too (unless the head is rewritten as well: only a
    checkpoint kept outside the database proves that). Once an event is keyed, every later one
    must be: an unkeyed event after a keyed one was written by someone without the key.
    `start` is the (seq, hash) of the last event a retention cut removed (core/retention.py):
    the trail then begins right after it.
    """
    expected_seq = start[0] + 1 if start else 1
    prev_hash = start[1] if start else GENESIS
    first_seq = expected_seq
    keyed = 0
    first_keyed: int | None = None
    key_ids: list[str] = []

    def result(problem: ChainBreak | None) -> TrailCheck:
        return TrailCheck(
            expected_seq - first_seq, (expected_seq - 1, prev_hash), problem, keyed, first_keyed,
            tuple(key_ids),
        )  # fmt: skip

    for record in records:
        if record.seq != expected_seq:
            what = "missing" if record.seq > expected_seq else "out of order"
            return result(
                ChainBreak(
                    expected_seq, f"{what} (found seq {record.seq} where {expected_seq} belongs)"
                )
            )
        if record.prev_hash != prev_hash:
            return result(
                ChainBreak(record.seq, "prev_hash does not match the hash of the event before it")
            )
        key: AuditKey | None = None
        if record.key_id is None:
            if first_keyed is not None:
                return result(
                    ChainBreak(
                        record.seq,
                        f"not keyed, though the events from {first_keyed} on are "
                        "(it was rewritten without the audit key)",
                    )
                )
        else:
            key = keys.find(record.key_id)
            if key is None:
                return result(
                    ChainBreak(
                        record.seq,
                        f"chained with audit key id {record.key_id}, which is not configured",
                        unverifiable=True,
                    )
                )
        if not hmac.compare_digest(
            compute_hash(prev_hash, record.seq, record.as_event(), key), record.hash
        ):
            return result(ChainBreak(record.seq, "its content was altered (hash mismatch)"))
        if key is not None:
            keyed += 1
            first_keyed = first_keyed or record.seq
            if key.id not in key_ids:
                key_ids.append(key.id)
        prev_hash = record.hash
        expected_seq += 1
    if head is not None and head != (expected_seq - 1, prev_hash):
        if head[0] >= expected_seq:
            return result(
                ChainBreak(
                    expected_seq,
                    f"missing (the trail ended at seq {expected_seq - 1}, its head says {head[0]})",
                )
            )
        return result(ChainBreak(head[0], "the recorded head does not match the trail"))
    return result(None)


def verify_chain(
    records: Iterable[AuditRecord],
    head: tuple[int, str] | None = None,
    keys: AuditKeys = UNKEYED,
) -> ChainBreak | None:
    """The first place where the stored trail differs from an untouched one, or None."""
    return check_trail(records, head, keys).problem
