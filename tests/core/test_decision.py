"""The one decision a request meets, for any person and instant, table-driven: the outcome and the
reason `policy test` checks, `why` explains and `policy diff` compares."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core.decision import Outcome, decide
from core.identity import Person
from tests.core.builders import PRIMARY, SECONDARY, group, policy, roster, shift, snapshot, utc

POLICY = policy(
    """
version: 1
resources:
  prod-db:
    request: {on_call: ["pagerduty:schedule/Primary SRE"]}
    approve: {on_call: ["pagerduty:schedule/Secondary SRE"], people: [lead@example.com]}
  grafana:
    request: {on_call: ["pagerduty:schedule/Primary SRE"]}
    approve: {auto_if_on_call: true, people: [lead@example.com]}
  stale-ok:
    request: {on_call: ["pagerduty:schedule/Primary SRE"]}
    approve: {people: [lead@example.com]}
    on_stale: manual
  lonely:
    request: {on_call: ["pagerduty:schedule/Primary SRE"]}
    approve: {on_call: ["pagerduty:schedule/Secondary SRE"]}
"""
)
ROSTER = roster(
    snapshot(
        utc(23, 9),
        group(
            PRIMARY, ["alice@example.com"], [shift("alice@example.com", utc(23, 8), utc(23, 20))]
        ),
        group(SECONDARY, ["bob@example.com"], [shift("bob@example.com", utc(23, 8), utc(23, 12))]),
        people=[Person("lead@example.com")],
    )
)


@pytest.mark.parametrize(
    ("resource", "person", "at", "outcome", "reason", "approvers"),
    [
        ("prod-db", "alice@example.com", utc(23, 10), Outcome.NEEDS_APPROVAL, "on_call",
         ("lead@example.com", "bob@example.com")),
        ("prod-db", "alice@example.com", utc(23, 13), Outcome.NEEDS_APPROVAL, "on_call",
         ("lead@example.com",)),  # the secondary's shift is over: only the lead is left
        ("prod-db", "alice@example.com", utc(23, 21), Outcome.REFUSED, "shift_ended", ()),
        ("prod-db", "alice@example.com", utc(23, 7), Outcome.REFUSED, "shift_not_started", ()),
        ("prod-db", "bob@example.com", utc(23, 10), Outcome.REFUSED, "not_on_call", ()),
        ("grafana", "ALICE@example.com", utc(23, 10), Outcome.AUTO_APPROVED, "on_call", ()),
        ("prod-db", "zoe@example.com", utc(23, 10), Outcome.NEEDS_APPROVAL, "unknown_person",
         ("lead@example.com",)),
        ("lonely", "alice@example.com", utc(23, 13), Outcome.NO_APPROVER, "no_approver", ()),
    ],
)  # fmt: skip
def test_the_decision_for_a_person_at_an_instant(
    resource: str,
    person: str,
    at: datetime,
    outcome: Outcome,
    reason: str,
    approvers: tuple[str, ...],
) -> None:
    decision = decide(POLICY.resources[resource], person, ROSTER, at)

    assert (decision.outcome, decision.reason) == (outcome, reason)
    assert decision.approvers == approvers


def test_a_stale_roster_counts_only_when_the_age_is_asked_about() -> None:
    res, later = POLICY.resources["stale-ok"], utc(23, 11)

    assumed_fresh = decide(res, "alice@example.com", ROSTER, later)
    judged = decide(res, "alice@example.com", ROSTER, later, timedelta(minutes=45))

    assert assumed_fresh.outcome == Outcome.NEEDS_APPROVAL and assumed_fresh.reason == "on_call"
    assert (judged.outcome, judged.reason) == (Outcome.NEEDS_APPROVAL, "roster_stale")
    refused = decide(
        POLICY.resources["prod-db"], "alice@example.com", ROSTER, later, timedelta(minutes=45)
    )
    assert (refused.outcome, refused.reason) == (Outcome.REFUSED, "roster_stale")


def test_access_resting_on_a_shift_ends_with_it() -> None:
    decision = decide(POLICY.resources["prod-db"], "alice@example.com", ROSTER, utc(23, 10))

    assert decision.ends_at == utc(23, 20)
