"""The roster file (`ONCALL_ACCESS_ROSTER_FILE`): the format in the README and DESIGN, errors that
name the file and line to fix, and a broken file never replacing the last good roster."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from textwrap import dedent

import pytest

from adapters.rosterfile.provider import FileRosterProvider, parse_roster
from core.errors import RosterError
from core.groups import GroupRef
from core.identity import Actor
from core.roster import Roster
from tests.builders import make_bot
from tests.conftest import FakeClock

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PRIMARY = GroupRef.parse("file:schedule/Primary SRE")
PLATFORM = GroupRef.parse("file:team/Platform")

DESIGN_EXAMPLE = """\
people:
  - {email: alice@example.com, name: Alice Ng}
groups:
  "schedule/Primary SRE":
    members: [alice@example.com, bob@example.com]
    on_call:
      - {email: alice@example.com, start: "2026-11-22T00:00:00Z", end: "2026-11-29T00:00:00Z"}
  "team/Platform":
    members: [alice@example.com, bob@example.com]
"""


def _problems(text: str, filename: str = "roster.yaml") -> list[str]:
    with pytest.raises(RosterError) as refused:
        parse_roster(dedent(text), filename, NOW)
    message = refused.value.message
    return re.split(
        rf"; (?={re.escape(filename)}:\d+: )", message.removeprefix("The roster file has errors: ")
    )


def test_the_documented_example_is_read_as_written() -> None:
    snapshot = parse_roster(DESIGN_EXAMPLE, "roster.yaml", NOW)
    roster = Roster.of([snapshot])

    assert snapshot.taken_at == NOW
    assert set(snapshot.groups) == {PRIMARY, PLATFORM}
    assert snapshot.counts == {"groups": 2, "people": 2, "shifts": 1}
    assert snapshot.people["alice@example.com"].name == "Alice Ng"
    assert snapshot.people["bob@example.com"].name == ""  # known as a member only
    shift = roster.on_call("alice@example.com", PRIMARY, NOW)
    assert shift is not None
    assert (shift.start, shift.end) == (
        datetime(2026, 11, 22, tzinfo=UTC),
        datetime(2026, 11, 29, tzinfo=UTC),
    )
    assert roster.on_call("bob@example.com", PRIMARY, NOW) is None
    assert roster.is_member("bob@example.com", PLATFORM)
    assert roster.on_call_now(PLATFORM, NOW) == []


def test_shift_boundaries_are_start_inclusive_end_exclusive() -> None:
    roster = Roster.of([parse_roster(DESIGN_EXAMPLE, "roster.yaml", NOW)])
    start, end = datetime(2026, 11, 22, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC)

    assert roster.on_call("alice@example.com", PRIMARY, start) is not None
    assert roster.on_call("alice@example.com", PRIMARY, start - timedelta(seconds=1)) is None
    assert roster.on_call("alice@example.com", PRIMARY, end - timedelta(seconds=1)) is not None
    assert roster.on_call("alice@example.com", PRIMARY, end) is None


def test_shifts_may_be_open_ended_on_either_side() -> None:
    snapshot = parse_roster(
        dedent(
            """\
            groups:
              "schedule/Primary SRE":
                on_call:
                  - {email: alice@example.com, start: "2026-11-22T00:00:00Z"}
                  - {email: bob@example.com, end: "2026-11-24T00:00:00Z"}
                  - {email: carol@example.com}
            """
        ),
        "roster.yaml",
        NOW,
    )
    roster = Roster.of([snapshot])
    far_past, far_future = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)

    assert roster.on_call("alice@example.com", PRIMARY, far_future) is not None
    assert roster.on_call("alice@example.com", PRIMARY, far_past) is None
    assert roster.on_call("bob@example.com", PRIMARY, far_past) is not None
    assert roster.on_call("bob@example.com", PRIMARY, far_future) is None
    assert roster.on_call("carol@example.com", PRIMARY, far_past) is not None
    assert roster.on_call("carol@example.com", PRIMARY, far_future) is not None
    assert [s.email for s in roster.on_call_now(PRIMARY, NOW)] == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]


def test_times_may_carry_any_offset_or_none_and_mean_the_same_instant() -> None:
    snapshot = parse_roster(
        dedent(
            """\
            groups:
              "schedule/Primary SRE":
                on_call:
                  - {email: alice@example.com, start: "2026-11-23T13:00:00+01:00", end: 2026-11-23T14:00:00Z}
                  - {email: bob@example.com, start: "2026-11-23T12:00:00", end: 2026-11-24}
            """
        ),
        "roster.yaml",
        NOW,
    )
    alice, bob = snapshot.groups[PRIMARY].shifts

    assert alice.start == NOW and alice.end == NOW + timedelta(hours=2)
    assert bob.start == NOW and bob.end == datetime(2026, 11, 24, tzinfo=UTC)  # naive means UTC


def test_emails_are_compared_without_regard_to_case() -> None:
    snapshot = parse_roster(
        dedent(
            """\
            people:
              - {email: Alice@Example.COM, name: Alice Ng}
            groups:
              "schedule/Primary SRE":
                members: [ALICE@example.com, Bob@Example.com]
                on_call:
                  - {email: Alice@EXAMPLE.com}
            """
        ),
        "roster.yaml",
        NOW,
    )
    roster = Roster.of([snapshot])

    assert set(snapshot.people) == {"alice@example.com", "bob@example.com"}
    assert roster.on_call("alice@example.com", PRIMARY, NOW) is not None
    assert roster.on_call("ALICE@example.com", PRIMARY, NOW) is not None
    assert roster.is_member("bob@EXAMPLE.com", PRIMARY)
    assert roster.person("aLiCe@example.com") is not None
    assert roster.person("aLiCe@example.com").name == "Alice Ng"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        pytest.param(
            """\
            groups:
              "schedule/Primary SRE":
                members: [alice@example.com, bob-at-example.com]
            """,
            3,
            "`bob-at-example.com` is not an email address",
            id="bad-member-email",
        ),
        pytest.param(
            """\
            groups:
              "schedule/Primary SRE":
                on_call:
                  - {email: alice@example.com}
                  - {email: alice, start: "2026-11-22T00:00:00Z"}
            """,
            5,
            "each on_call entry needs an `email`",
            id="bad-on-call-email",
        ),
        pytest.param(
            """\
            people:
              - {email: alice@example.com}
              - {name: Bob}
            """,
            3,
            "each person needs an `email`",
            id="person-without-email",
        ),
        pytest.param(
            """\
            groups:
              "schedule/Primary SRE":
                on_call:
                  - {email: alice@example.com, start: "next monday"}
            """,
            4,
            "`next monday` is not a time; use ISO 8601 like 2026-11-22T00:00:00Z",
            id="bad-time",
        ),
        pytest.param(
            """\
            groups:
              "schedule/Primary SRE":
                on_call:
                  - {email: alice@example.com, start: "2026-11-22T00:00:00Z", end: "2026-11-22T00:00:00Z"}
                  - {email: bob@example.com, start: "2026-11-22T00:00:00Z", end: "2026-11-21T00:00:00Z"}
            """,
            4,
            "`end` must be after `start`",
            id="end-not-after-start",
        ),
        pytest.param(
            """\
            people: []
            group:
              "schedule/Primary SRE": {}
            """,
            2,
            "unknown key `group` (expected people, groups)",
            id="unknown-top-level-key",
        ),
        pytest.param(
            """\
            groups:
              "schedule/Primary SRE": {}
              "rota/Secondary SRE": {}
            """,
            3,
            "`rota` is not a group kind (one of schedule, team, escalation_policy, service)",
            id="bad-group-kind",
        ),
        pytest.param(
            """\
            groups:
              "Primary SRE": {}
            """,
            2,
            "group `Primary SRE`",
            id="group-key-without-kind",
        ),
        pytest.param(
            """\
            groups:
              - schedule/Primary SRE
            """,
            1,
            "`groups` maps `KIND/NAME` to members and on_call",
            id="groups-not-a-mapping",
        ),
    ],
)
def test_a_problem_names_the_file_and_line(text: str, line: int, message: str) -> None:
    problems = _problems(text, "rota/roster.yaml")

    assert problems[0].startswith(f"rota/roster.yaml:{line}: "), problems
    assert message in problems[0], problems


def test_every_problem_is_reported_at_once() -> None:
    problems = _problems(
        """\
        people:
          - {email: nope}
        groups:
          "schedule/Primary SRE":
            members: [also-nope]
            on_call:
              - {email: alice@example.com, start: soon}
          "rota/X": {}
        extra: 1
        """
    )

    assert [p.split(":")[1] for p in problems] == ["9", "2", "5", "7", "8"], problems


def test_broken_yaml_names_the_line() -> None:
    with pytest.raises(RosterError) as refused:
        parse_roster('groups:\n  "schedule/A":\n\tmembers: []\n', "roster.yaml", NOW)

    assert refused.value.message.startswith("roster.yaml:3: "), refused.value.message


def test_a_file_that_is_not_a_mapping_is_refused() -> None:
    for text in ("", "- alice@example.com\n", "just words\n"):
        with pytest.raises(RosterError, match=r"^roster\.yaml:1: a roster file is a mapping"):
            parse_roster(text, "roster.yaml", NOW)


async def test_a_missing_file_fails_the_fetch_with_a_sentence(tmp_path: Path) -> None:
    provider = FileRosterProvider(tmp_path / "gone.yaml", lambda: NOW)

    with pytest.raises(RosterError) as refused:
        await provider.fetch()

    assert refused.value.message == (
        f"Cannot read the roster file {tmp_path / 'gone.yaml'}: No such file or directory."
    )


def test_members_written_as_a_single_email_is_one_clear_problem() -> None:
    problems = _problems(
        """\
        groups:
          "schedule/Primary SRE":
            members: alice@example.com
        """
    )

    assert len(problems) == 1, problems
    assert problems[0].startswith("roster.yaml:3: ") and "list" in problems[0]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param(
            """\
            groups:
              "schedule/Primary SRE":
                oncall:
                  - {email: alice@example.com}
            """,
            3,
            id="group-key-typo",
        ),
        pytest.param(
            """\
            groups:
              "schedule/Primary SRE":
                on_call:
                  - {email: alice@example.com, start: "2026-11-22T00:00:00Z", ends: "2026-11-23T00:00:00Z"}
            """,
            4,
            id="shift-key-typo",
        ),
    ],
)
def test_a_misspelt_key_is_a_problem_not_silently_ignored(text: str, line: int) -> None:
    problems = _problems(text)

    assert problems[0].startswith(f"roster.yaml:{line}: "), problems
    assert "unknown key" in problems[0]


def test_the_same_group_written_twice_is_a_problem() -> None:
    problems = _problems(
        """\
        groups:
          "schedule/Primary SRE": {members: [alice@example.com]}
          "Schedule/Primary SRE": {members: [bob@example.com]}
        """
    )

    assert problems[0].startswith("roster.yaml:3: "), problems


def test_a_group_key_without_kind_asks_for_kind_slash_name() -> None:
    problems = _problems(
        """\
        groups:
          "Primary SRE": {}
        """
    )

    assert "KIND/NAME" in problems[0] and "PROVIDER" not in problems[0], problems
    assert "file:" not in problems[0], problems


# -- through the syncer ---------------------------------------------------------------------------


async def test_a_broken_file_fails_the_sync_and_the_last_good_roster_stays(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    notices: list[str] = []
    bot = await make_bot(tmp_path, sqlite_url, clock, lines=notices)
    try:
        roster_path = tmp_path / "roster.yaml"
        roster_path.write_text(
            roster_path.read_text().replace("members: [alice@example.com]", "members: [alice@]")
        )
        clock.advance(timedelta(minutes=10))

        outcomes = [await bot.syncer.sync(bot.providers[0]) for _ in range(3)]

        assert [o.ok for o in outcomes] == [False, False, False]
        assert outcomes[0].error == (
            f"The roster file has errors: {roster_path}:3: `alice@` is not an email address"
        )
        assert (
            outcomes[0].summary().startswith("roster file: sync failed: The roster file has errors")
        )
        (health,) = await bot.rosters.health()
        assert health.consecutive_failures == 3
        assert health.last_success == clock.now() - timedelta(minutes=10)
        assert sum("roster file roster sync failed 3 times in a row" in n for n in notices) == 1
        # the last good roster is still the one decisions use
        versions = await bot.rosters.versions()
        assert list(versions.values()) == [clock.now() - timedelta(minutes=10)]
        reply = await bot.dispatcher.handle(Actor("alice@example.com"), "request grafana-admin 30m")
        assert reply.ok, reply.text
        assert reply.text.startswith("Approved at once (you are on call)")
        # fixing the file lets the next sync through
        roster_path.write_text(roster_path.read_text().replace("[alice@]", "[alice@example.com]"))
        fixed = await bot.syncer.sync(bot.providers[0])
        assert fixed.ok, fixed.error
        assert (await bot.rosters.versions())[bot.providers[0].provider] == clock.now()
    finally:
        await bot.close()


def test_people_written_as_a_single_email_is_one_clear_problem() -> None:
    problems = _problems("people: alice@example.com\n")

    assert len(problems) == 1, problems
    assert problems[0].startswith("roster.yaml:1: ") and "list" in problems[0]
