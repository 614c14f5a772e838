"""Typed evidence keeps what the trail always recorded: each rule's object reads back as the
same facts, and the explanation people see follows the kind of grounds, not a rule's spelling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.evidence import Basis, Evidence, Rule
from core.groups import GroupRef
from core.replies import evidence_sentence
from core.requests import AccessRequest, Status

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PRIMARY = GroupRef.parse("pagerduty:schedule/Primary SRE")


def _request(evidence: Evidence) -> AccessRequest:
    return AccessRequest(
        id="r2222aa",
        resource="prod-db",
        requester="alice@example.com",
        duration=timedelta(hours=1),
        reason="",
        status=Status.PENDING,
        created_at=NOW,
        timeout_at=NOW + timedelta(minutes=30),
        evidence=evidence,
    )


CASES = [
    Evidence(Rule.REQUEST_PEOPLE),
    Evidence(Rule.REQUEST_OPEN),
    Evidence(
        Rule.REQUEST_ON_CALL,
        group=GroupRef.parse("pagerduty:escalation_policy/Platform@1"),
        snapshot_at=NOW - timedelta(minutes=3),
        roster_age_s=180,
        live_confirm=False,
        shift_start=NOW - timedelta(hours=2),
        shift_end=None,
        level=1,
    ),
    Evidence(
        Rule.REQUEST_ON_CALL,
        group=PRIMARY,
        live_confirm=True,
        confirmed_at=NOW,
        shift_start=NOW,
        shift_end=NOW + timedelta(hours=6),
    ),
    Evidence(Rule.FALLBACK_ROSTER_STALE, groups=(PRIMARY,), note="The roster is out of date."),
    Evidence(Rule.REQUEST_MEMBERS, group=PRIMARY, snapshot_at=NOW, roster_age_s=0).extending(
        "r3333bb"
    ),
]


@pytest.mark.parametrize("evidence", CASES, ids=lambda e: e.rule.value or "none")
def test_evidence_reads_back_as_the_same_facts(evidence: Evidence) -> None:
    assert Evidence.from_dict(evidence.to_dict()) == evidence


def test_fallback_evidence_is_told_apart_by_its_kind() -> None:
    kinds = {rule.basis for rule in Rule if rule.value.startswith("fallback.")}
    assert kinds == {Basis.FALLBACK}
    assert Evidence(Rule.FALLBACK_UNKNOWN_PERSON).is_fallback
    assert not Evidence(Rule.REQUEST_ON_CALL, group=PRIMARY).is_fallback


def test_a_birthright_grant_is_explained_as_the_shift_it_follows() -> None:
    evidence = Evidence(Rule.BIRTHRIGHT, group=PRIMARY, shift_end=NOW + timedelta(hours=6))
    assert (
        evidence_sentence(_request(evidence), now=NOW)
        == "on call for Primary SRE (PagerDuty) until 18:00 UTC"
    )


def test_empty_or_unreadable_evidence_is_no_evidence() -> None:
    assert not Evidence.from_dict({})
    assert not Evidence.from_dict(None)
    odd = Evidence.from_dict({"rule": 7, "shift_end": "yesterday", "level": True, "groups": [1]})
    assert (odd.rule, odd.shift_end, odd.level, odd.groups) == (Rule.NONE, None, None, ())
