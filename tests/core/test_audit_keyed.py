"""The keyed chain, checkpoints and replay, without a database: what someone holding the stored
trail but not the key can and cannot make `check_trail` accept."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from core.audit import (
    AuditEvent,
    AuditKey,
    AuditKeys,
    AuditRecord,
    chain,
    check_trail,
    compute_hash,
)
from core.audit_checkpoint import (
    CheckpointError,
    TamperedCheckpoint,
    check_against,
    make_checkpoint,
    read_checkpoint,
    render,
)
from core.audit_state import differences, identity_state, replay, request_state, with_state
from core.requests import AccessRequest, Status
from tests.core.builders import utc

KEYS = AuditKeys.parse("n" * 32 + ", " + "o" * 32)
NEW, OLD = KEYS.keys


def _trail(n: int, keys: list[AuditKey | None]) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    for i in range(n):
        event = AuditEvent("roster.synced", utc(24, 12, i), "system", detail={"i": i})
        records.append(chain(records[-1] if records else None, event, keys[min(i, len(keys) - 1)]))
    return records


def test_keyed_events_record_their_key_id_and_verify_with_either_rotated_key() -> None:
    records = _trail(4, [OLD, OLD, NEW])

    check = check_trail(records, (4, records[-1].hash), KEYS)

    assert check.problem is None
    assert [r.key_id for r in records] == [OLD.id, OLD.id, NEW.id, NEW.id]
    assert (check.keyed, check.first_keyed, check.key_ids) == (4, 1, (OLD.id, NEW.id))


def test_a_keyed_event_rehashed_without_the_key_is_found() -> None:
    records = _trail(3, [NEW])
    forged = dataclasses.replace(records[1], actor="mallory@example.com")
    rehashed = compute_hash(forged.prev_hash, 2, forged.as_event(), None)
    records[1] = dataclasses.replace(forged, hash=rehashed)  # key id kept: hash no longer HMAC

    problem = check_trail(records, None, KEYS).problem

    assert problem is not None and str(problem).startswith("event 2: its content was altered")


def test_an_unkeyed_prefix_is_allowed_and_counted_but_not_an_unkeyed_event_after_a_keyed_one() -> (
    None
):
    before = check_trail(_trail(3, [None, NEW]), None, KEYS)
    assert before.problem is None and (before.unkeyed, before.first_keyed) == (1, 2)

    records = _trail(3, [NEW])
    plain = chain(records[1], records[2].as_event(), None)
    downgraded = check_trail([*records[:2], plain], None, KEYS)
    assert downgraded.problem is not None and downgraded.problem.seq == 3
    assert "not keyed" in downgraded.problem.problem


def test_an_event_keyed_with_a_key_that_is_not_configured_is_unverifiable_not_tampered() -> None:
    problem = check_trail(_trail(2, [OLD]), None, AuditKeys.parse("n" * 32)).problem

    assert problem is not None and problem.unverifiable and problem.seq == 1


def test_a_checkpoint_finds_dropped_and_replaced_events_and_its_own_edits() -> None:
    records = _trail(5, [NEW])
    signed = read_checkpoint(
        render(make_checkpoint((5, records[-1].hash), utc(24, 13), KEYS)), KEYS
    )

    assert check_against(signed, records) is None
    assert "events were dropped" in (check_against(signed, records[:3]) or "")
    assert "was replaced" in (check_against(signed, _trail(5, [OLD])) or "")
    edited = render(make_checkpoint((5, records[-1].hash), utc(24, 13), KEYS)).replace(
        '"seq": 5', '"seq": 3'
    )
    with pytest.raises(TamperedCheckpoint):
        read_checkpoint(edited, KEYS)
    with pytest.raises(CheckpointError):
        read_checkpoint("{}", KEYS)


def _request(**changes: object) -> AccessRequest:
    base = AccessRequest(
        id="r2abcde",
        resource="prod-db",
        requester="alice@example.com",
        duration=timedelta(hours=1),
        reason="INC-1",
        status=Status.ACTIVE,
        created_at=utc(24, 12),
        timeout_at=utc(24, 12, 30),
        granted_at=utc(24, 13),
        expires_at=utc(24, 14),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_replay_names_each_field_the_database_changed_behind_the_trail() -> None:
    request = _request()
    created = AuditEvent("access.granted", utc(24, 13), "bob@example.com", request.id)
    mapped = AuditEvent("identity.mapped", utc(24, 13), "lead@example.com")
    records = [
        chain(None, with_state(created, request_state(request)), NEW),
    ]
    records.append(chain(records[0], with_state(mapped, identity_state("slack:U1", "a@x.io")), NEW))
    trail = replay(records)

    assert differences(trail, [request], {"slack:U1": "a@x.io"}, {}) == []
    found = differences(trail, [_request(expires_at=utc(24, 15))], {"slack:U1": "m@x.io"}, {})
    assert found == [
        "request r2abcde: expires_at in the database 2026-11-24T15:00:00.000000Z "
        "differs from the trail's 2026-11-24T14:00:00.000000Z",
        "identity mapping slack:U1: in the database m@x.io differs from the trail's a@x.io",
    ]
