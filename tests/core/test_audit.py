"""The hash-chained audit trail: any edit, removal or reordering is found, at the right event."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.audit import GENESIS, AuditEvent, AuditRecord, chain, compute_hash, verify_chain
from tests.core.builders import utc

DESIGN_COLUMNS = [
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
]

EVENTS = [
    AuditEvent("roster.synced", utc(24, 12, 5), "system", detail={"provider": "pagerduty"}),
    AuditEvent(
        "request.created",
        utc(24, 12, 10),
        "alice@example.com",
        "r7k2m9p",
        "prod-db",
        "alice@example.com",
        {"duration": "2h", "reason": "INC-4411 failover", "evidence": {"group": "g"}},
    ),
    AuditEvent(
        "request.approved",
        utc(24, 12, 12),
        "bob@example.com",
        "r7k2m9p",
        "prod-db",
        "alice@example.com",
        {"comment": "go"},
    ),
    AuditEvent(
        "access.granted",
        utc(24, 12, 12),
        "bob@example.com",
        "r7k2m9p",
        "prod-db",
        "alice@example.com",
        {"until": "2026-11-24T14:12:00+00:00"},
    ),
    AuditEvent(
        "access.expired", utc(24, 14, 12), "system", "r7k2m9p", "prod-db", "alice@example.com"
    ),
]


def trail() -> list[AuditRecord]:
    records: list[AuditRecord] = []
    for event in EVENTS:
        records.append(chain(records[-1] if records else None, event))
    return records


def test_untouched_trail_verifies() -> None:
    records = trail()
    assert verify_chain(records) is None
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == GENESIS == "0" * 64
    assert all(r.prev_hash == p.hash for p, r in itertools.pairwise(records))


def test_empty_trail_verifies() -> None:
    assert verify_chain([]) is None


def _edit(index: int, **changes: object) -> Callable[[list[AuditRecord]], list[AuditRecord]]:
    def tamper(records: list[AuditRecord]) -> list[AuditRecord]:
        records[index] = dataclasses.replace(records[index], **changes)
        return records

    return tamper


def _forge(index: int, **changes: object) -> Callable[[list[AuditRecord]], list[AuditRecord]]:
    """Edit an event and recompute its own hash, as a careful forger would."""

    def tamper(records: list[AuditRecord]) -> list[AuditRecord]:
        old = records[index]
        edited = dataclasses.replace(old, **changes)
        event = AuditEvent(
            edited.event,
            edited.at,
            edited.actor,
            edited.request_id,
            edited.resource,
            edited.subject,
            edited.detail,
        )
        records[index] = dataclasses.replace(
            edited, hash=compute_hash(edited.prev_hash, edited.seq, event)
        )
        return records

    return tamper


def _drop(index: int) -> Callable[[list[AuditRecord]], list[AuditRecord]]:
    def tamper(records: list[AuditRecord]) -> list[AuditRecord]:
        del records[index]
        return records

    return tamper


def _swap(i: int, j: int) -> Callable[[list[AuditRecord]], list[AuditRecord]]:
    def tamper(records: list[AuditRecord]) -> list[AuditRecord]:
        records[i], records[j] = records[j], records[i]
        return records

    return tamper


def _swap_contents(i: int, j: int) -> Callable[[list[AuditRecord]], list[AuditRecord]]:
    """Swap two events but keep the seq numbers in order, so only the hashes can tell."""

    def tamper(records: list[AuditRecord]) -> list[AuditRecord]:
        a, b = records[i], records[j]
        records[i] = dataclasses.replace(b, seq=a.seq)
        records[j] = dataclasses.replace(a, seq=b.seq)
        return records

    return tamper


TAMPERING = [
    ("detail-changed", _edit(1, detail={**EVENTS[1].detail, "duration": "8h"}), 2, "altered"),
    ("actor-changed", _edit(2, actor="mallory@example.com"), 3, "altered"),
    (
        "time-moved-a-microsecond",
        _edit(3, at=utc(24, 12, 12) + timedelta(microseconds=1)),
        4,
        "altered",
    ),
    ("event-renamed", _edit(2, event="request.denied"), 3, "altered"),
    ("subject-changed", _edit(1, subject="mallory@example.com"), 2, "altered"),
    ("middle-event-removed", _drop(2), 3, "missing"),
    ("first-event-removed", _drop(0), 1, "missing"),
    ("two-events-swapped", _swap(1, 2), 2, "seq 3 where 2 belongs"),
    ("two-events-swapped-seq-kept", _swap_contents(1, 2), 2, "prev_hash"),
    ("prev-hash-changed", _edit(3, prev_hash="f" * 64), 4, "prev_hash"),
    ("edited-and-rehashed", _forge(1, actor="mallory@example.com"), 3, "prev_hash"),
    ("hash-changed", _edit(4, hash="0" * 64), 5, "altered"),
]


@pytest.mark.parametrize(
    ("tamper", "first_bad", "problem"), [t[1:] for t in TAMPERING], ids=[t[0] for t in TAMPERING]
)
def test_tampering_is_found_at_the_first_bad_event(
    tamper: Callable[[list[AuditRecord]], list[AuditRecord]], first_bad: int, problem: str
) -> None:
    found = verify_chain(tamper(trail()))
    assert found is not None
    assert found.seq == first_bad
    assert problem in found.problem
    assert str(found).startswith(f"event {first_bad}: ")


def test_hash_does_not_depend_on_detail_key_order_or_time_zone() -> None:
    event = EVENTS[1]
    reordered = dataclasses.replace(
        event,
        detail=dict(reversed(list(event.detail.items()))),
        at=event.at.astimezone(ZoneInfo("Europe/Berlin")),
    )
    assert compute_hash(GENESIS, 1, reordered) == compute_hash(GENESIS, 1, event)


def test_export_has_exactly_the_design_columns_in_order() -> None:
    exported = trail()[1].export()
    assert list(exported) == DESIGN_COLUMNS
    assert exported["detail"] == EVENTS[1].detail
    assert exported["request_id"] == "r7k2m9p"
    assert exported["actor"] == "alice@example.com"
    assert exported["subject"] == "alice@example.com"


def test_export_of_an_event_without_a_request_has_null_request_id() -> None:
    exported = trail()[0].export()
    assert exported["request_id"] is None
    assert json.loads(json.dumps(exported))["request_id"] is None


def test_export_time_is_iso_8601_utc_whatever_zone_it_was_recorded_in() -> None:
    berlin = datetime(2026, 11, 24, 13, 5, tzinfo=ZoneInfo("Europe/Berlin"))
    record = chain(None, AuditEvent("roster.synced", berlin, "system"))
    assert record.export()["at"] == "2026-11-24T12:05:00.000000Z"


def test_exported_jsonl_is_enough_to_verify_the_trail() -> None:
    lines = [json.dumps(r.export()) for r in trail()]
    rebuilt = []
    for line in lines:
        row = json.loads(line)
        row["at"] = datetime.fromisoformat(row["at"].replace("Z", "+00:00"))
        rebuilt.append(AuditRecord(**row))
    assert verify_chain(rebuilt) is None
    rebuilt[2] = dataclasses.replace(rebuilt[2], detail={"comment": "no"})
    broken = verify_chain(rebuilt)
    assert broken is not None
    assert broken.seq == 3
