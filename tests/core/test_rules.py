"""Who may request, who may approve, who is approved at once: verdicts and the sentence people read.

Every case runs at a fixed `NOW` (Tuesday 24 Nov 2026, 14:00 UTC) against rosters built from
`RosterSnapshot`s; snapshots are 10 minutes old unless the case is about age.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from core.evidence import Rule
from core.groups import GroupRef, Provider
from core.roster import Group, Roster, Shift
from core.rules import Reason, Verdict, approvers_now, auto_approves, may_approve, may_request
from tests.core.builders import (
    PLATFORM,
    PRIMARY,
    SECONDARY,
    group,
    policy,
    roster,
    shift,
    snapshot,
    utc,
)

NOW = utc(24, 14)
MAX_AGE = timedelta(minutes=45)
FRESH = NOW - timedelta(minutes=10)
PLATFORM_SCHEDULE = GroupRef.parse("opsgenie:schedule/Platform")

POLICY = policy(
    """\
version: 1
resources:
  prod-db:
    request: {on_call: ["pagerduty:schedule/Primary SRE"]}
    approve:
      on_call: ["pagerduty:schedule/Secondary SRE"]
      people: [lead@example.com]
  team-wiki:
    request: {members: ["opsgenie:team/Platform"]}
    approve: {people: [lead@example.com]}
  break-glass:
    request: {people: [Ops@Example.com]}
    approve: {people: [lead@example.com]}
  status-page:
    approve: {people: [lead@example.com]}
  grafana-admin:
    request: {on_call: ["pagerduty:schedule/Primary SRE"]}
    approve: {auto_if_on_call: true, people: [lead@example.com]}
  either-rota:
    request: {on_call: ["pagerduty:schedule/Primary SRE", "opsgenie:schedule/Platform"]}
    approve: {people: [lead@example.com]}
"""
)


def pagerduty(
    primary: tuple[Shift, ...] = (),
    secondary: tuple[Shift, ...] = (),
    taken_at: datetime = FRESH,
) -> Roster:
    """PagerDuty's snapshot: both SRE schedules; bob is on Secondary unless told otherwise."""
    return roster(
        snapshot(
            taken_at,
            group(PRIMARY, shifts=primary),
            group(SECONDARY, shifts=secondary),
        )
    )


def alice(start: datetime | None, end: datetime | None) -> Roster:
    """Alice on Primary SRE from `start` to `end`; bob on call for Secondary all day."""
    return pagerduty(
        primary=(shift("alice@example.com", start, end),),
        secondary=(shift("bob@example.com", utc(24, 8), utc(24, 20)),),
    )


def opsgenie(*groups: Group, taken_at: datetime = FRESH) -> Roster:
    return roster(snapshot(taken_at, *groups, provider=Provider.OPSGENIE))


REQUESTS: list[tuple[str, str, str, Callable[[], Roster], Reason, str]] = [
    # id, resource, requester, roster, reason, sentence
    (
        "on-call",
        "prod-db",
        "alice@example.com",
        lambda: alice(utc(24, 8), utc(24, 16)),
        Reason.ON_CALL,
        "You are on call for Primary SRE (PagerDuty) until 16:00 UTC.",
    ),
    (
        "shift-starts-exactly-now",
        "prod-db",
        "alice@example.com",
        lambda: alice(NOW, utc(24, 22)),
        Reason.ON_CALL,
        "You are on call for Primary SRE (PagerDuty) until 22:00 UTC.",
    ),
    (
        "shift-ended-exactly-now",
        "prod-db",
        "alice@example.com",
        lambda: alice(utc(24, 6), NOW),
        Reason.SHIFT_ENDED,
        "Your shift for Primary SRE (PagerDuty) ended at 14:00 UTC.",
    ),
    (
        "shift-ended-one-second-ago",
        "prod-db",
        "alice@example.com",
        lambda: alice(utc(24, 6), NOW - timedelta(seconds=1)),
        Reason.SHIFT_ENDED,
        "Your shift for Primary SRE (PagerDuty) ended at 13:59 UTC.",
    ),
    (
        "shift-starts-later-today",
        "prod-db",
        "alice@example.com",
        lambda: alice(utc(24, 18), utc(24, 23)),
        Reason.SHIFT_NOT_STARTED,
        "Your shift for Primary SRE (PagerDuty) starts at 18:00 UTC.",
    ),
    (
        "shift-starts-tomorrow",
        "prod-db",
        "alice@example.com",
        lambda: alice(utc(25, 9), utc(25, 17)),
        Reason.SHIFT_NOT_STARTED,
        "Your shift for Primary SRE (PagerDuty) starts at Wed 25 Nov 09:00 UTC.",
    ),
    (
        "open-ended-shift",
        "prod-db",
        "alice@example.com",
        lambda: alice(utc(24, 8), None),
        Reason.ON_CALL,
        "You are on call for Primary SRE (PagerDuty).",
    ),
    (
        "shift-open-at-start",
        "prod-db",
        "alice@example.com",
        lambda: alice(None, utc(24, 16)),
        Reason.ON_CALL,
        "You are on call for Primary SRE (PagerDuty) until 16:00 UTC.",
    ),
    (
        "someone-else-on-call",
        "prod-db",
        "carol@example.com",
        lambda: alice(utc(24, 8), utc(24, 16)),
        Reason.NOT_ON_CALL,
        "You are not on call for Primary SRE (PagerDuty).",
    ),
    (
        "ended-shift-is-told-before-next-one",
        "prod-db",
        "alice@example.com",
        lambda: pagerduty(
            primary=(
                shift("alice@example.com", utc(24, 6), utc(24, 12)),
                shift("alice@example.com", utc(24, 20), utc(24, 23)),
            )
        ),
        Reason.SHIFT_ENDED,
        "Your shift for Primary SRE (PagerDuty) ended at 12:00 UTC.",
    ),
    (
        "requester-email-in-other-case",
        "prod-db",
        "Alice@Example.COM",
        lambda: alice(utc(24, 8), utc(24, 16)),
        Reason.ON_CALL,
        "You are on call for Primary SRE (PagerDuty) until 16:00 UTC.",
    ),
    (
        "roster-email-in-other-case",
        "prod-db",
        "alice@example.com",
        lambda: pagerduty(primary=(shift("ALICE@Example.com", utc(24, 8), utc(24, 16)),)),
        Reason.ON_CALL,
        "You are on call for Primary SRE (PagerDuty) until 16:00 UTC.",
    ),
    (
        "on-call-for-second-of-two-groups",
        "either-rota",
        "alice@example.com",
        lambda: roster(
            snapshot(FRESH, group(PRIMARY, shifts=[shift("bob@example.com", None, None)])),
            snapshot(
                FRESH,
                group(PLATFORM_SCHEDULE, shifts=[shift("alice@example.com", None, utc(24, 18))]),
            ),
        ),
        Reason.ON_CALL,
        "You are on call for Platform (Opsgenie) until 18:00 UTC.",
    ),
    (
        "member",
        "team-wiki",
        "alice@example.com",
        lambda: opsgenie(group(PLATFORM, members=["alice@example.com", "bob@example.com"])),
        Reason.MEMBER,
        "You are a member of Platform (Opsgenie).",
    ),
    (
        "member-through-a-past-shift",
        "team-wiki",
        "bob@example.com",
        lambda: opsgenie(
            group(PLATFORM, shifts=[shift("bob@example.com", utc(20, 0), utc(21, 0))])
        ),
        Reason.MEMBER,
        "You are a member of Platform (Opsgenie).",
    ),
    (
        "named",
        "break-glass",
        "ops@example.com",
        Roster,
        Reason.NAMED,
        "You are named in the policy.",
    ),
    (
        "named-other-case",
        "break-glass",
        "OPS@example.COM",
        Roster,
        Reason.NAMED,
        "You are named in the policy.",
    ),
    (
        "open-to-all-without-any-roster",
        "status-page",
        "anyone@example.com",
        Roster,
        Reason.OPEN,
        "Anyone may request it.",
    ),
]


@pytest.mark.parametrize(
    ("resource", "email", "make_roster", "reason", "sentence"),
    [r[1:] for r in REQUESTS],
    ids=[r[0] for r in REQUESTS],
)
def test_may_request(
    resource: str,
    email: str,
    make_roster: Callable[[], Roster],
    reason: Reason,
    sentence: str,
) -> None:
    verdict = may_request(POLICY.resources[resource], email, make_roster(), NOW, MAX_AGE)
    assert verdict.reason == reason
    assert verdict.allowed is (reason in {Reason.ON_CALL, Reason.MEMBER, Reason.NAMED, Reason.OPEN})
    assert verdict.sentence("UTC", NOW) == sentence


STALE: list[tuple[str, Callable[[], Roster], str]] = [
    (
        "synced-two-hours-ago",
        lambda: pagerduty(
            primary=(shift("alice@example.com", utc(24, 8), utc(24, 16)),), taken_at=utc(24, 12)
        ),
        "The on-call roster is out of date (last good sync 12:00 UTC, 2h ago); "
        "an admin can run `sync`.",
    ),
    (
        "one-minute-past-max-age",
        lambda: pagerduty(
            primary=(shift("alice@example.com", utc(24, 8), utc(24, 16)),),
            taken_at=NOW - MAX_AGE - timedelta(minutes=1),
        ),
        "The on-call roster is out of date (last good sync 13:14 UTC, 46m ago); "
        "an admin can run `sync`.",
    ),
    (
        "provider-never-synced",
        lambda: opsgenie(group(PLATFORM, members=["alice@example.com"])),
        "The on-call roster is out of date (last good sync never); an admin can run `sync`.",
    ),
    ("no-roster-at-all", Roster, "last good sync never"),
]


@pytest.mark.parametrize(
    ("make_roster", "sentence"), [s[1:] for s in STALE], ids=[s[0] for s in STALE]
)
def test_stale_or_missing_roster_is_not_trusted(
    make_roster: Callable[[], Roster], sentence: str
) -> None:
    verdict = may_request(
        POLICY.resources["prod-db"], "alice@example.com", make_roster(), NOW, MAX_AGE
    )
    assert not verdict.allowed
    assert verdict.reason == Reason.ROSTER_STALE
    assert sentence in verdict.sentence("UTC", NOW)


def test_roster_exactly_max_age_old_is_still_trusted() -> None:
    fresh_enough = pagerduty(
        primary=(shift("alice@example.com", utc(24, 8), utc(24, 16)),), taken_at=NOW - MAX_AGE
    )
    verdict = may_request(
        POLICY.resources["prod-db"], "alice@example.com", fresh_enough, NOW, MAX_AGE
    )
    assert verdict.allowed


def test_stale_refusal_carries_the_last_sync_time() -> None:
    taken = utc(24, 12)
    stale = pagerduty(taken_at=taken)
    verdict = may_request(POLICY.resources["prod-db"], "alice@example.com", stale, NOW, MAX_AGE)
    assert (verdict.group, verdict.at) == (PRIMARY, taken)


def test_fresh_refusal_is_preferred_to_a_stale_one_when_groups_differ() -> None:
    stale_pagerduty = snapshot(utc(24, 9), group(PRIMARY))
    fresh_opsgenie = snapshot(FRESH, group(PLATFORM_SCHEDULE))
    verdict = may_request(
        POLICY.resources["either-rota"],
        "alice@example.com",
        roster(stale_pagerduty, fresh_opsgenie),
        NOW,
        MAX_AGE,
    )
    assert verdict.sentence("UTC", NOW) == "You are not on call for Platform (Opsgenie)."


def test_on_call_verdict_records_the_evidence_it_rests_on() -> None:
    on_call = pagerduty(primary=(shift("alice@example.com", utc(24, 8), utc(24, 16), level=1),))
    verdict = may_request(POLICY.resources["prod-db"], "alice@example.com", on_call, NOW, MAX_AGE)
    assert verdict.evidence.to_dict() == {
        "rule": "request.on_call",
        "group": "pagerduty:schedule/Primary SRE",
        "provider": "pagerduty",
        "snapshot_at": FRESH.isoformat(),
        "roster_age_s": int((NOW - FRESH).total_seconds()),
        "live_confirm": False,
        "shift_start": utc(24, 8).isoformat(),
        "shift_end": utc(24, 16).isoformat(),
        "level": 1,
    }


def test_shift_end_is_shown_in_the_viewers_time_zone() -> None:
    verdict = may_request(
        POLICY.resources["prod-db"],
        "alice@example.com",
        alice(utc(24, 8), utc(24, 16)),
        NOW,
        MAX_AGE,
    )
    assert verdict.sentence("Europe/Berlin", NOW) == (
        "You are on call for Primary SRE (PagerDuty) until 17:00 CET."
    )


def test_verdict_cannot_be_changed_after_it_is_given() -> None:
    verdict = may_request(POLICY.resources["prod-db"], "carol@example.com", Roster(), NOW, MAX_AGE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.allowed = True  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.reason = Reason.NAMED  # type: ignore[misc]


REFUSAL_WORDING = [
    (
        "not-a-member",
        "team-wiki",
        lambda: opsgenie(group(PLATFORM, members=["bob@example.com"])),
        "not a member of Platform (Opsgenie)",
    ),
    ("not-named", "break-glass", Roster, "named"),
]


@pytest.mark.parametrize(
    ("resource", "make_roster", "phrase"),
    [r[1:] for r in REFUSAL_WORDING],
    ids=[r[0] for r in REFUSAL_WORDING],
)
def test_refusal_names_the_rule_the_person_missed(
    resource: str, make_roster: Callable[[], Roster], phrase: str
) -> None:
    verdict = may_request(
        POLICY.resources[resource], "carol@example.com", make_roster(), NOW, MAX_AGE
    )
    sentence = verdict.sentence("UTC", NOW)
    assert not verdict.allowed
    assert phrase in sentence
    assert "on call" not in sentence


def test_member_listed_in_other_case_may_request() -> None:
    mixed_case = opsgenie(group(PLATFORM, members=["Alice@Example.COM"]))
    verdict = may_request(
        POLICY.resources["team-wiki"], "alice@example.com", mixed_case, NOW, MAX_AGE
    )
    assert verdict.reason == Reason.MEMBER


# -- approving ------------------------------------------------------------------------------------


def approvers_roster(
    bob: tuple[datetime | None, datetime | None] = (utc(24, 8), utc(24, 20)),
    taken_at: datetime = FRESH,
) -> Roster:
    """Alice on call for Primary (the requester's group), bob for Secondary (the approvers')."""
    return pagerduty(
        primary=(
            shift("alice@example.com", utc(24, 8), utc(24, 16)),
            shift("carol@example.com", utc(24, 8), utc(24, 16)),
        ),
        secondary=(shift("bob@example.com", *bob),),
        taken_at=taken_at,
    )


APPROVALS: list[tuple[str, str, str, Callable[[], Roster], Reason, str]] = [
    # id, approver, requester, roster, reason, sentence
    (
        "on-call-for-approver-group",
        "bob@example.com",
        "alice@example.com",
        approvers_roster,
        Reason.ON_CALL,
        "You are on call for Secondary SRE (PagerDuty) until 20:00 UTC.",
    ),
    (
        "named-approver",
        "lead@example.com",
        "alice@example.com",
        approvers_roster,
        Reason.NAMED,
        "You are named in the policy.",
    ),
    (
        "named-approver-other-case",
        "Lead@Example.com",
        "alice@example.com",
        approvers_roster,
        Reason.NAMED,
        "You are named in the policy.",
    ),
    (
        "named-approver-needs-no-roster",
        "lead@example.com",
        "alice@example.com",
        Roster,
        Reason.NAMED,
        "You are named in the policy.",
    ),
    (
        "self-approval",
        "alice@example.com",
        "alice@example.com",
        approvers_roster,
        Reason.SELF_APPROVAL,
        "You cannot decide your own request; `cancel ID` withdraws it.",
    ),
    (
        "self-approval-other-case",
        "Alice@Example.com",
        "alice@EXAMPLE.com",
        approvers_roster,
        Reason.SELF_APPROVAL,
        "You cannot decide your own request; `cancel ID` withdraws it.",
    ),
    (
        "self-approval-by-named-approver",
        "lead@example.com",
        "lead@example.com",
        approvers_roster,
        Reason.SELF_APPROVAL,
        "You cannot decide your own request; `cancel ID` withdraws it.",
    ),
    (
        "self-approval-by-on-call-approver",
        "bob@example.com",
        "bob@example.com",
        approvers_roster,
        Reason.SELF_APPROVAL,
        "You cannot decide your own request; `cancel ID` withdraws it.",
    ),
    (
        "approver-shift-ended-exactly-now",
        "bob@example.com",
        "alice@example.com",
        lambda: approvers_roster(bob=(utc(24, 6), NOW)),
        Reason.NOT_APPROVER,
        "You may not approve this: you are not on call for Secondary SRE (PagerDuty) "
        "and not a named approver.",
    ),
    (
        "approver-shift-not-started",
        "bob@example.com",
        "alice@example.com",
        lambda: approvers_roster(bob=(utc(24, 20), None)),
        Reason.NOT_APPROVER,
        "You may not approve this: you are not on call for Secondary SRE (PagerDuty) "
        "and not a named approver.",
    ),
    (
        "on-call-for-requester-group-only",
        "carol@example.com",
        "alice@example.com",
        approvers_roster,
        Reason.NOT_APPROVER,
        "You may not approve this: you are not on call for Secondary SRE (PagerDuty) "
        "and not a named approver.",
    ),
    (
        "approver-roster-stale",
        "bob@example.com",
        "alice@example.com",
        lambda: approvers_roster(taken_at=utc(24, 12)),
        Reason.ROSTER_STALE,
        "The on-call roster is out of date (last good sync 12:00 UTC, 2h ago); "
        "an admin can run `sync`.",
    ),
]


@pytest.mark.parametrize(
    ("approver", "requester", "make_roster", "reason", "sentence"),
    [a[1:] for a in APPROVALS],
    ids=[a[0] for a in APPROVALS],
)
def test_may_approve(
    approver: str,
    requester: str,
    make_roster: Callable[[], Roster],
    reason: Reason,
    sentence: str,
) -> None:
    verdict = may_approve(
        POLICY.resources["prod-db"], approver, requester, make_roster(), NOW, MAX_AGE
    )
    assert verdict.reason == reason
    assert verdict.allowed is (reason in {Reason.ON_CALL, Reason.NAMED})
    assert verdict.sentence("UTC", NOW) == sentence


def test_on_call_approval_records_the_approver_group_as_evidence() -> None:
    verdict = may_approve(
        POLICY.resources["prod-db"],
        "bob@example.com",
        "alice@example.com",
        approvers_roster(),
        NOW,
        MAX_AGE,
    )
    assert verdict.evidence.rule == Rule.APPROVE_ON_CALL
    assert verdict.evidence.group == SECONDARY
    assert verdict.evidence.shift_end == utc(24, 20)


# -- approved at once -----------------------------------------------------------------------------

AUTO: list[tuple[str, str, Callable[[], Roster], Reason, str]] = [
    (
        "requester-on-call",
        "grafana-admin",
        lambda: alice(utc(24, 8), utc(24, 16)),
        Reason.ON_CALL,
        "You are on call for Primary SRE (PagerDuty) until 16:00 UTC.",
    ),
    (
        "requester-shift-ended",
        "grafana-admin",
        lambda: alice(utc(24, 6), NOW),
        Reason.SHIFT_ENDED,
        "Your shift for Primary SRE (PagerDuty) ended at 14:00 UTC.",
    ),
    (
        "requester-not-on-call",
        "grafana-admin",
        lambda: pagerduty(),
        Reason.NOT_ON_CALL,
        "You are not on call for Primary SRE (PagerDuty).",
    ),
    (
        "roster-stale",
        "grafana-admin",
        lambda: pagerduty(
            primary=(shift("alice@example.com", utc(24, 8), utc(24, 16)),), taken_at=utc(24, 9)
        ),
        Reason.ROSTER_STALE,
        "The on-call roster is out of date (last good sync 09:00 UTC, 5h ago); "
        "an admin can run `sync`.",
    ),
    (
        "resource-without-auto-approval",
        "prod-db",
        lambda: alice(utc(24, 8), utc(24, 16)),
        Reason.AUTO_DISABLED,
        "This resource is never approved automatically.",
    ),
]


@pytest.mark.parametrize(
    ("resource", "make_roster", "reason", "sentence"),
    [a[1:] for a in AUTO],
    ids=[a[0] for a in AUTO],
)
def test_auto_approves(
    resource: str, make_roster: Callable[[], Roster], reason: Reason, sentence: str
) -> None:
    verdict = auto_approves(
        POLICY.resources[resource], "alice@example.com", make_roster(), NOW, MAX_AGE
    )
    assert verdict.reason == reason
    assert verdict.allowed is (reason == Reason.ON_CALL)
    assert verdict.sentence("UTC", NOW) == sentence


def test_auto_approval_evidence_names_its_rule() -> None:
    verdict = auto_approves(
        POLICY.resources["grafana-admin"],
        "alice@example.com",
        alice(utc(24, 8), utc(24, 16)),
        NOW,
        MAX_AGE,
    )
    assert verdict.evidence.rule == Rule.AUTO_IF_ON_CALL
    assert verdict.evidence.group == PRIMARY


# -- who to ask -----------------------------------------------------------------------------------

WHO_TO_ASK: list[tuple[str, str, Callable[[], Roster], list[str]]] = [
    (
        "on-call-approver-and-named",
        "alice@example.com",
        approvers_roster,
        ["bob@example.com", "lead@example.com"],
    ),
    ("requester-on-call-approver", "bob@example.com", approvers_roster, ["lead@example.com"]),
    (
        "requester-on-call-approver-other-case",
        "BOB@example.com",
        approvers_roster,
        ["lead@example.com"],
    ),
    ("requester-named-approver", "lead@example.com", approvers_roster, ["bob@example.com"]),
    (
        "approver-shift-ended-exactly-now",
        "alice@example.com",
        lambda: approvers_roster(bob=(utc(24, 6), NOW)),
        ["lead@example.com"],
    ),
    (
        "approver-roster-stale",
        "alice@example.com",
        lambda: approvers_roster(taken_at=utc(24, 12)),
        ["lead@example.com"],
    ),
    (
        "two-on-call-approvers",
        "alice@example.com",
        lambda: pagerduty(
            secondary=(
                shift("bob@example.com", None, None),
                shift("dave@example.com", utc(24, 12), utc(24, 15)),
            )
        ),
        ["bob@example.com", "dave@example.com", "lead@example.com"],
    ),
]


@pytest.mark.parametrize(
    ("requester", "make_roster", "expected"),
    [w[1:] for w in WHO_TO_ASK],
    ids=[w[0] for w in WHO_TO_ASK],
)
def test_approvers_now_never_includes_the_requester(
    requester: str, make_roster: Callable[[], Roster], expected: list[str]
) -> None:
    found = approvers_now(POLICY.resources["prod-db"], requester, make_roster(), NOW, MAX_AGE)
    assert sorted(found) == expected
    assert len(found) == len(set(found))


def test_verdict_sentence_for_a_refusal_without_a_group() -> None:
    assert Verdict(False, Reason.NOT_ON_CALL).sentence() == (
        "You are not on call for the required groups."
    )
