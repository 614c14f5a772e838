"""On-call precision, pure: escalation levels, identity canonicalisation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from core.groups import GroupRef
from core.identity import Actor, IdentityMap, parse_aliases
from core.policy import parse_policy
from core.roster import Group, Roster, RosterSnapshot, Shift
from core.rules import Reason, may_request

NOW = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
EP = GroupRef.parse("pagerduty:escalation_policy/Platform")


def roster_with_levels() -> Roster:
    shifts = (
        Shift("first@example.com", NOW - timedelta(hours=1), NOW + timedelta(hours=3), level=1),
        Shift("second@example.com", NOW - timedelta(hours=1), NOW + timedelta(hours=3), level=2),
        Shift("third@example.com", NOW - timedelta(hours=1), NOW + timedelta(hours=3), level=3),
    )
    snap = RosterSnapshot(
        EP.provider, NOW - timedelta(minutes=5), {EP: Group(EP, frozenset(), shifts)}
    )
    return Roster.of([snap])


@pytest.mark.parametrize(
    ("reference", "email", "allowed"),
    [
        ("pagerduty:escalation_policy/Platform", "third@example.com", True),
        ("pagerduty:escalation_policy/Platform@1", "first@example.com", True),
        ("pagerduty:escalation_policy/Platform@1", "second@example.com", False),
        ("pagerduty:escalation_policy/Platform@1-2", "second@example.com", True),
        ("pagerduty:escalation_policy/Platform@1-2", "third@example.com", False),
    ],
    ids=["any-level", "level-1-first", "level-1-second", "levels-1-2-second", "levels-1-2-third"],
)
def test_escalation_levels_scope_who_counts(reference: str, email: str, allowed: bool) -> None:
    policy = parse_policy(
        f"""
version: 1
resources:
  db:
    request: {{on_call: ["{reference}"]}}
    approve: {{people: [lead@example.com]}}
""",
        "p.yaml",
    )
    verdict = may_request(
        policy.resources["db"], email, roster_with_levels(), NOW, timedelta(minutes=45)
    )
    assert verdict.allowed is allowed
    if allowed:
        assert str(verdict.evidence.group) == reference
    else:
        assert verdict.reason == Reason.NOT_ON_CALL
        assert "level" in verdict.sentence()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("pagerduty:schedule/Primary@1", "only escalation policies have levels"),
        ("pagerduty:escalation_policy/Platform@0", "levels are written @1 or @1-2"),
        ("pagerduty:escalation_policy/Platform@3-1", "levels are written @1 or @1-2"),
    ],
)
def test_bad_levels_are_explained(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        GroupRef.parse(text)


def test_level_reference_round_trips_and_reads_well() -> None:
    ref = GroupRef.parse("pagerduty:escalation_policy/Platform@1-2")
    assert str(ref) == "pagerduty:escalation_policy/Platform@1-2"
    assert ref.display == "Platform levels 1-2 (PagerDuty)"
    assert ref.base == EP


@pytest.mark.parametrize(
    ("email", "key", "expected"),
    [
        ("Alice@Corp.Example.com", None, "alice@example.com"),
        ("alice@example.com", None, "alice@example.com"),
        ("someone@elsewhere.org", None, "someone@elsewhere.org"),
        ("whatever@corp.example.com", "slack:U123", "alice@example.com"),
        ("old.name@example.com", None, "alice@example.com"),
    ],
    ids=[
        "domain-alias",
        "already-canonical",
        "unrelated",
        "manual-chat-mapping",
        "manual-email-mapping",
    ],
)
def test_identity_map_makes_emails_canonical(email: str, key: str | None, expected: str) -> None:
    identity = IdentityMap(
        parse_aliases("corp.example.com=example.com"),
        {"slack:U123": "alice@example.com", "email:old.name@example.com": "alice@example.com"},
    )
    assert identity.email(email, key) == expected
    assert identity.actor(Actor(email, "slack", user_key=key)).email == expected


def test_a_provider_id_mapping_rewrites_the_roster() -> None:
    group = GroupRef.parse("pagerduty:schedule/Primary SRE")
    shift = Shift("a.ng@corp.example.com", NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    snap = RosterSnapshot(
        group.provider,
        NOW,
        {group: Group(group, frozenset(), (shift,))},
        ids={"PABC123": "a.ng@corp.example.com"},
    )
    identity = IdentityMap({}, {"pagerduty:PABC123": "alice@example.com"})
    mapped = Roster.of([snap.remapped(identity.email)])
    assert mapped.on_call("alice@example.com", group, NOW) is not None


def test_aliases_must_be_pairs() -> None:
    with pytest.raises(ValueError, match=re.escape("corp.example.com=example.com")):
        parse_aliases("corp.example.com")
