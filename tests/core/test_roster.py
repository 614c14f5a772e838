"""Roster snapshots: stored and read back unchanged, and asked who is on call or a member."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from core.groups import GroupRef, Provider
from core.identity import Person
from core.roster import Roster, RosterSnapshot, Shift
from tests.core.builders import PLATFORM, PRIMARY, SECONDARY, group, roster, shift, snapshot, utc

NOW = utc(24, 14)


def pagerduty_snapshot() -> RosterSnapshot:
    return snapshot(
        utc(24, 13, 35),
        group(
            PRIMARY,
            members=["alice@example.com", "bob@example.com"],
            shifts=[
                shift("alice@example.com", utc(24, 8), utc(24, 16), level=1),
                shift("bob@example.com", utc(24, 16), None, level=2),
                shift("carol@example.com", None, utc(24, 9, 30)),
            ],
        ),
        group(SECONDARY, shifts=[shift("dave@example.com", utc(24, 0), utc(25, 0))]),
        group(GroupRef.parse("pagerduty:escalation_policy/Empty")),
        people=[Person("alice@example.com", "Alice Ng"), Person("bob@example.com")],
        warnings=("user U123 has no email",),
    )


def test_snapshot_survives_a_round_trip_through_json() -> None:
    original = pagerduty_snapshot()
    stored = json.dumps(original.to_dict())
    assert RosterSnapshot.from_dict(json.loads(stored)) == original


def test_snapshot_dict_writes_times_in_utc_with_z() -> None:
    data = pagerduty_snapshot().to_dict()
    assert data["taken_at"] == "2026-11-24T13:35:00Z"
    (primary,) = [g for g in data["groups"] if g["ref"] == str(PRIMARY)]
    assert primary["shifts"][0] == {
        "email": "alice@example.com",
        "start": "2026-11-24T08:00:00Z",
        "end": "2026-11-24T16:00:00Z",
        "level": 1,
    }
    assert primary["shifts"][1]["end"] is None
    assert primary["members"] == ["alice@example.com", "bob@example.com"]


def test_snapshot_from_dict_reads_times_without_zone_as_utc() -> None:
    data = {
        "provider": "file",
        "taken_at": "2026-11-24T13:00:00",
        "people": [{"email": "Alice@Example.com"}],
        "groups": [
            {
                "ref": "file:schedule/Rota",
                "shifts": [{"email": "alice@example.com", "start": "2026-11-24T08:00:00"}],
            }
        ],
    }
    snap = RosterSnapshot.from_dict(data)
    assert snap.taken_at == utc(24, 13)
    rota = GroupRef.parse("file:schedule/Rota")
    assert snap.shifts_of("alice@example.com", rota) == [Shift("alice@example.com", utc(24, 8))]
    assert Roster.of([snap]).person("ALICE@example.com") == Person("alice@example.com")


COVERING = [
    (
        "latest-end-wins",
        [shift("a@x.io", utc(24, 8), utc(24, 16)), shift("a@x.io", utc(24, 12), utc(24, 20))],
        utc(24, 20),
    ),
    (
        "open-end-is-latest",
        [shift("a@x.io", utc(24, 8), utc(24, 22)), shift("a@x.io", utc(24, 12), None)],
        None,
    ),
    (
        "ended-shift-ignored",
        [shift("a@x.io", utc(24, 6), NOW), shift("a@x.io", utc(24, 13), utc(24, 15))],
        utc(24, 15),
    ),
    (
        "future-shift-ignored",
        [shift("a@x.io", utc(24, 20), None), shift("a@x.io", utc(24, 13), utc(24, 15))],
        utc(24, 15),
    ),
]


@pytest.mark.parametrize(("shifts", "end"), [c[1:] for c in COVERING], ids=[c[0] for c in COVERING])
def test_on_call_gives_the_covering_shift_with_the_latest_end(
    shifts: list[Shift], end: datetime | None
) -> None:
    found = roster(snapshot(NOW, group(PRIMARY, shifts=shifts))).on_call("a@x.io", PRIMARY, NOW)
    assert found is not None
    assert found.end == end


@pytest.mark.parametrize(
    ("email", "group_ref", "expected"),
    [
        ("alice@example.com", PRIMARY, True),
        ("ALICE@example.com", PRIMARY, True),
        ("carol@example.com", PRIMARY, True),  # not listed as a member, but has a shift there
        ("dave@example.com", PRIMARY, False),
        ("dave@example.com", SECONDARY, True),
        ("alice@example.com", SECONDARY, False),
        ("alice@example.com", GroupRef.parse("pagerduty:team/Unknown"), False),
        ("alice@example.com", PLATFORM, False),  # another provider, not synced
    ],
    ids=[
        "listed-member",
        "member-other-case",
        "member-through-a-shift",
        "not-in-group",
        "member-of-other-group",
        "not-in-other-group",
        "group-not-in-snapshot",
        "provider-not-synced",
    ],
)
def test_is_member(email: str, group_ref: GroupRef, expected: bool) -> None:
    assert Roster.of([pagerduty_snapshot()]).is_member(email, group_ref) is expected


def test_groups_of_indexes_membership_and_shifts() -> None:
    snap = pagerduty_snapshot()
    assert snap.groups_of("Alice@Example.com") == {PRIMARY}
    assert snap.groups_of("carol@example.com") == {PRIMARY}
    assert snap.groups_of("dave@example.com") == {SECONDARY}
    assert snap.groups_of("nobody@example.com") == set()


def test_snapshot_counts() -> None:
    assert pagerduty_snapshot().counts == {"groups": 3, "people": 2, "shifts": 4}


def test_on_call_now_lists_only_covering_shifts() -> None:
    found = Roster.of([pagerduty_snapshot()]).on_call_now(PRIMARY, NOW)
    assert [s.email for s in found] == ["alice@example.com"]
    later = Roster.of([pagerduty_snapshot()]).on_call_now(PRIMARY, utc(24, 16))
    assert [s.email for s in later] == ["bob@example.com"]


def test_roster_reads_each_group_from_its_providers_snapshot() -> None:
    opsgenie = snapshot(
        utc(24, 13), group(PLATFORM, members=["erin@example.com"]), provider=Provider.OPSGENIE
    )
    combined = Roster.of([pagerduty_snapshot(), opsgenie])
    assert combined.taken_at(PLATFORM) == utc(24, 13)
    assert combined.taken_at(PRIMARY) == utc(24, 13, 35)
    assert combined.is_member("erin@example.com", PLATFORM)
    assert combined.all_groups() == sorted([*pagerduty_snapshot().groups, PLATFORM])


@pytest.mark.parametrize(
    ("age", "fresh"),
    [(timedelta(minutes=45), True), (timedelta(minutes=45, seconds=1), False)],
    ids=["exactly-max-age", "one-second-older"],
)
def test_snapshot_older_than_max_age_is_not_fresh(age: timedelta, fresh: bool) -> None:
    snap = snapshot(NOW - age, group(PRIMARY))
    assert Roster.of([snap]).is_fresh(PRIMARY, NOW, timedelta(minutes=45)) is fresh


def test_group_of_a_provider_never_synced_is_not_fresh() -> None:
    assert not Roster().is_fresh(PRIMARY, NOW, timedelta(days=365))


def test_member_listed_in_other_case_is_a_member() -> None:
    snap = snapshot(NOW, group(PLATFORM, members=["Alice@Example.COM"]), provider=Provider.OPSGENIE)
    assert snap.is_member("alice@example.com", PLATFORM)
    assert snap.groups_of("alice@example.com") == {PLATFORM}
